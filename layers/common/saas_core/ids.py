"""Identifiers. Derived from the caller's Idempotency-Key when there is one,
so a retried create reaches the same Stripe idempotency keys and the same
local record instead of making a second one."""

from __future__ import annotations

import hashlib
import secrets

from saas_core.access import Principal


def new_id(prefix: str, *, principal: Principal, idempotency_key: str | None, length: int = 20) -> str:
    if idempotency_key:
        seed = f"{prefix}|{principal.subject}|{idempotency_key}".encode()
        return f"{prefix}_{hashlib.sha256(seed).hexdigest()[:length]}"
    return f"{prefix}_{secrets.token_hex(length // 2)}"
