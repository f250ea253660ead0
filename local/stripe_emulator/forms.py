"""Stripe's form encoding, decoded into nested dicts.

`metadata[plan]=x` becomes {"metadata": {"plan": "x"}} and `items[0][price]=p`
becomes {"items": {"0": {"price": "p"}}}. Arrays stay dicts keyed by index
here: only the endpoint's schema knows whether `metadata[0]` is an array
entry or a metadata key named "0" (params.py converts). `expand[]=a` (curl
style) is numbered in order, like the SDK's `expand[0]=a`.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from local.stripe_emulator.errors import invalid_parameter

_BRACKETED = re.compile(r"\[([^\]]*)\]")


def decode(text: str) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(text, keep_blank_values=True):
        _insert(decoded, key, _key_path(key), value)
    return decoded


def _key_path(key: str) -> list[str]:
    head, bracket, rest = key.partition("[")
    return [head, *_BRACKETED.findall(bracket + rest)] if bracket else [head]


def _insert(target: dict[str, Any], key: str, path: list[str], value: str) -> None:
    node = target
    for depth, part in enumerate(path):
        name = part or str(len(node))
        if depth == len(path) - 1:
            node[name] = value
            return
        child = node.setdefault(name, {})
        if not isinstance(child, dict):
            # `a=1&a[b]=2`: one name used both as a value and as an object.
            raise invalid_parameter(key, f"Invalid parameter: {key} was given both a value and nested keys.")
        node = child
