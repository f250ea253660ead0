"""Opaque, tamper-evident list cursors (API.md: a forged cursor gets 422).

A cursor is base64url(JSON position) + "." + HMAC-SHA256 over it and the
query it belongs to, so it cannot be edited, nor replayed against another
filter to read outside that query.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from typing import Any

from saas_core import secrets
from saas_core.errors import InvalidInput
from saas_core.settings import get_settings


@functools.cache
def _signing_key() -> bytes:
    settings = get_settings()
    # Derived, not stored: rotating the admin key just invalidates open cursors.
    root = settings.cursor_signing_key or secrets.admin_api_key(settings) or settings.stage
    return hmac.new(root.encode(), b"list-cursor-v1", hashlib.sha256).digest()


def _mac(payload: bytes, query: str) -> str:
    digest = hmac.new(_signing_key(), payload + b"|" + query.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def encode(position: dict[str, Any], query: str) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode())
    return f"{payload.decode()}.{_mac(payload, query)}"


def _invalid() -> InvalidInput:
    return InvalidInput("Invalid cursor", {"cursor": ["is not a cursor issued for this query"]})


def decode(cursor: str, query: str) -> dict[str, Any]:
    """The position a cursor stands for, or 422 when it was not issued for this query."""
    if not cursor.isascii():  # ours are base64url and base64: anything else is forged
        raise _invalid()
    payload, _, mac = cursor.partition(".")
    if not payload or not mac or not hmac.compare_digest(mac.encode(), _mac(payload.encode(), query).encode()):
        raise _invalid()
    position = json.loads(base64.urlsafe_b64decode(payload.encode()))
    if not isinstance(position, dict):
        raise _invalid()
    return position
