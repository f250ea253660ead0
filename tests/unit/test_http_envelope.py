"""One place turns outcomes into API.md's envelope and status codes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.apigw import LambdaContext, rest_event
from saas_core.access import Access
from saas_core.errors import (
    AppError,
    BadRequest,
    Conflict,
    Forbidden,
    LimitExceeded,
    NotFound,
    StripeUnavailable,
    Unauthorized,
)
from saas_core.http import ApiApp, Envelope, ok


def app_raising(error: Exception) -> ApiApp:
    app = ApiApp()

    @app.endpoint("GET", "/v1/things/{thing_id}", access=Access.PUBLIC, summary="A thing")
    def get_thing(thing_id: str) -> Envelope[dict[str, str]]:
        raise error

    return app


def call(app: ApiApp) -> tuple[int, dict[str, Any]]:
    event = rest_event("GET", "/v1/things/t1", resource="/v1/things/{thing_id}", path_parameters={"thing_id": "t1"},
                       request_id="req-42")
    response = app.lambda_handler(event, LambdaContext())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(("error", "status", "code"), [
    (BadRequest("Cannot delete plan with 2 active subscriptions"), 400, "bad_request"),
    (Unauthorized("Token has expired"), 401, "unauthorized"),
    (Forbidden("Admin access required"), 403, "forbidden"),
    (NotFound("Tenant not found"), 404, "not_found"),
    (Conflict("The plan was changed meanwhile"), 409, "conflict"),
    (LimitExceeded("api_calls limit reached", {"metric": "api_calls", "current": 50, "limit": 50}), 429,
     "limit_exceeded"),
    (StripeUnavailable("Stripe failed to create the customer"), 502, "stripe_unavailable"),
])
def test_domain_errors_map_to_their_status_and_keep_their_message(error: AppError, status: int, code: str) -> None:
    got_status, body = call(app_raising(error))
    assert got_status == status
    assert body["success"] is False
    assert body["message"] == error.message
    assert body["error"] == code
    assert body["trace_id"] == "req-42"
    assert body["timestamp"].endswith("Z")
    assert "errors" not in body
    assert body.get("details") == getattr(error, "details", None)


def test_an_unexpected_error_is_a_500_that_reveals_nothing() -> None:
    status, body = call(app_raising(KeyError("secret_table_name")))
    assert status == 500
    assert body["message"] == "Internal server error"
    assert "secret_table_name" not in json.dumps(body)
    assert "Traceback" not in json.dumps(body)


def test_success_is_the_envelope_with_the_request_id_as_trace_id() -> None:
    app = ApiApp()

    @app.endpoint("GET", "/v1/things/{thing_id}", access=Access.PUBLIC, summary="A thing")
    def get_thing(thing_id: str) -> Envelope[dict[str, str]]:
        return ok({"id": thing_id}, "found")

    status, body = call(app)
    assert status == 200
    assert body == {**body, "success": True, "message": "found", "data": {"id": "t1"}, "trace_id": "req-42"}


def test_one_endpoint_per_function_with_a_declared_response() -> None:
    app = ApiApp()

    def untyped():  # type: ignore[no-untyped-def]
        return ok({})

    with pytest.raises(TypeError, match="return type"):
        app.endpoint("GET", "/v1/a", access=Access.PUBLIC, summary="a")(untyped)
    with pytest.raises(RuntimeError, match="One endpoint per function"):
        app.endpoint("GET", "/v1/b", access=Access.PUBLIC, summary="b")
