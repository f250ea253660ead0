"""The local gateway runs functions as Lambda does: an execution environment per concurrent invocation,
reused while warm, with the function's Timeout enforced and API Gateway's integration timeout on top."""

from __future__ import annotations

import json
import os
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local.gateway import Gateway
from tests.integration.test_gateway import Response, send

TEMPLATE = """
Globals:
  Function:
    CodeUri: code/
    Timeout: 2
    MemorySize: 256
    Environment: {Variables: {FROM_TEMPLATE: "yes"}}
Resources:
  StateFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lambdas.app.remember
      Events:
        Post: {Type: Api, Properties: {Path: /state, Method: POST}}
        Get: {Type: Api, Properties: {Path: /state, Method: GET}}
  SleepFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lambdas.app.sleep
      Timeout: 1
      Events:
        Get: {Type: Api, Properties: {Path: /sleep, Method: GET}}
  PatientFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lambdas.app.sleep
      Timeout: 5
      Events:
        Get: {Type: Api, Properties: {Path: /patient, Method: GET, TimeoutInMillis: 300}}
  ContextFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lambdas.app.context_and_environment
      Events:
        Get: {Type: Api, Properties: {Path: /context, Method: GET}}
  ExitFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lambdas.app.exit_or_print
      Events:
        Get: {Type: Api, Properties: {Path: "/exit/{how}", Method: GET}}
  BrokenFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lambdas.broken.handler
      Events:
        Get: {Type: Api, Properties: {Path: /broken, Method: GET}}
  NowhereFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lambdas.app.sleep
      CodeUri: nowhere/
      Events:
        Get: {Type: Api, Properties: {Path: /nowhere, Method: GET}}
"""

HANDLERS = '''
import json
import os
import sys
import threading
import time

# Module state lives as long as the execution environment, and only there.
STATE = {"invocations": 0, "in_flight": 0, "most_in_flight": 0, "body": None}
_lock = threading.Lock()


def _reply(payload):
    return {"statusCode": 200, "body": json.dumps(payload)}


def remember(event, context):
    with _lock:
        STATE["invocations"] += 1
        STATE["in_flight"] += 1
        STATE["most_in_flight"] = max(STATE["most_in_flight"], STATE["in_flight"])
    STATE["body"] = event["body"]
    time.sleep(0.2)  # long enough for a concurrent invocation sharing this module to overwrite it
    seen = STATE["body"]
    with _lock:
        STATE["in_flight"] -= 1
    return _reply({"body": seen, "pid": os.getpid(), "invocations": STATE["invocations"],
                   "most_in_flight": STATE["most_in_flight"]})


def sleep(event, context):
    time.sleep(float((event["queryStringParameters"] or {}).get("seconds", "0")))
    return _reply({"pid": os.getpid()})


def context_and_environment(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    return _reply({"remaining": [first, context.get_remaining_time_in_millis()],
                   "function_name": context.function_name, "memory": context.memory_limit_in_mb,
                   "request_id": context.aws_request_id, "environment": dict(os.environ)})


def exit_or_print(event, context):
    how = event["pathParameters"]["how"]
    if how == "exit":
        os._exit(3)
    if how == "sys-exit":
        sys.exit(1)
    print("a print on stdout")  # must not get in the way of the runtime's own use of stdout
    os.write(1, b"a raw write to fd 1\\n")
    return _reply({"printed": True, "pid": os.getpid()})
'''

BROKEN = '''
raise ImportError("a dependency is missing")
'''


@pytest.fixture
def start_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  start_gateway_from: Callable[..., Gateway]) -> Callable[..., Gateway]:
    code = tmp_path / "code" / "lambdas"
    code.mkdir(parents=True)
    (code / "__init__.py").write_text("")
    (code / "app.py").write_text(textwrap.dedent(HANDLERS))
    (code / "broken.py").write_text(BROKEN)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    monkeypatch.setenv("ONLY_IN_THE_GATEWAY", "the gateway's own process environment")

    def start(**options: Any) -> Gateway:
        return start_gateway_from(tmp_path / "template.yaml", table_names={}, parameters={},
                                  extra_env={"FROM_THE_STACK": "extra"}, log_requests=False, code_root=tmp_path,
                                  **options)

    return start


@pytest.fixture
def gateway(start_gateway: Callable[..., Gateway]) -> Gateway:
    return start_gateway()


def concurrently(count: int, call: Callable[[int], Response]) -> list[Response]:
    """`count` calls at once (each waits for all to be ready), replies in call order."""
    replies: list[Response | None] = [None] * count
    ready = threading.Barrier(count)

    def run(index: int) -> None:
        ready.wait()
        replies[index] = call(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(reply is not None for reply in replies), "a request got no reply"
    return [reply for reply in replies if reply is not None]


def post_state(gateway: Gateway, index: int) -> Response:
    return send(gateway, "POST", "/state", headers=[("Content-Type", "application/json")],
                body=json.dumps({"request": index}).encode())


# ----------------------------------------------------------- isolation

def test_concurrent_invocations_never_share_module_state(gateway: Gateway) -> None:
    replies = concurrently(8, lambda index: post_state(gateway, index))
    for index, reply in enumerate(replies):
        assert reply.status == 200, reply.raw
        assert json.loads(reply.json["body"]) == {"request": index}, "another invocation's state leaked in"
        assert reply.json["most_in_flight"] == 1, "an environment ran two invocations at once"
    assert len({reply.json["pid"] for reply in replies}) > 1


def test_a_warm_environment_is_reused_and_keeps_its_module_state(gateway: Gateway) -> None:
    replies = [post_state(gateway, index) for index in range(3)]
    assert len({reply.json["pid"] for reply in replies}) == 1
    assert [reply.json["invocations"] for reply in replies] == [1, 2, 3]


def test_invocations_beyond_the_cap_wait_for_a_free_environment(start_gateway: Callable[..., Gateway]) -> None:
    gateway = start_gateway(max_environments=2)
    replies = concurrently(6, lambda index: post_state(gateway, index))
    assert [json.loads(reply.json["body"]) for reply in replies] == [{"request": index} for index in range(6)]
    assert len({reply.json["pid"] for reply in replies}) <= 2
    assert all(reply.json["most_in_flight"] == 1 for reply in replies)


# ------------------------------------------------------------- context

def test_the_context_counts_down_from_the_functions_timeout(gateway: Gateway) -> None:
    reply = send(gateway, "GET", "/context")
    first, later = reply.json["remaining"]
    assert 0 < later < first <= 2_000  # Globals' Timeout: 2
    assert reply.json["function_name"] == "ContextFunction"
    assert reply.json["memory"] == 256
    assert reply.json["request_id"] == reply.header("x-amzn-RequestId")


def test_a_function_sees_its_lambda_environment_and_not_the_gateways(gateway: Gateway) -> None:
    environment = send(gateway, "GET", "/context").json["environment"]
    assert environment["FROM_TEMPLATE"] == "yes"
    assert environment["FROM_THE_STACK"] == "extra"
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == "ContextFunction"
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert environment["AWS_REGION"] == "us-east-1"
    assert environment["_HANDLER"] == "lambdas.app.context_and_environment"
    assert "ONLY_IN_THE_GATEWAY" not in environment
    assert "ONLY_IN_THE_GATEWAY" in os.environ


# ------------------------------------------------------------ failures

def test_a_function_past_its_timeout_is_killed_and_answered_502(gateway: Gateway,
                                                                capfd: pytest.CaptureFixture[str]) -> None:
    warm = send(gateway, "GET", "/sleep").json["pid"]
    reply = send(gateway, "GET", "/sleep?seconds=10")
    assert reply.status == 502
    assert reply.json == {"message": "Internal server error"}
    assert "Task timed out after 1.00 seconds" in capfd.readouterr().err
    after = send(gateway, "GET", "/sleep")
    assert after.status == 200
    assert after.json["pid"] != warm, "the timed-out environment must not serve again"
    with pytest.raises(ProcessLookupError):
        os.kill(warm, 0)


def test_an_integration_past_its_timeout_is_answered_504(gateway: Gateway) -> None:
    reply = send(gateway, "GET", "/patient?seconds=1")  # TimeoutInMillis: 300, the function's Timeout: 5
    assert reply.status == 504
    assert reply.json == {"message": "Endpoint request timed out"}


@pytest.mark.parametrize("how", ["exit", "sys-exit"])
def test_a_function_that_exits_is_a_502_and_the_next_call_gets_a_new_environment(gateway: Gateway,
                                                                                  how: str) -> None:
    reply = send(gateway, "GET", f"/exit/{how}")
    assert (reply.status, reply.json) == (502, {"message": "Internal server error"})
    assert send(gateway, "GET", "/exit/print").status == 200


def test_prints_go_to_the_console_and_not_into_the_protocol(gateway: Gateway,
                                                            capfd: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):  # twice: a stray line would shift the answers of the same environment
        reply = send(gateway, "GET", "/exit/print")
        assert (reply.status, reply.json["printed"]) == (200, True)
    logged = capfd.readouterr().err
    assert logged.count("a print on stdout") == 2
    assert logged.count("a raw write to fd 1") == 2


def test_a_handler_that_cannot_be_imported_is_a_502(gateway: Gateway, capfd: pytest.CaptureFixture[str]) -> None:
    reply = send(gateway, "GET", "/broken")
    assert reply.status == 502
    logged = capfd.readouterr().err
    assert "Runtime.ImportModuleError" in logged
    assert "a dependency is missing" in logged


def test_a_function_whose_environment_cannot_start_is_a_500_and_the_pool_recovers(
        gateway: Gateway, capfd: pytest.CaptureFixture[str]) -> None:
    for _ in range(12):  # more than the pool's slots: a failed start must give its slot back
        reply = send(gateway, "GET", "/nowhere")
        assert (reply.status, reply.json) == (500, {"message": "Internal server error"})
    assert "NowhereFunction" in capfd.readouterr().err


def test_shutting_down_stops_every_environment(start_gateway: Callable[..., Gateway]) -> None:
    gateway = start_gateway()
    pids = {reply.json["pid"] for reply in concurrently(3, lambda index: post_state(gateway, index))}
    gateway.shutdown()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
