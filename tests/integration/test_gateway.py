"""The local gateway end to end over HTTP, with a fake template and fake functions
(the real functions are not needed: this is about what API Gateway does)."""

from __future__ import annotations

import http.client
import importlib
import json
import os
import sys
import textwrap
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.gateway import Gateway

TEMPLATE = """
Parameters:
  Stage: {Type: String, Default: test}
  Secret: {Type: String}
Globals:
  Function:
    CodeUri: src/
    Environment:
      Variables:
        ECHO_TABLE: !Ref EchoTable
        ECHO_STAGE: !Sub "stage-${Stage}-${AWS::Region}"
        ECHO_SECRET: !Ref Secret
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties: {StageName: !Ref Stage%(cors)s}
  EchoTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: echo_pkg.app.echo
      Environment: {Variables: {ONLY_ECHO: "yes"}}
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/items/{item_id}", Method: get}}
        Post: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /items, Method: POST}}
  StatsFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: echo_pkg.app.stats
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /items/stats, Method: GET}}
  ReplyFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: echo_pkg.app.reply
      Events:
        Any: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/reply/{kind}", Method: ANY}}
  FromCodeUriFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: code_uri_pkg.app.handler
      Events:
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /code-uri, Method: GET}}
  NightlyFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: echo_pkg.app.nightly
      Events:
        Cron: {Type: Schedule, Properties: {Schedule: "cron(0 3 * * ? *)"}}
"""
CORS = ', Cors: {AllowOrigin: "\'https://app.example\'", AllowHeaders: "\'Authorization\'", MaxAge: "\'600\'"}'

ECHO_MODULE = '''
import base64
import json
import os


def echo(event, context):
    seen = {"event": event, "context": {"function_name": context.function_name,
                                        "aws_request_id": context.aws_request_id,
                                        "remaining": context.get_remaining_time_in_millis()},
            "env": {name: os.environ.get(name) for name in
                    ("ECHO_TABLE", "ECHO_STAGE", "ECHO_SECRET", "ONLY_ECHO", "EXTRA")}}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(seen)}


def stats(event, context):
    return {"statusCode": 200, "body": json.dumps({"stats": True, "resource": event["resource"]})}


def reply(event, context):
    kind = event["pathParameters"]["kind"]
    if kind == "boom":
        raise RuntimeError("the function crashed")
    if kind == "malformed":
        return {"statusCode": 200, "body": {"not": "a string"}}
    if kind == "extra-key":
        return {"statusCode": 200, "body": "", "cookies": ["a=1"]}  # an HTTP API (v2) key
    if kind == "not-json":
        return {"statusCode": 200, "body": "", "headers": {"X-Set": {1, 2}}}
    if kind == "binary":
        return {"statusCode": 201, "headers": {"Content-Type": "image/png"}, "isBase64Encoded": True,
                "body": base64.b64encode(bytes(range(256))).decode()}
    return {"statusCode": 204 if kind == "empty" else 200,
            "headers": {"X-Single": "one", "Set-Cookie": "c=3", "Content-Length": "999"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": "" if kind == "empty" else "plain"}


def nightly(event, context):
    return {"detail_type": event["detail-type"], "time": event["time"], "resources": event["resources"],
            "function_name": context.function_name}
'''

CODE_URI_MODULE = '''
def handler(event, context):
    return {"statusCode": 200, "body": "found through CodeUri"}
'''

FAKE_MODULES = ("echo_pkg", "code_uri_pkg")


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    raw: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


def send(gateway: Gateway, method: str, target: str, *, headers: list[tuple[str, str]] | None = None,
         body: bytes | None = None, chunked: bool = False) -> Response:
    """One request with http.client, which (unlike urllib) can repeat a header and send chunks."""
    host, port = gateway.server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers or []:
            connection.putheader(name, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        elif body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        if chunked and body is not None:
            half = len(body) // 2
            for chunk in (body[:half], body[half:]):
                connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            connection.send(b"0\r\n\r\n")
        elif body is not None:
            connection.send(body)
        reply = connection.getresponse()
        return Response(reply.status, reply.getheaders(), reply.read())
    finally:
        connection.close()


def write_project(root: Path, *, cors: bool) -> Path:
    (root / "src" / "echo_pkg").mkdir(parents=True)
    (root / "src" / "echo_pkg" / "__init__.py").write_text("")
    (root / "src" / "echo_pkg" / "app.py").write_text(textwrap.dedent(ECHO_MODULE))
    (root / "src" / "code_uri_pkg").mkdir(parents=True)
    (root / "src" / "code_uri_pkg" / "__init__.py").write_text("")
    (root / "src" / "code_uri_pkg" / "app.py").write_text(CODE_URI_MODULE)
    template = root / "template.yaml"
    template.write_text(TEMPLATE % {"cors": CORS if cors else ""})
    importlib.invalidate_caches()
    return template


@pytest.fixture
def start_gateway(tmp_path: Path, start_gateway_from: Callable[..., Gateway]) -> Iterator[Callable[..., Gateway]]:
    """Starts the gateway on a fake project in tmp_path; the process environment and modules are restored after."""
    saved_environment = dict(os.environ)

    def start(*, cors: bool = False, log_requests: bool = False) -> Gateway:
        return start_gateway_from(write_project(tmp_path, cors=cors), table_names={"EchoTable": "echo-physical"},
                                  parameters={"Secret": "s3cret"}, extra_env={"EXTRA": "from-caller"},
                                  log_requests=log_requests, code_root=tmp_path)

    yield start
    os.environ.clear()
    os.environ.update(saved_environment)
    for name in [name for name in sys.modules if name.split(".")[0] in FAKE_MODULES]:
        del sys.modules[name]


@pytest.fixture
def gateway(start_gateway: Callable[..., Gateway]) -> Gateway:
    return start_gateway()


# ------------------------------------------------------------- requests

def test_a_request_arrives_as_api_gateway_sends_it(gateway: Gateway) -> None:
    reply = send(gateway, "GET", "/items/it%20em?tag=a&tag=b&empty=&q=x%26y",
                 headers=[("X-Trace", "t-1"), ("Accept", "text/html"), ("Accept", "application/json"),
                          ("User-Agent", "tests/1")])
    assert reply.status == 200, reply.raw
    event = reply.json["event"]
    assert event["resource"] == "/items/{item_id}"
    assert event["path"] == "/items/it%20em"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"item_id": "it em"}
    assert event["queryStringParameters"] == {"tag": "b", "empty": "", "q": "x&y"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "empty": [""], "q": ["x&y"]}
    assert event["headers"]["X-Trace"] == "t-1"
    assert event["headers"]["Accept"] == "application/json"
    assert event["multiValueHeaders"]["Accept"] == ["text/html", "application/json"]
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == "/items/{item_id}"
    assert context["stage"] == "test"  # the Api's StageName
    assert context["path"] == "/test/items/it%20em"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "tests/1"
    assert context["requestId"] == reply.header("x-amzn-RequestId") == reply.json["context"]["aws_request_id"]
    assert reply.json["context"]["function_name"] == "EchoFunction"
    assert 0 < reply.json["context"]["remaining"] <= 28_000


def test_each_request_gets_its_own_request_id(gateway: Gateway) -> None:
    ids = {send(gateway, "GET", "/items/1").json["event"]["requestContext"]["requestId"] for _ in range(3)}
    assert len(ids) == 3


def test_functions_see_the_templates_environment_and_the_callers(gateway: Gateway) -> None:
    env = send(gateway, "GET", "/items/1").json["env"]
    assert env == {"ECHO_TABLE": "echo-physical", "ECHO_STAGE": "stage-test-us-east-1", "ECHO_SECRET": "s3cret",
                   "ONLY_ECHO": "yes", "EXTRA": "from-caller"}


@pytest.mark.parametrize("chunked", [False, True])
def test_bodies_arrive_as_strings(gateway: Gateway, chunked: bool) -> None:
    body = json.dumps({"name": "Pro", "note": "é"}).encode()
    reply = send(gateway, "POST", "/items", headers=[("Content-Type", "application/json")], body=body,
                 chunked=chunked)
    event = reply.json["event"]
    assert event["resource"] == "/items"
    assert event["pathParameters"] is None
    assert event["queryStringParameters"] is None
    assert json.loads(event["body"]) == {"name": "Pro", "note": "é"}
    assert event["isBase64Encoded"] is False


def test_literal_routes_beat_parameter_routes(gateway: Gateway) -> None:
    assert send(gateway, "GET", "/items/stats").json == {"stats": True, "resource": "/items/stats"}
    assert send(gateway, "GET", "/items/other").json["event"]["pathParameters"] == {"item_id": "other"}


def test_handlers_are_imported_from_their_code_uri(gateway: Gateway) -> None:
    reply = send(gateway, "GET", "/code-uri")
    assert (reply.status, reply.raw) == (200, b"found through CodeUri")


# ------------------------------------------------- API Gateway's answers

@pytest.mark.parametrize(("method", "target"), [
    ("GET", "/nothing/here"),
    ("GET", "/items"),  # the path exists for POST only
    ("DELETE", "/items/1"),
    ("OPTIONS", "/items/1"),  # no Cors declared: OPTIONS is just another method
    ("GET", "/items/1/extra"),
])
def test_unknown_routes_and_methods_are_403_missing_authentication_token(gateway: Gateway, method: str,
                                                                        target: str) -> None:
    reply = send(gateway, method, target)
    assert reply.status == 403
    assert reply.json == {"message": "Missing Authentication Token"}
    assert reply.header("Content-Type") == "application/json"


def test_proxy_responses_are_written_back(gateway: Gateway) -> None:
    reply = send(gateway, "PATCH", "/reply/headers")
    assert (reply.status, reply.raw) == (200, b"plain")
    assert reply.header("X-Single") == "one"
    assert sorted(reply.header_values("Set-Cookie")) == ["a=1", "b=2", "c=3"]
    assert reply.header("Content-Type") == "application/json"  # API Gateway's default
    assert reply.header_values("Content-Length") == ["5"]  # the gateway frames the body, not the function


def test_base64_bodies_are_decoded(gateway: Gateway) -> None:
    reply = send(gateway, "GET", "/reply/binary")
    assert reply.status == 201
    assert reply.header("Content-Type") == "image/png"
    assert reply.raw == bytes(range(256))


def test_an_empty_reply_has_no_body(gateway: Gateway) -> None:
    reply = send(gateway, "DELETE", "/reply/empty")
    assert (reply.status, reply.raw) == (204, b"")


@pytest.mark.parametrize(("kind", "logged_cause"), [
    ("boom", "RuntimeError: the function crashed"),
    ("malformed", "Malformed Lambda proxy response: body must be a string"),
    ("extra-key", "Malformed Lambda proxy response: keys a REST API proxy response does not have: cookies"),
    ("not-json", "Runtime.MarshalError"),
])
def test_a_crashed_or_malformed_function_is_a_502(gateway: Gateway, kind: str, logged_cause: str,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    reply = send(gateway, "GET", f"/reply/{kind}")
    assert reply.status == 502
    assert reply.json == {"message": "Internal server error"}  # API Gateway's own body: no GatewayResponses here
    logged = capfd.readouterr().err
    assert logged_cause in logged
    assert "ReplyFunction" in logged
    assert send(gateway, "GET", "/reply/ok").status == 200  # and the gateway serves on


def test_a_crash_is_logged_with_its_traceback(gateway: Gateway, capfd: pytest.CaptureFixture[str]) -> None:
    send(gateway, "GET", "/reply/boom")
    logged = capfd.readouterr().err
    assert "Traceback" in logged
    assert 'raise RuntimeError("the function crashed")' in logged


def test_cors_preflights_are_answered_only_when_declared(start_gateway: Callable[..., Gateway]) -> None:
    gateway = start_gateway(cors=True)
    reply = send(gateway, "OPTIONS", "/items/1", headers=[("Origin", "https://app.example"),
                                                          ("Access-Control-Request-Method", "GET")])
    assert reply.status == 200
    assert reply.header("Access-Control-Allow-Origin") == "https://app.example"
    assert reply.header("Access-Control-Allow-Methods") == "GET,OPTIONS"
    assert reply.header("Access-Control-Allow-Headers") == "Authorization"
    assert reply.header("Access-Control-Max-Age") == "600"
    assert send(gateway, "OPTIONS", "/nothing").status == 403


# -------------------------------------------------------- local endpoints

def test_scheduled_functions_run_on_demand(gateway: Gateway) -> None:
    reply = send(gateway, "POST", "/_local/schedule/NightlyFunction?time=2026-03-01T03:00:00Z")
    assert reply.status == 200, reply.raw
    assert reply.json == {"result": {
        "detail_type": "Scheduled Event", "time": "2026-03-01T03:00:00Z", "function_name": "NightlyFunction",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/NightlyFunction"]}}
    assert send(gateway, "POST", "/_local/schedule/NightlyFunction").status == 200
    missing = send(gateway, "POST", "/_local/schedule/EchoFunction")
    assert missing.status == 404
    assert missing.json["scheduled_functions"] == ["NightlyFunction"]
    assert send(gateway, "POST", "/_local/schedule/NightlyFunction?time=yesterday").status == 400


def test_openapi_json_is_built_on_request(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("local.openapi")
    fake.build_openapi = lambda: {"openapi": "3.0.3", "paths": {}}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "local.openapi", fake)
    reply = send(gateway, "GET", "/openapi.json")
    assert (reply.status, reply.json) == (200, {"openapi": "3.0.3", "paths": {}})


def test_openapi_json_says_so_when_the_generator_is_missing(gateway: Gateway,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "local.openapi", None)  # an import of it now fails
    reply = send(gateway, "GET", "/openapi.json")
    assert reply.status == 503
    assert "local.openapi" in reply.json["message"]


def test_docs_page_and_its_assets_are_served_offline(gateway: Gateway) -> None:
    page = send(gateway, "GET", "/docs")
    assert page.status == 200
    assert page.header("Content-Type") == "text/html; charset=utf-8"
    text = page.raw.decode()
    assert "/openapi.json" in text
    assert "/docs/swagger-ui-bundle.min.js" in text
    assert "http" not in text, "no CDN: the machine may be offline"
    script = send(gateway, "GET", "/docs/swagger-ui-bundle.min.js")
    assert (script.status, script.header("Content-Type")) == (200, "application/javascript")
    assert b"SwaggerUIBundle" in script.raw
    style = send(gateway, "GET", "/docs/swagger-ui.min.css")
    assert (style.status, style.header("Content-Type")) == (200, "text/css")
    assert send(gateway, "GET", "/docs/other.js").status == 403


def logged_lines(capfd: pytest.CaptureFixture[str]) -> list[str]:
    # The line is written once the reply is sent, so the client may read the reply first.
    err = ""
    deadline = time.monotonic() + 5
    while not err and time.monotonic() < deadline:
        time.sleep(0.01)
        err = capfd.readouterr().err
    return [line for line in err.splitlines() if line.strip()]


def test_one_log_line_per_request_unless_quiet(start_gateway: Callable[..., Gateway],
                                               capfd: pytest.CaptureFixture[str]) -> None:
    loud = start_gateway(log_requests=True)
    send(loud, "GET", "/items/1?x=1")
    lines = logged_lines(capfd)
    assert len(lines) == 1
    method, target, status, elapsed, unit = lines[0].split()
    assert (method, target, status, unit) == ("GET", "/items/1?x=1", "200", "ms")
    assert float(elapsed) >= 0
    loud.log_requests = False
    send(loud, "GET", "/items/1")
    send(loud, "GET", "/items/1")  # the first reply's handler thread has finished by the time this returns
    assert capfd.readouterr().err == ""
