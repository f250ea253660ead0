"""API.md's rules, for every route of the route table (a new route is covered the
moment template.yaml has it): ids in the path that name nothing, bodies that are
not JSON, security headers, idempotency, cursors, and what input is refused."""

from __future__ import annotations

from typing import Any

import pytest

from local.sample_events import SAMPLE_TENANT_ID, concrete_path, sample_for
from local.template import Route
from saas_core.access import Access
from saas_core.http import thing_named_by
from tests.support import ADMIN_API_KEY, Reply, access_of, invoke, routes, token

BODY_ROUTES = [route for route in routes() if route.method in ("POST", "PUT", "PATCH")]
# Stripe's events are verified over their raw bytes before anything is parsed: any bad body is a 400.
JSON_BODY_ROUTES = [route for route in BODY_ROUTES if access_of(route) is not Access.STRIPE]
STRIPE_ROUTES = [route for route in BODY_ROUTES if access_of(route) is Access.STRIPE]
ROUTES_WITH_IDS = [route for route in routes() if "{" in route.path]


def route_id(route: Route) -> str:
    return f"{route.method} {route.path}"


def send(route: Route, *, path_parameters: dict[str, str] | None = None, body: Any = None,
         **kwargs: Any) -> Reply:
    sample = sample_for(route)
    params = {**sample.path_parameters, **(path_parameters or {})}
    api_key = None if access_of(route) is Access.PUBLIC else ADMIN_API_KEY
    return invoke(route.method, concrete_path(route, params), body=sample.body if body is None else body,
                  query=sample.query, api_key=api_key, **kwargs)


@pytest.fixture
def tenant_id(catalog: dict[str, Any]) -> str:
    reply = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Acme", "email": "owner@acme.example", "type": "organization", "plan_id": "pln_pro",
        "billing_cycle": "monthly", "owner_user_id": "user-acme"})
    return str(reply.data["id"])


# ------------------------------------------------------------ ids in the path

@pytest.mark.parametrize("made_up", ["does-not-exist", "tnt_00000000000000000000", "pln_nothing_here", "..%2Fetc",
                                     "%F0%9F%90%8D", "x" * 300])
@pytest.mark.parametrize("route", ROUTES_WITH_IDS, ids=route_id)
def test_an_id_in_the_path_that_names_nothing_is_404(catalog: dict[str, Any], route: Route, made_up: str) -> None:
    names = [part.strip("{}") for part in route.path.split("/") if part.startswith("{")]
    reply = send(route, path_parameters=dict.fromkeys(names, made_up))
    assert reply.status == 404, reply.body
    assert reply.body["message"] == f"{thing_named_by(names[0])} not found"
    assert "errors" not in reply.body


# ------------------------------------------------------------ bodies

@pytest.mark.parametrize("route", JSON_BODY_ROUTES, ids=route_id)
def test_a_body_that_is_not_json_is_a_422_naming_the_body(catalog: dict[str, Any], route: Route) -> None:
    reply = send(route, body='{"name": "Acme", oops}')
    assert reply.status == 422
    assert list(reply.body["errors"]) == ["body"]
    assert "not valid JSON" in reply.body["errors"]["body"][0]


@pytest.mark.parametrize("route", JSON_BODY_ROUTES, ids=route_id)
def test_a_body_in_another_format_is_a_415(catalog: dict[str, Any], route: Route) -> None:
    reply = send(route, body="name=Acme", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 415
    assert reply.body["success"] is False


@pytest.mark.parametrize("route", STRIPE_ROUTES, ids=route_id)
@pytest.mark.parametrize(("body", "content_type"), [('{"id": "evt_1", oops}', "application/json"),
                                                    ("name=Acme", "application/x-www-form-urlencoded")])
def test_a_stripe_route_answers_any_bad_body_with_400(catalog: dict[str, Any], route: Route, body: str,
                                                     content_type: str) -> None:
    for signature in ({}, {"Stripe-Signature": "t=1,v1=forged"}):
        reply = send(route, body=body, headers={"Content-Type": content_type, **signature})
        assert reply.status == 400, reply.body
        assert reply.body["success"] is False


def test_a_price_with_too_many_decimals_is_refused_not_rounded(aws: None) -> None:
    body = ('{"name": "Odd", "type": "personal", "tier": "odd", "price_monthly": 19.999999999999999999,'
            ' "price_annual": 100}')
    reply = invoke("POST", "/v1/admin/plans", body=body, api_key=ADMIN_API_KEY)
    assert reply.status == 422
    assert "price_monthly" in reply.body["errors"]


@pytest.mark.parametrize(("field", "value"), [
    ("name", "Acme\x00Corp"), ("name", "Acme\x1b[31mCorp"), ("name", "Ac\u0085me"), ("owner_user_id", "user\x00"),
    ("email", "owner\x00@acme.example"),
])
def test_control_characters_are_refused(catalog: dict[str, Any], field: str, value: str) -> None:
    reply = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Acme", "email": "owner@acme.example", "type": "organization", "plan_id": "pln_pro",
        "billing_cycle": "monthly", field: value})
    assert reply.status == 422, reply.body
    assert field in reply.body["errors"]


@pytest.mark.parametrize("number", ["1" * 39, "1e40", "123456789012345678901234567890123456789", "1e5000",
                                    "1e1000000"])
def test_numbers_dynamodb_could_not_store_are_refused(catalog: dict[str, Any], number: str) -> None:
    body = '{"limits": {"members": {"max": ' + number + ', "period": "none"}}}'
    reply = invoke("PUT", "/v1/admin/plans/pln_pro", body=body, api_key=ADMIN_API_KEY,
                   headers={"Idempotency-Key": f"limits-{number[:10]}"})
    assert reply.status == 422, reply.body


def test_an_overlong_tenant_id_on_a_member_route_is_refused_without_asking_dynamodb(catalog: dict[str, Any]) -> None:
    member = token("user-1", email="owner@acme.example", email_verified=True)
    reply = invoke("GET", f"/v1/tenants/tnt_{'a' * 3000}/plan", token=member)
    assert reply.status == 403
    assert reply.body["success"] is False


def test_a_description_keeps_its_line_breaks(catalog: dict[str, Any]) -> None:
    reply = invoke("PUT", "/v1/admin/plans/pln_pro", body={"description": "Line one\nLine two\tend"},
                   api_key=ADMIN_API_KEY)
    assert reply.status == 200
    assert reply.data["description"] == "Line one\nLine two\tend"


# ------------------------------------------------------------ cursors

@pytest.mark.parametrize("cursor", ["ünïcode.cürsor", "abc.\u00ff", "\u2603", "eyJvZmZzZXQiOjJ9.AAAA"])
def test_a_forged_cursor_is_422_whatever_its_characters(catalog: dict[str, Any], cursor: str) -> None:
    reply = invoke("GET", "/v1/admin/plans", query={"cursor": cursor}, api_key=ADMIN_API_KEY)
    assert reply.status == 422
    assert "cursor" in reply.body["errors"]


# ------------------------------------------------------------ idempotency

def test_the_same_body_written_differently_replays_the_first_response(aws: None) -> None:
    first = ('{"name": "Startup", "type": "organization", "tier": "team", "price_monthly": 149.00, '
             '"price_annual": 1490}')
    again = '{"price_annual":1490.0,"price_monthly":149,"tier":"team","type":"organization","name":"Startup"}'
    headers = {"Idempotency-Key": "startup-plan"}
    created = invoke("POST", "/v1/admin/plans", body=first, headers=headers, api_key=ADMIN_API_KEY)
    replayed = invoke("POST", "/v1/admin/plans", body=again, headers=headers, api_key=ADMIN_API_KEY)
    assert created.status == replayed.status == 201
    assert replayed.data["id"] == created.data["id"]


def test_a_token_whose_subject_is_api_key_does_not_reach_what_the_admin_key_stored(aws: None) -> None:
    body = {"name": "Startup", "type": "organization", "tier": "team", "price_monthly": 149, "price_annual": 1490}
    headers = {"Idempotency-Key": "shared-key"}
    by_key = invoke("POST", "/v1/admin/plans", body=body, headers=headers, api_key=ADMIN_API_KEY)
    by_token = invoke("POST", "/v1/admin/plans", body=body, headers=headers, token=token("api-key", role="admin"))
    assert by_key.status == by_token.status == 201
    assert by_token.data["id"] != by_key.data["id"], "two callers, two plans: no replay across kinds of credential"


# ------------------------------------------------------------ headers

@pytest.mark.parametrize("route", routes(), ids=route_id)
def test_every_response_carries_the_security_headers(catalog: dict[str, Any], route: Route) -> None:
    reply = send(route, path_parameters={"tenant_id": SAMPLE_TENANT_ID})
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    if access_of(route) is not Access.PUBLIC:
        assert reply.headers["Cache-Control"] == "no-store"


def test_a_bad_bearer_token_next_to_the_admin_key_is_refused(catalog: dict[str, Any]) -> None:
    reply = invoke("GET", "/v1/admin/plans", api_key=ADMIN_API_KEY, headers={"Authorization": "Bearer forged"})
    assert reply.status == 401


def test_a_member_route_refuses_a_token_that_only_claims_the_owners_email(tenant_id: str) -> None:
    unverified = token("someone-else", email="owner@acme.example")
    assert invoke("GET", f"/v1/tenants/{tenant_id}/plan", token=unverified).status == 403
    as_string = token("someone-else", email="owner@acme.example", email_verified="false")
    assert invoke("GET", f"/v1/tenants/{tenant_id}/plan", token=as_string).status == 403
    verified = token("someone-else", email="owner@acme.example", email_verified="true")
    assert invoke("GET", f"/v1/tenants/{tenant_id}/plan", token=verified).status == 200
