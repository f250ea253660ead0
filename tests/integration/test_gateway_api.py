"""What API Gateway answers itself, as the local gateway gives it: gateway responses (the API's envelope),
throttling, the payload limit, binary bodies, CORS preflight functions, and a burst of connections."""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local.gateway import PAYLOAD_LIMIT_BYTES, Gateway
from local.stack import TABLE_NAMES
from local.template import TEMPLATE_PATH
from tests.integration.test_gateway import Response, send

ENVELOPE = ('{"success":false,"message":%s,"error":"%s","trace_id":"$context.requestId",'
            '"timestamp":"$context.requestTime","type":"$context.error.responseType"}')
NOT_FOUND = """
        MISSING_AUTHENTICATION_TOKEN:
          StatusCode: "404"
          ResponseParameters: {Headers: {Cache-Control: "'no-store'"}}
          ResponseTemplates: {application/json: '%s'}""" % (ENVELOPE % ('"Route not found"', "not_found"))
DEFAULT_4XX = """
        DEFAULT_4XX:
          ResponseParameters: {Headers: {X-Default: "'4xx'"}}
          ResponseTemplates: {application/json: '%s'}""" % (ENVELOPE % ("$context.error.messageString", "client"))
DEFAULT_4XX_STATUS = """
        DEFAULT_4XX:
          StatusCode: "400"
          ResponseTemplates: {application/json: '{"message":$context.error.messageString}'}"""
DEFAULT_5XX = """
        DEFAULT_5XX:
          ResponseParameters: {Headers: {X-Default: "'5xx'"}}
          ResponseTemplates: {application/json: '%s'}""" % (ENVELOPE % ('"Internal server error"', "internal"))
THROTTLED = """
        THROTTLED:
          StatusCode: "429"
          ResponseParameters: {Headers: {Retry-After: "'1'"}}
          ResponseTemplates: {application/json: '%s'}""" % (ENVELOPE % ('"Slow down"', "throttled"))

TEMPLATE = """
Parameters:
  Rate: {Type: Number, Default: 1000}
  Burst: {Type: Number, Default: 1000}
Globals:
  Function: {CodeUri: code/, Timeout: 3}
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: test
      MethodSettings:
        - {ResourcePath: "/*", HttpMethod: "*", ThrottlingRateLimit: !Ref Rate, ThrottlingBurstLimit: !Ref Burst}
        - {ResourcePath: "/~1limited", HttpMethod: GET, ThrottlingRateLimit: 0, ThrottlingBurstLimit: 1}
      GatewayResponses:%(responses)s
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: api_pkg.app.echo
      Events:
        Post: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /echo, Method: POST}}
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/echo/{id}", Method: GET}}
        Limited: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /limited, Method: GET}}
        Crash: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /crash, Method: GET}}
  PreflightFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: api_pkg.app.preflight
      Events:
        Echo: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /echo, Method: OPTIONS}}
        EchoId: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/echo/{id}", Method: OPTIONS}}
"""

HANDLERS = '''
import json


def echo(event, context):
    if event["resource"] == "/crash":
        raise RuntimeError("crashed")
    return {"statusCode": 200, "body": json.dumps({"body": event["body"], "isBase64Encoded": event["isBase64Encoded"],
                                                   "resource": event["resource"], "method": event["httpMethod"]})}


def preflight(event, context):
    return {"statusCode": 204, "multiValueHeaders": {"Access-Control-Allow-Origin": [event["headers"]["Origin"]],
                                                   "Access-Control-Allow-Methods": ["GET,POST"]}, "body": ""}
'''


@pytest.fixture
def start_gateway(tmp_path: Path, start_gateway_from: Callable[..., Gateway]) -> Callable[..., Gateway]:
    (tmp_path / "code" / "api_pkg").mkdir(parents=True)
    (tmp_path / "code" / "api_pkg" / "__init__.py").write_text("")
    (tmp_path / "code" / "api_pkg" / "app.py").write_text(textwrap.dedent(HANDLERS))

    def start(responses: str = NOT_FOUND + DEFAULT_4XX + DEFAULT_5XX + THROTTLED, *, serve: bool = True,
              **parameters: str) -> Gateway:
        path = tmp_path / "template.yaml"
        path.write_text(TEMPLATE % {"responses": responses or " {}"})
        return start_gateway_from(path, serve=serve, table_names={}, parameters=parameters, extra_env={},
                                  log_requests=False, code_root=tmp_path)

    return start


@pytest.fixture
def gateway(start_gateway: Callable[..., Gateway]) -> Gateway:
    return start_gateway()


def assert_envelope(reply: Response, status: int, message: str, response_type: str) -> None:
    assert reply.status == status, reply.raw
    assert reply.header("Content-Type") == "application/json"
    body = reply.json
    assert (body["success"], body["message"], body["type"]) == (False, message, response_type)
    assert body["trace_id"] == reply.header("x-amzn-RequestId")
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", body["timestamp"])


# ----------------------------------------------------- gateway responses

@pytest.mark.parametrize(("method", "target"), [("GET", "/nothing"), ("DELETE", "/echo"), ("GET", "/echo"),
                                                ("TRACE", "/echo"), ("BREW", "/echo/1")])
def test_unknown_routes_and_methods_get_the_declared_response(gateway: Gateway, method: str, target: str) -> None:
    reply = send(gateway, method, target)
    assert_envelope(reply, 404, "Route not found", "MISSING_AUTHENTICATION_TOKEN")
    assert reply.header("Cache-Control") == "no-store"  # the static value, without its quotes
    assert reply.header("X-Default") is None  # a declared type does not mix in DEFAULT_4XX


def test_a_crashed_function_gets_default_5xx_as_a_502(gateway: Gateway) -> None:
    reply = send(gateway, "GET", "/crash")
    assert_envelope(reply, 502, "Internal server error", "DEFAULT_5XX")
    assert reply.header("X-Default") == "5xx"


def test_an_undeclared_4xx_type_falls_back_to_default_4xx_with_its_own_status(gateway: Gateway) -> None:
    reply = send(gateway, "POST", "/echo", body=b"x" * (PAYLOAD_LIMIT_BYTES + 1))
    assert_envelope(reply, 413, "Request Too Long", "REQUEST_TOO_LARGE")  # DEFAULT_4XX quotes the message
    assert reply.header("X-Default") == "4xx"


def test_a_default_4xx_status_code_replaces_the_status_of_undeclared_types(
        start_gateway: Callable[..., Gateway]) -> None:
    gateway = start_gateway(DEFAULT_4XX_STATUS)
    reply = send(gateway, "GET", "/nothing")
    assert (reply.status, reply.json) == (400, {"message": "Missing Authentication Token"})


def test_without_gateway_responses_api_gateways_own_bodies_are_answered(
        start_gateway: Callable[..., Gateway]) -> None:
    gateway = start_gateway("")
    assert (send(gateway, "GET", "/nothing").status, send(gateway, "GET", "/nothing").json) == (
        403, {"message": "Missing Authentication Token"})
    crashed = send(gateway, "GET", "/crash")
    assert (crashed.status, crashed.json) == (502, {"message": "Internal server error"})


def test_the_real_templates_gateway_responses_are_the_apis_envelope(
        start_gateway_from: Callable[..., Gateway]) -> None:
    gateway = start_gateway_from(TEMPLATE_PATH, table_names=TABLE_NAMES, parameters={"ThrottlingBurstLimit": "0"},
                                 extra_env={}, log_requests=False)
    missing = send(gateway, "GET", "/v1/nothing")
    assert missing.status == 404
    assert missing.json["message"] == "Route not found"
    assert missing.json["error"] == "not_found"
    assert missing.json["trace_id"] == missing.header("x-amzn-RequestId")
    assert missing.header("X-Content-Type-Options") == "nosniff"
    throttled = send(gateway, "GET", "/v1/plans")  # a burst of 0 lets nothing through
    assert (throttled.status, throttled.json["error"], throttled.header("Retry-After")) == (429, "throttled", "1")
    too_large = send(gateway, "POST", "/v1/admin/plans", body=b"{" * (PAYLOAD_LIMIT_BYTES + 1))
    assert (too_large.status, too_large.json["error"]) == (413, "payload_too_large")


# ------------------------------------------------------------ throttling

def test_a_burst_past_the_bucket_is_throttled(start_gateway: Callable[..., Gateway]) -> None:
    gateway = start_gateway(Rate="0", Burst="2")  # two tokens, never refilled
    statuses = [send(gateway, "POST", "/echo", body=b"{}").status for _ in range(3)]
    assert statuses == [200, 200, 429]
    throttled = send(gateway, "POST", "/echo", body=b"{}")
    assert_envelope(throttled, 429, "Slow down", "THROTTLED")
    assert throttled.header("Retry-After") == "1"


def test_each_method_has_its_own_bucket_and_unknown_routes_take_none(start_gateway: Callable[..., Gateway]) -> None:
    gateway = start_gateway(Rate="0", Burst="1")
    assert send(gateway, "POST", "/echo", body=b"{}").status == 200
    assert send(gateway, "GET", "/echo/1").status == 200  # another method: another bucket
    assert send(gateway, "GET", "/echo/2").status == 429  # the same method (resource /echo/{id})
    assert send(gateway, "GET", "/nothing").status == 404  # no method, no throttle: still "not found"


def test_a_method_setting_for_one_resource_overrides_the_stage_default(gateway: Gateway) -> None:
    assert [send(gateway, "GET", "/limited").status for _ in range(2)] == [200, 429]
    assert all(send(gateway, "POST", "/echo", body=b"{}").status == 200 for _ in range(5))


# ------------------------------------------------------------- payloads

@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_10_mb_is_a_413_and_the_client_reads_it(gateway: Gateway, chunked: bool) -> None:
    reply = send(gateway, "POST", "/echo", body=b"a" * (PAYLOAD_LIMIT_BYTES + 1), chunked=chunked)
    assert reply.status == 413
    at_the_limit = send(gateway, "POST", "/echo", body=b"a" * PAYLOAD_LIMIT_BYTES, chunked=chunked)
    assert at_the_limit.status == 200


def test_a_body_that_is_not_utf8_reaches_the_function_base64_encoded(gateway: Gateway) -> None:
    body = b"\xff\xfe\x00binary\x80" + bytes(range(256))
    reply = send(gateway, "POST", "/echo", headers=[("Content-Type", "application/octet-stream")], body=body)
    assert reply.status == 200, reply.raw
    assert reply.json["isBase64Encoded"] is True
    assert base64.b64decode(reply.json["body"]) == body


# ------------------------------------------------------- CORS preflight

def test_options_routes_are_served_by_their_preflight_function(gateway: Gateway) -> None:
    reply = send(gateway, "OPTIONS", "/echo/7", headers=[("Origin", "https://app.example")])
    assert reply.status == 204
    assert reply.header("Access-Control-Allow-Origin") == "https://app.example"
    assert send(gateway, "OPTIONS", "/nothing").status == 404  # no OPTIONS method there


# ------------------------------------------------------ many connections

def test_a_burst_of_50_connections_waits_in_the_backlog_and_all_get_answers(
        start_gateway: Callable[..., Gateway]) -> None:
    # The burst arrives while the gateway accepts nothing (as when its accept loop is busy): every connection
    # must still be taken by the listening socket's backlog, not refused or left unanswered.
    gateway = start_gateway(serve=False)
    host, port = gateway.server.server_address[:2]
    connections = [socket.create_connection((str(host), int(port)), timeout=5) for _ in range(50)]
    try:
        for index, connection in enumerate(connections):
            connection.sendall(b"GET /echo/%d HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n" % index)
        gateway.start_in_thread()
        answers = [read_answer(connection) for connection in connections]
    finally:
        for connection in connections:
            connection.close()
    assert answers == [(200, "/echo/{id}")] * 50


def read_answer(connection: socket.socket) -> tuple[int, Any]:
    answer = http.client.HTTPResponse(connection)
    answer.begin()
    return answer.status, json.loads(answer.read())["resource"]
