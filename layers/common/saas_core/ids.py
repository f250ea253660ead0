"""Identifiers. Derived from the request when it carries an Idempotency-Key
(`ApiApp.request_key()`: caller, key and body), so a retry of the same
request finds the record its first attempt made instead of making a second
one, while a retry with a corrected body is another request with another id."""

from __future__ import annotations

import hashlib
import secrets


def new_id(prefix: str, *, request_key: str | None, length: int = 20) -> str:
    if request_key:
        seed = f"{prefix}|{request_key}".encode()
        return f"{prefix}_{hashlib.sha256(seed).hexdigest()[:length]}"
    return f"{prefix}_{secrets.token_hex(length // 2)}"


def attempt_id() -> str:
    """A fresh id for one attempt at a multi-step change, part of its Stripe idempotency keys:
    Stripe replays a stored failure under a key, so a new attempt needs new keys."""
    return secrets.token_hex(8)
