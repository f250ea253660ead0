"""What every function's resolver guarantees before and after its handler runs:
no exception escapes the envelope, bodies are JSON or a clear 4xx, path ids that
name nothing are 404, and every response carries the security headers."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler.openapi.params import Path
from botocore.exceptions import ClientError
from pydantic import BaseModel

from local.apigw import LambdaContext, rest_event
from saas_core import auth, settings
from saas_core.access import Access, Principal, Role
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import PLAN_ID_PATTERN, PriceIn
from tests.support import token


class PriceBody(BaseModel):
    name: str
    price: PriceIn


def _price_app() -> ApiApp:
    app = ApiApp()

    @app.endpoint("POST", "/v1/prices", access=Access.PUBLIC, summary="Take a price")
    def take(body: PriceBody) -> Envelope[dict[str, str]]:
        return ok({"price": str(body.price), "type": type(body.price).__name__})

    return app


def _send(app: ApiApp, method: str, path: str, *, body: str | bytes | None = None,
          headers: dict[str, str] | None = None, resource: str | None = None,
          path_parameters: dict[str, str] | None = None) -> tuple[int, dict[str, Any], dict[str, list[str]]]:
    event = rest_event(method, path, resource=resource or path, path_parameters=path_parameters,
                       headers={"Content-Type": "application/json", **(headers or {})}, body=body)
    response = app.lambda_handler(event, LambdaContext())  # type: ignore[arg-type]
    parsed = json.loads(response["body"]) if response["body"] else {}
    return response["statusCode"], parsed, response.get("multiValueHeaders") or {}


# ------------------------------------------------------------ exceptions

def _member_app(membership: Any) -> ApiApp:
    app = ApiApp()
    app.membership = membership

    @app.endpoint("GET", "/v1/tenants/{tenant_id}/thing", access=Access.MEMBER, summary="A member's thing")
    def thing(tenant_id: str) -> Envelope[dict[str, str]]:
        return ok({"tenant_id": tenant_id})

    return app


def test_a_dynamodb_error_during_the_membership_check_is_the_envelopes_500() -> None:
    def lookup_fails(tenant_id: str, principal: Principal) -> Role | None:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "tenants-table"}},
                          "Query")

    status, body, _ = _send(_member_app(lookup_fails), "GET", "/v1/tenants/tnt_1/thing",
                            resource="/v1/tenants/{tenant_id}/thing", path_parameters={"tenant_id": "tnt_1"},
                            headers={"Authorization": f"Bearer {token('user-1')}"})
    assert status == 500
    assert body["success"] is False
    assert body["message"] == "Internal server error"
    assert "tenants-table" not in json.dumps(body)
    assert "Throughput" not in json.dumps(body)


def test_an_unexpected_error_while_authenticating_is_the_envelopes_500(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Principal:
        raise RuntimeError("ssm parameter /secret/admin-key unreadable")

    monkeypatch.setattr(auth, "authenticate", broken)
    status, body, _ = _send(_member_app(lambda *_: Role.OWNER), "GET", "/v1/tenants/tnt_1/thing",
                            resource="/v1/tenants/{tenant_id}/thing", path_parameters={"tenant_id": "tnt_1"},
                            headers={"X-Api-Key": "whatever"})
    assert status == 500
    assert "ssm" not in json.dumps(body)


# ------------------------------------------------------------ path ids

def test_a_malformed_id_in_the_path_names_nothing_so_it_is_404() -> None:
    app = ApiApp()

    @app.endpoint("GET", "/v1/plans/{plan_id}", access=Access.PUBLIC, summary="A plan")
    def get_plan(plan_id: Annotated[str, Path(pattern=PLAN_ID_PATTERN)]) -> Envelope[dict[str, str]]:
        return ok({"id": plan_id})

    status, body, _ = _send(app, "GET", "/v1/plans/does-not-exist", resource="/v1/plans/{plan_id}",
                            path_parameters={"plan_id": "does-not-exist"})
    assert status == 404
    assert body["message"] == "Plan not found"
    assert "errors" not in body


# ------------------------------------------------------------ bodies

@pytest.mark.parametrize(("raw", "says"), [
    ('{"name": "x", "price": }', "not valid JSON"),
    ("not json at all", "not valid JSON"),
    ('{"name": "x", "price": NaN}', "not valid JSON"),
    ('{"name": "x", "price": Infinity}', "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "deeper than"),
    ('{"a": ' * 40 + "1" + "}" * 40, "deeper than"),
])
def test_a_body_that_is_not_acceptable_json_is_a_422_naming_the_body(raw: str, says: str) -> None:
    status, body, _ = _send(_price_app(), "POST", "/v1/prices", body=raw)
    assert status == 422, body
    assert list(body["errors"]) == ["body"]
    assert says in body["errors"]["body"][0]


def test_a_body_that_is_not_utf8_is_a_422() -> None:
    status, body, _ = _send(_price_app(), "POST", "/v1/prices", body=b'{"name": "\xff\xfe", "price": 1}')
    assert status == 422
    assert "UTF-8" in body["errors"]["body"][0]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml"])
def test_a_body_in_another_format_is_a_415(content_type: str) -> None:
    status, body, _ = _send(_price_app(), "POST", "/v1/prices", body="name=x&price=1",
                            headers={"Content-Type": content_type})
    assert status == 415
    assert body["error"] == "unsupported_media_type"
    assert "application/json" in body["message"]


def test_json_numbers_are_exact_decimals_never_floats() -> None:
    status, body, _ = _send(_price_app(), "POST", "/v1/prices", body='{"name": "x", "price": 19.99}')
    assert status == 200
    assert body["data"] == {"price": "19.99", "type": "Decimal"}


def test_a_price_with_more_decimals_than_cents_is_refused_not_rounded() -> None:
    status, body, _ = _send(_price_app(), "POST", "/v1/prices", body='{"name": "x", "price": 19.999999999999999999}')
    assert status == 422
    assert "price" in body["errors"]


@pytest.mark.parametrize("number", ["1e5000", "1e1000000", "-1e400", "1e-200"])
def test_numbers_beyond_any_meaning_are_a_422_at_once(number: str) -> None:
    status, body, _ = _send(_price_app(), "POST", "/v1/prices", body='{"name": "x", "price": ' + number + "}",
                            headers={"Idempotency-Key": "k"})
    assert status == 422
    assert "beyond the numbers" in body["errors"]["body"][0]


def test_a_base64_body_from_api_gateway_is_decoded() -> None:
    event = rest_event("POST", "/v1/prices", headers={"Content-Type": "application/json"},
                       body=base64.b64encode(b'{"name": "x", "price": 5}').decode())
    event["isBase64Encoded"] = True
    response = _price_app().lambda_handler(event, LambdaContext())  # type: ignore[arg-type]
    assert response["statusCode"] == 200


# ------------------------------------------------------------ headers

@pytest.fixture
def allowed_origin(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://admin.example.com, https://ops.example.com")
    settings.get_settings.cache_clear()
    yield "https://admin.example.com"
    settings.get_settings.cache_clear()


def test_every_response_says_nosniff_and_authenticated_ones_are_never_cached() -> None:
    _, _, public = _send(_price_app(), "POST", "/v1/prices", body='{"name": "x", "price": 1}')
    assert public["X-Content-Type-Options"] == ["nosniff"]
    status, _, refused = _send(_member_app(lambda *_: Role.OWNER), "GET", "/v1/tenants/tnt_1/thing",
                               resource="/v1/tenants/{tenant_id}/thing", path_parameters={"tenant_id": "tnt_1"})
    assert status == 401
    assert refused["X-Content-Type-Options"] == ["nosniff"]
    assert refused["Cache-Control"] == ["no-store"]
    status, _, allowed = _send(_member_app(lambda *_: Role.OWNER), "GET", "/v1/tenants/tnt_1/thing",
                               resource="/v1/tenants/{tenant_id}/thing", path_parameters={"tenant_id": "tnt_1"},
                               headers={"Authorization": f"Bearer {token('user-1')}"})
    assert status == 200
    assert allowed["Cache-Control"] == ["no-store"]


def test_only_a_listed_origin_gets_cors_headers(allowed_origin: str) -> None:
    _, _, listed = _send(_price_app(), "POST", "/v1/prices", body='{"name": "x", "price": 1}',
                         headers={"Origin": allowed_origin})
    assert listed["Access-Control-Allow-Origin"] == [allowed_origin]
    assert listed["Vary"] == ["Origin"]
    _, _, other = _send(_price_app(), "POST", "/v1/prices", body='{"name": "x", "price": 1}',
                        headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other


def test_the_preflight_function_allows_only_listed_origins(allowed_origin: str) -> None:
    from cors.preflight import handler

    listed = handler({"headers": {"Origin": allowed_origin, "Access-Control-Request-Method": "PUT"}}, None)
    assert listed["statusCode"] == 204
    assert listed["multiValueHeaders"]["Access-Control-Allow-Origin"] == [allowed_origin]
    assert "Authorization" in listed["multiValueHeaders"]["Access-Control-Allow-Headers"][0]
    other = handler({"headers": {"Origin": "https://evil.example"}}, None)
    assert other["multiValueHeaders"] == {}


def test_no_origin_is_allowed_when_none_is_configured() -> None:
    _, _, headers = _send(_price_app(), "POST", "/v1/prices", body='{"name": "x", "price": 1}',
                          headers={"Origin": "https://admin.example.com"})
    assert "Access-Control-Allow-Origin" not in headers


# ------------------------------------------------------------ the deadline

class _Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_the_deadline_follows_api_gateways_clock_when_the_cold_start_ate_into_it() -> None:
    import time

    from saas_core import deadline

    received_ten_seconds_ago = int((time.time() - 10) * 1000)
    left = deadline.seconds_left(_Context(28_000), received_ten_seconds_ago)
    assert 17.5 < left < 18.5, "29 s from when API Gateway received it, less the response margin"
    assert 26.5 < deadline.seconds_left(_Context(28_000), None) < 27.5, "the Lambda's own clock otherwise"
