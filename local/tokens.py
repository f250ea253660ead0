"""HS256 tokens for the local stack and the tests, signed like an IdP would."""

from __future__ import annotations

import time
from typing import Any

import jwt

LOCAL_ISSUER = "saas-billing-local"
LOCAL_AUDIENCE = "saas-billing-api"
DEFAULT_TTL_SECONDS = 12 * 3600


def issue_token(secret: str, subject: str, *, email: str | None = None, admin: bool = False,
                ttl_seconds: int = DEFAULT_TTL_SECONDS, issuer: str = LOCAL_ISSUER,
                audience: str = LOCAL_AUDIENCE, **claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {"sub": subject, "iss": issuer, "aud": audience, "iat": now, "exp": now + ttl_seconds}
    if email:
        payload["email"] = email
    if admin:
        payload["role"] = "admin"
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm="HS256")
