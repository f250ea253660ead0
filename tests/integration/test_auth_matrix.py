"""Every route of template.yaml against every way to be refused (API.md, Who may call).

Generated from the route table and each function's declared access level, so
a new route is covered the moment it is added to template.yaml.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from local.default_catalog import SEEDER
from local.sample_events import SAMPLE_TENANT_ID, concrete_path, sample_for
from local.template import Route
from local.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER
from saas_core.access import Access
from saas_core.models.tenants import TenantIn
from saas_core.services import tenants_admin
from tests.support import (
    ADMIN_API_KEY,
    JWT_SECRET,
    Reply,
    access_of,
    admin_token,
    invoke,
    prepare_sample,
    routes,
    token,
)

PROTECTED = [route for route in routes() if access_of(route) not in (Access.PUBLIC, Access.STRIPE)]
TENANT_ROUTES = [route for route in PROTECTED if access_of(route) in (Access.MEMBER, Access.OWNER)]
ADMIN_ROUTES = [route for route in PROTECTED if access_of(route) in (Access.ADMIN, Access.SERVICE)]


def route_id(route: Route) -> str:
    return f"{route.method} {route.path}"


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "user-1", "iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "iat": now, "exp": now + 600,
            "role": "admin", **overrides}


def _wrong_key_token() -> str:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(_claims(), other, algorithm="RS256", headers={"kid": "k1"})


# Each returns the headers and query of one refused credential. Admin claims
# are included on purpose: the token must be refused before its claims count.
BAD_CREDENTIALS: dict[str, Callable[[], tuple[dict[str, str], dict[str, str] | None]]] = {
    "no credential": lambda: ({}, None),
    "malformed token": lambda: ({"Authorization": "Bearer not-a-jwt"}, None),
    "not a bearer": lambda: ({"Authorization": f"Basic {ADMIN_API_KEY}"}, None),
    "expired": lambda: ({"Authorization": "Bearer " + jwt.encode(
        _claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), JWT_SECRET, algorithm="HS256")}, None),
    "alg none": lambda: ({"Authorization": "Bearer " + jwt.encode(_claims(), "", algorithm="none")}, None),
    "wrong key (HS256)": lambda: ({"Authorization": "Bearer " + jwt.encode(
        _claims(), "another-secret-of-a-decent-length-1234", algorithm="HS256")}, None),
    "wrong key (RS256, no JWKS)": lambda: ({"Authorization": f"Bearer {_wrong_key_token()}"}, None),
    "wrong issuer": lambda: ({"Authorization": "Bearer " + jwt.encode(
        _claims(iss="https://evil.example"), JWT_SECRET, algorithm="HS256")}, None),
    "wrong audience": lambda: ({"Authorization": "Bearer " + jwt.encode(
        _claims(aud="another-api"), JWT_SECRET, algorithm="HS256")}, None),
    "wrong api key": lambda: ({"X-Api-Key": "not-the-key"}, None),
    "admin key in query": lambda: ({}, {"x-api-key": ADMIN_API_KEY}),
}


def _send(route: Route, path_parameters: dict[str, str], **kwargs: Any) -> Reply:
    sample = sample_for(route)
    params = {**sample.path_parameters, **path_parameters}
    return invoke(route.method, concrete_path(route, params), body=sample.body,
                  query={**(sample.query or {}), **(kwargs.pop("query", None) or {})}, **kwargs)


@pytest.mark.parametrize("credential", list(BAD_CREDENTIALS))
@pytest.mark.parametrize("route", PROTECTED, ids=route_id)
def test_bad_credentials_get_401(route: Route, credential: str, aws: None) -> None:
    headers, query = BAD_CREDENTIALS[credential]()
    reply = _send(route, {}, headers=headers, query=query)
    assert reply.status == 401, reply.body
    assert reply.body["success"] is False
    assert reply.body["error"] == "unauthorized"
    assert reply.body["trace_id"]


def test_the_query_string_refusal_says_why(aws: None) -> None:
    reply = _send(ADMIN_ROUTES[0], {}, query={"x-api-key": ADMIN_API_KEY})
    assert "X-Api-Key header" in reply.body["message"]


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=route_id)
def test_a_non_admin_token_on_an_admin_route_gets_403(route: Route, aws: None) -> None:
    reply = _send(route, {}, token=token("user-1", email="someone@example.com", role="member"))
    assert reply.status == 403, reply.body
    assert reply.body["error"] == "forbidden"


@pytest.fixture
def two_tenants(catalog: dict[str, Any]) -> dict[str, str]:
    """Two tenants with their owners; the auth matrix uses the first."""
    ids = {}
    for name in ("first", "second"):
        created = tenants_admin.create_tenant(TenantIn.model_validate({
            "name": f"{name} corp", "email": f"owner@{name}.example", "type": "organization",
            "plan_id": "pln_pro", "billing_cycle": "monthly", "owner_user_id": f"user-{name}",
        }), SEEDER, None)
        ids[name] = created.id
    return ids


@pytest.mark.parametrize("route", TENANT_ROUTES, ids=route_id)
def test_a_member_of_another_tenant_gets_403(route: Route, two_tenants: dict[str, str]) -> None:
    outsider = token("user-second", email="owner@second.example")
    reply = _send(route, {"tenant_id": two_tenants["first"]}, token=outsider)
    assert reply.status == 403, reply.body


@pytest.mark.parametrize("route", routes(), ids=route_id)
def test_the_right_credential_succeeds(route: Route, two_tenants: dict[str, str]) -> None:
    access = access_of(route)
    credentials: dict[str, Any] = {}
    if access in (Access.ADMIN, Access.SERVICE):
        credentials["token"] = admin_token()
    elif access in (Access.MEMBER, Access.OWNER):
        credentials["token"] = token("user-first")
    params = {"tenant_id": two_tenants["first"]} if SAMPLE_TENANT_ID in str(sample_for(route)) else {}
    prepare_sample(route, two_tenants["first"])
    if access is Access.STRIPE:
        # Stripe's credential is its signature over the body, with the account's signing secret.
        from tests.integration.stripe_events_support import deliver, make_queue

        make_queue()
        reply = deliver(sample_for(route).body or {})
    else:
        reply = _send(route, params, **credentials)
    assert 200 <= reply.status < 300, reply.body
    assert reply.body["success"] is True


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=route_id)
def test_the_admin_key_header_succeeds_too(route: Route, two_tenants: dict[str, str]) -> None:
    params = {"tenant_id": two_tenants["first"]} if SAMPLE_TENANT_ID in str(sample_for(route)) else {}
    prepare_sample(route, two_tenants["first"])
    reply = _send(route, params, api_key=ADMIN_API_KEY)
    assert 200 <= reply.status < 300, reply.body


def test_every_route_declares_its_access_and_has_a_sample() -> None:
    for route in routes():
        assert access_of(route) in Access
        assert sample_for(route) is not None
