"""local.apigw: REST proxy events, route matching and the Lambda context, as API Gateway and Lambda give them."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from local.apigw import (
    INTEGRATION_TIMEOUT,
    LAMBDA_FAILURE,
    MISSING_AUTHENTICATION_TOKEN,
    THROTTLED,
    LambdaContext,
    StageThrottle,
    TokenBucket,
    gateway_response,
    match_route,
    rest_event,
    routes_for_path,
    scheduled_event,
)
from local.template import GatewayResponse, MethodThrottle, Route, api_routes, load_template, preflight_routes

ROUTES = [
    Route("Compare", "catalog.compare_plans.handler", "POST", "/v1/plans/compare"),
    Route("GetPlan", "catalog.get_plan.handler", "GET", "/v1/plans/{plan_id}"),
    Route("Stats", "x.stats.handler", "GET", "/v1/admin/tenants/statistics"),
    Route("Tenant", "x.tenant.handler", "GET", "/v1/admin/tenants/{tenant_id}"),
    Route("TenantPlan", "x.plan.handler", "GET", "/v1/tenants/{tenant_id}/plan"),
    Route("Files", "x.files.handler", "ANY", "/v1/files/{proxy+}"),
    Route("FileMeta", "x.meta.handler", "GET", "/v1/files/{file_id}/meta"),
    Route("FileDelete", "x.delete.handler", "DELETE", "/v1/files/{proxy+}"),
]
# Top-level and requestContext keys of `sam local generate-event apigateway aws-proxy`.
SAM_EVENT_KEYS = {"body", "resource", "path", "httpMethod", "isBase64Encoded", "queryStringParameters",
                  "multiValueQueryStringParameters", "pathParameters", "stageVariables", "headers",
                  "multiValueHeaders", "requestContext"}
SAM_CONTEXT_KEYS = {"accountId", "resourceId", "stage", "requestId", "requestTime", "requestTimeEpoch", "identity",
                    "path", "resourcePath", "httpMethod", "apiId", "protocol"}
SAM_IDENTITY_KEYS = {"cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "accessKey", "sourceIp",
                     "cognitoAuthenticationType", "cognitoAuthenticationProvider", "userArn", "userAgent", "user"}


def matched_id(method: str, path: str, routes: list[Route] = ROUTES) -> str | None:
    matched = match_route(routes, method, path)
    return matched[0].function_id if matched else None


# ---------------------------------------------------------------- matching

def test_template_yaml_compare_is_a_literal_and_plan_ids_are_parameters() -> None:
    routes = api_routes(load_template())
    compare = match_route(routes, "POST", "/v1/plans/compare")
    assert compare is not None
    assert (compare[0].function_id, compare[1]) == ("ComparePlansFunction", {})
    plan = match_route(routes, "GET", "/v1/plans/pln_pro")
    assert plan is not None
    assert (plan[0].function_id, plan[1]) == ("GetPublicPlanFunction", {"plan_id": "pln_pro"})
    assert match_route(routes, "POST", "/v1/plans/pln_pro") is None


def test_literal_segments_beat_parameters() -> None:
    assert match_route(ROUTES, "GET", "/v1/admin/tenants/statistics") == (ROUTES[2], {})
    assert match_route(ROUTES, "GET", "/v1/admin/tenants/tnt_1") == (ROUTES[3], {"tenant_id": "tnt_1"})
    # Whatever order the template lists them in.
    assert matched_id("GET", "/v1/admin/tenants/statistics", list(reversed(ROUTES))) == "Stats"


def test_the_method_counts() -> None:
    assert match_route(ROUTES, "get", "/v1/plans/x") == (ROUTES[1], {"plan_id": "x"})
    assert match_route(ROUTES, "DELETE", "/v1/plans/x") is None
    # A literal route of another method does not hide the parameter route of this one.
    assert match_route(ROUTES, "GET", "/v1/plans/compare") == (ROUTES[1], {"plan_id": "compare"})


def test_a_parameter_is_exactly_one_non_empty_decoded_segment() -> None:
    assert match_route(ROUTES, "GET", "/v1/plans/a%20b%2Fc") == (ROUTES[1], {"plan_id": "a b/c"})
    assert match_route(ROUTES, "GET", "/v1/plans/a+b") == (ROUTES[1], {"plan_id": "a+b"})  # + is not a space here
    assert match_route(ROUTES, "GET", "/v1/plans/a/b") is None
    assert match_route(ROUTES, "GET", "/v1/tenants//plan") is None
    assert match_route(ROUTES, "GET", "/v1/tenants/t1/plan") == (ROUTES[4], {"tenant_id": "t1"})
    assert match_route(ROUTES, "GET", "/v1/nothing") is None


def test_greedy_parameters_take_the_rest_and_rank_last() -> None:
    assert match_route(ROUTES, "PUT", "/v1/files/a/b%20c") == (ROUTES[5], {"proxy": "a/b c"})
    assert matched_id("GET", "/v1/files/f1/meta") == "FileMeta"
    assert matched_id("DELETE", "/v1/files/f1/meta") == "FileDelete"  # its own method beats ANY
    assert matched_id("GET", "/v1/files") is None  # {proxy+} needs at least one segment


def test_routes_for_path_ignores_the_method() -> None:
    assert {route.function_id for route, _ in routes_for_path(ROUTES, "/v1/plans/compare")} == {"Compare", "GetPlan"}


# ------------------------------------------------------------------ events

def test_rest_event_has_the_shape_api_gateway_sends() -> None:
    event = rest_event("get", "/v1/plans/pln_pro", resource="/v1/plans/{plan_id}",
                       path_parameters={"plan_id": "pln_pro"}, headers={"User-Agent": "curl/8", "X-Api-Key": "k"},
                       query={"tag": ["a", "b"], "page": "2"}, stage="dev", request_id="req-1", source_ip="10.0.0.9")
    assert set(event) >= SAM_EVENT_KEYS
    assert set(event["requestContext"]) >= SAM_CONTEXT_KEYS
    assert set(event["requestContext"]["identity"]) >= SAM_IDENTITY_KEYS
    assert event["httpMethod"] == "GET"
    assert event["resource"] == event["requestContext"]["resourcePath"] == "/v1/plans/{plan_id}"
    assert event["path"] == "/v1/plans/pln_pro"
    assert event["pathParameters"] == {"plan_id": "pln_pro"}
    assert event["queryStringParameters"] == {"tag": "b", "page": "2"}  # the last of repeated values
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "page": ["2"]}
    assert event["headers"] == {"User-Agent": "curl/8", "X-Api-Key": "k"}
    assert event["multiValueHeaders"] == {"User-Agent": ["curl/8"], "X-Api-Key": ["k"]}
    assert event["stageVariables"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["path"] == "/dev/v1/plans/pln_pro"
    assert (context["stage"], context["requestId"], context["httpMethod"]) == ("dev", "req-1", "GET")
    assert context["identity"]["sourceIp"] == "10.0.0.9"
    assert context["identity"]["userAgent"] == "curl/8"
    assert abs(context["requestTimeEpoch"] / 1000 - time.time()) < 5
    json.dumps(event)  # what the runtime would serialise


def test_empty_maps_are_null_as_api_gateway_sends_them() -> None:
    event = rest_event("GET", "/v1/plans")
    for key in ("headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters",
                "pathParameters"):
        assert event[key] is None, key
    assert event["resource"] == "/v1/plans"
    assert event["requestContext"]["identity"]["userAgent"] is None
    assert event["requestContext"]["requestId"] != rest_event("GET", "/v1/plans")["requestContext"]["requestId"]


@pytest.mark.parametrize(("body", "expected", "is_base64"), [
    ({"name": "Pro"}, '{"name": "Pro"}', False),
    ('{"raw": true}', '{"raw": true}', False),
    ("é".encode(), "é", False),
    (b"\xff\x00", base64.b64encode(b"\xff\x00").decode(), True),
])
def test_bodies_are_strings(body: Any, expected: str, is_base64: bool) -> None:
    event = rest_event("POST", "/v1/plans/compare", body=body)
    assert (event["body"], event["isBase64Encoded"]) == (expected, is_base64)


def test_repeated_headers_keep_every_value_and_the_last_in_headers() -> None:
    event = rest_event("GET", "/", headers={"Accept": ["text/html", "application/json"]})
    assert event["headers"] == {"Accept": "application/json"}
    assert event["multiValueHeaders"] == {"Accept": ["text/html", "application/json"]}


def test_powertools_reads_the_event_and_the_context() -> None:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
    from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

    event = rest_event("POST", "/v1/plans/compare", headers={"Content-Type": "application/json"},
                       query={"x": "1"}, body={"a": 1})
    APIGatewayProxyEventModel.model_validate(event)
    parsed = APIGatewayProxyEvent(event)
    assert parsed.json_body == {"a": 1}
    assert parsed.get_query_string_value("x") == "1"
    assert parsed.request_context.stage == "local"

    logger = Logger(service="test-apigw")
    seen: dict[str, Any] = {}

    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> None:
        seen.update(logger.get_current_keys())

    handler(event, LambdaContext(function_name="ComparePlansFunction"))
    assert seen["function_name"] == "ComparePlansFunction"
    assert seen["function_memory_size"] == 512
    assert seen["function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:ComparePlansFunction"


# ----------------------------------------------------------------- context

def test_lambda_context_counts_down_from_its_timeout() -> None:
    context = LambdaContext(function_name="Fn", timeout_seconds=3, memory_limit_in_mb=256)
    remaining = context.get_remaining_time_in_millis()
    assert 2_500 < remaining <= 3_000
    assert (context.function_version, context.memory_limit_in_mb) == ("$LATEST", 256)
    assert context.log_group_name == "/aws/lambda/Fn"
    assert "[$LATEST]" in context.log_stream_name
    assert context.aws_request_id != LambdaContext().aws_request_id
    assert LambdaContext(timeout_seconds=0).get_remaining_time_in_millis() == 0


def test_scheduled_event_is_eventbridges() -> None:
    from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

    moment = datetime(2026, 1, 31, 23, 0, tzinfo=timezone(timedelta(hours=-2)))
    event = scheduled_event("arn:aws:events:us-east-1:123456789012:rule/nightly", moment)
    EventBridgeModel.model_validate(event)
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2026-02-01T01:00:00Z"  # always UTC
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/nightly"]
    assert event["detail"] == {}
    assert datetime.fromisoformat(event["time"]).tzinfo == UTC


# ------------------------------------------------------- gateway responses

RECEIVED = datetime(2026, 11, 23, 11, 46, 0, tzinfo=UTC)
ENVELOPE = GatewayResponse(status_code=None, headers=(("Cache-Control", "no-store"),), templates=(
    ("application/json", '{"message":$context.error.messageString,"type":"$context.error.responseType",'
                         '"id":"$context.requestId","at":"$context.requestTime","unknown":"$context.nothing.here"}'),))


def test_a_declared_response_type_shapes_its_error() -> None:
    declared = {"MISSING_AUTHENTICATION_TOKEN": GatewayResponse(404, ENVELOPE.headers, ENVELOPE.templates)}
    status, headers, body = gateway_response(MISSING_AUTHENTICATION_TOKEN, declared, request_id="req-1",
                                             received_at=RECEIVED)
    assert status == 404
    assert json.loads(body) == {"message": "Missing Authentication Token", "type": "MISSING_AUTHENTICATION_TOKEN",
                                "id": "req-1", "at": "23/Nov/2026:11:46:00 +0000", "unknown": ""}
    assert ("Cache-Control", "no-store") in headers
    assert ("Content-Type", "application/json") in headers
    assert ("x-amzn-RequestId", "req-1") in headers


@pytest.mark.parametrize(("error", "fallback"), [(THROTTLED, "DEFAULT_4XX"), (INTEGRATION_TIMEOUT, "DEFAULT_5XX"),
                                                 (LAMBDA_FAILURE, "DEFAULT_5XX")])
def test_an_undeclared_type_falls_back_to_its_class_default(error: Any, fallback: str) -> None:
    status, headers, body = gateway_response(error, {fallback: ENVELOPE}, request_id="r", received_at=RECEIVED)
    assert status == error.status
    assert json.loads(body)["message"] == error.message
    assert ("Cache-Control", "no-store") in headers
    other = {"DEFAULT_5XX" if fallback == "DEFAULT_4XX" else "DEFAULT_4XX": ENVELOPE}
    assert json.loads(gateway_response(error, other, request_id="r", received_at=RECEIVED)[2]) == {
        "message": error.message}


def test_without_any_declared_response_api_gateways_own_body_is_written() -> None:
    assert gateway_response(LAMBDA_FAILURE, {}, request_id="r", received_at=RECEIVED) == (
        502, [("Content-Type", "application/json"), ("x-amzn-RequestId", "r")],
        b'{"message":"Internal server error"}')


def test_a_class_default_status_applies_to_undeclared_types_only() -> None:
    declared = {"DEFAULT_4XX": GatewayResponse(400, (), ()),
                "THROTTLED": GatewayResponse(None, (), ())}
    assert gateway_response(MISSING_AUTHENTICATION_TOKEN, declared, request_id="r", received_at=RECEIVED)[0] == 400
    assert gateway_response(THROTTLED, declared, request_id="r", received_at=RECEIVED)[0] == 429


# -------------------------------------------------------------- throttling

class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_token_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5  # one token back at 2 per second
    assert [bucket.take(), bucket.take()] == [True, False]
    clock.now += 60  # never more than the burst
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_a_burst_of_zero_throttles_everything() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=100, burst=0, clock=clock)
    clock.now += 10
    assert bucket.take() is False


def test_stage_throttling_is_per_method_and_the_most_specific_setting_wins() -> None:
    clock = FakeClock()
    throttle = StageThrottle([MethodThrottle("/*", "*", rate_limit=0, burst_limit=2),
                              MethodThrottle("/v1/plans", "GET", rate_limit=None, burst_limit=1)], clock=clock)
    assert [throttle.allows("/v1/plans", "GET") for _ in range(2)] == [True, False]
    assert [throttle.allows("/v1/plans", "post") for _ in range(3)] == [True, True, False]
    assert [throttle.allows("/v1/plans/{plan_id}", "GET") for _ in range(3)] == [True, True, False]


def test_without_method_settings_the_account_limits_apply() -> None:
    throttle = StageThrottle([], clock=FakeClock())
    assert all(throttle.allows("/v1/plans", "GET") for _ in range(5_000))
    assert throttle.allows("/v1/plans", "GET") is False


def test_template_yaml_preflights_route_to_the_cors_function() -> None:
    template = load_template()
    routes = [*api_routes(template), *preflight_routes(template)]
    for path in ("/v1/plans", "/v1/plans/pln_pro", "/v1/admin/tenants/tnt_1", "/v1/tenants/tnt_1/plan"):
        matched = match_route(routes, "OPTIONS", path)
        assert matched is not None, path
        assert matched[0].function_id == "CorsPreflightFunction"
    assert match_route(api_routes(template), "OPTIONS", "/v1/plans") is None
