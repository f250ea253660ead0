"""CORS for the admin console: only the origins the settings list, nothing else.

Actual responses carry `Access-Control-Allow-Origin` for an allowed origin;
preflight requests (OPTIONS) are answered by the CorsPreflightFunction with
`preflight()`. An origin not on the list gets no CORS header at all, so the
browser refuses to hand the response to its page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from saas_core.settings import get_settings

ALLOWED_METHODS = "GET,POST,PUT,PATCH,DELETE,OPTIONS"
ALLOWED_HEADERS = "Authorization,Content-Type,Idempotency-Key,X-Api-Key"
PREFLIGHT_MAX_AGE_SECONDS = 600


def origin_of(headers: Mapping[str, Any] | None) -> str | None:
    for name, value in (headers or {}).items():
        if name.lower() == "origin" and isinstance(value, str):
            return value
    return None


def is_allowed(origin: str | None) -> bool:
    return origin is not None and origin.rstrip("/") in get_settings().allowed_origins


def response_headers(origin: str | None) -> dict[str, str]:
    """Headers for an actual response; `Vary` so that caches keep one answer per origin."""
    if not is_allowed(origin) or origin is None:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def preflight_headers(origin: str | None) -> dict[str, str]:
    if not is_allowed(origin) or origin is None:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
        "Vary": "Origin",
    }
