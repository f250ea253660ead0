"""Test helpers: invoke a function the way API Gateway would, and make tokens."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from saas_core.access import Access

from local.apigw import LambdaContext, match_route, rest_event
from local.template import Route, api_routes, load_template
from local.tokens import issue_token

JWT_SECRET = "test-jwt-secret-of-a-decent-length-000"  # noqa: S105
ADMIN_API_KEY = "test-admin-key"
TABLE_NAMES = {"TenantsTable": "tenants", "PlansTable": "plans", "UsageTable": "usage",
               "IdempotencyTable": "idempotency"}


@cache
def routes() -> tuple[Route, ...]:
    return tuple(api_routes(load_template()))


def handler_module(route: Route) -> Any:
    return importlib.import_module(route.handler.rsplit(".", 1)[0])


def access_of(route: Route) -> Access:
    """The access level the route's function declares (its ApiApp endpoint)."""
    spec = handler_module(route).app.spec
    assert spec is not None, f"{route.function_id} declares no endpoint"
    assert (spec.method, spec.path) == (route.method, route.path), (
        f"{route.function_id}: template says {route.method} {route.path}, code says {spec.method} {spec.path}")
    access: Access = spec.access
    return access


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def data(self) -> Any:
        return self.body.get("data")


def invoke(method: str, path: str, *, body: Any = None, token: str | None = None, api_key: str | None = None,
           headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> Reply:
    """Route like API Gateway, build its REST proxy event, call the handler."""
    matched = match_route(list(routes()), method, path)
    assert matched is not None, f"no route for {method} {path}"
    route, path_parameters = matched
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    if api_key:
        all_headers["X-Api-Key"] = api_key
    raw_body = body if isinstance(body, str) or body is None else json.dumps(body)
    event = rest_event(method, path, resource=route.path, path_parameters=path_parameters, headers=all_headers,
                       query=query, body=raw_body)
    response = handler_module(route).handler(event, LambdaContext(function_name=route.function_id))
    return Reply(status=response["statusCode"], body=json.loads(response["body"] or "null") or {},
                 headers=dict(response.get("headers") or {}))


def token(subject: str, *, email: str | None = None, admin: bool = False, **claims: Any) -> str:
    return issue_token(JWT_SECRET, subject, email=email, admin=admin, **claims)


def admin_token() -> str:
    return token("admin-user", email="admin@example.com", admin=True)
