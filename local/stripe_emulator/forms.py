"""Stripe's form encoding: `metadata[plan]=x`, `items[0][price]=p`, `expand[]=y`."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

_KEY_PART = re.compile(r"\[([^\]]*)\]")


def _path(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    return [head, *_KEY_PART.findall("[" + rest)] if rest else [head]


def _insert(target: dict[str, Any], path: list[str], value: str) -> None:
    node = target
    for index, part in enumerate(path):
        # `expand[]=a&expand[]=b`: append, as the next numbered entry.
        name = part or str(len(node))
        if index == len(path) - 1:
            node[name] = value
        else:
            node = node.setdefault(name, {})


def _listify(value: Any) -> Any:
    """Dicts whose keys are all 0..n-1 were arrays in the form."""
    if isinstance(value, dict):
        converted = {key: _listify(item) for key, item in value.items()}
        if converted and all(key.isdigit() for key in converted):
            return [converted[key] for key in sorted(converted, key=int)]
        return converted
    return value


def decode(body: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(body, keep_blank_values=True):
        _insert(result, _path(key), value)
    decoded: dict[str, Any] = _listify(result)
    return decoded
