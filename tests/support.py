"""Test helpers: the route table, in-process invocation, and tokens."""

from __future__ import annotations

from typing import Any

from local.invoke import Reply, handler_module, invoke, routes
from local.stack import TABLE_NAMES
from local.template import Route
from local.tokens import issue_token
from saas_core.access import Access

__all__ = ["ADMIN_API_KEY", "JWT_SECRET", "TABLE_NAMES", "Reply", "access_of", "admin_token", "invoke", "routes",
           "token"]

JWT_SECRET = "test-jwt-secret-of-a-decent-length-000"
ADMIN_API_KEY = "test-admin-key"


def access_of(route: Route) -> Access:
    """The access level the route's function declares (its ApiApp endpoint)."""
    spec = handler_module(route).app.spec
    assert spec is not None, f"{route.function_id} declares no endpoint"
    assert (spec.method, spec.path) == (route.method, route.path), (
        f"{route.function_id}: template says {route.method} {route.path}, code says {spec.method} {spec.path}")
    access: Access = spec.access
    return access


def token(subject: str, *, email: str | None = None, admin: bool = False, **claims: Any) -> str:
    return issue_token(JWT_SECRET, subject, email=email, admin=admin, **claims)


def admin_token() -> str:
    return token("admin-user", email="admin@example.com", admin=True)
