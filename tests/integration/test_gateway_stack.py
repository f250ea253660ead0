"""The local stack of `make dev` over HTTP, under what a shared in-process gateway got wrong: concurrent
requests to one function, a burst of connections, and a body that is not UTF-8."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local.stack import EMULATOR_WEBHOOK_SECRETS, LocalStack, parse_parameter_overrides
from tests.http.conftest import HttpReply, Stack, request, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(Path(tmp_path_factory.mktemp("gateway-stack")), demo_tenants=0) as running:
        yield running


def at_once(count: int, call: Callable[[int], Any]) -> list[Any]:
    """`count` calls released together; their results (or exceptions) in call order."""
    results: list[Any] = [None] * count
    ready = threading.Barrier(count)

    def run(index: int) -> None:
        ready.wait()
        try:
            results[index] = call(index)
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_concurrent_tenant_creates_each_answer_201_with_their_own_tenant(stack: Stack) -> None:
    def create(index: int) -> HttpReply:
        return request("POST", f"{stack.url}/v1/admin/tenants", headers={"X-Api-Key": stack.info["admin_api_key"]},
                       body={"name": f"Concurrent {index}", "email": f"owner{index}@concurrent.example",
                             "type": "organization", "plan_id": "pln_pro", "billing_cycle": "monthly"})

    replies = at_once(20, create)
    for index, reply in enumerate(replies):
        assert isinstance(reply, HttpReply), reply
        assert reply.status == 201, (index, reply.body)
        assert (reply.data["name"], reply.data["email"]) == (f"Concurrent {index}", f"owner{index}@concurrent.example")
    assert len({reply.data["id"] for reply in replies}) == 20


def test_a_burst_of_50_connections_all_get_answers(stack: Stack) -> None:
    replies = at_once(50, lambda index: request("GET", f"{stack.url}/v1/plans/pln_pro"))
    assert all(isinstance(reply, HttpReply) and reply.status == 200 for reply in replies), replies


def test_a_body_that_is_not_utf8_is_answered_by_the_function(stack: Stack) -> None:
    address = urllib.parse.urlsplit(stack.url)
    connection = http.client.HTTPConnection(str(address.hostname), address.port, timeout=30)
    try:
        connection.request("POST", "/v1/plans/compare", body=b"\xff\xfe{\x80}",
                           headers={"Content-Type": "application/json"})
        reply = connection.getresponse()
        body = json.loads(reply.read())
    finally:
        connection.close()
    # The function got the body base64-encoded and refused it as a bad body: its envelope, not a gateway error.
    assert 400 <= reply.status < 500, body
    assert body["success"] is False
    assert body["trace_id"] == reply.getheader("x-amzn-RequestId")


def test_parameter_overrides_are_key_value_pairs() -> None:
    assert parse_parameter_overrides(["ThrottlingRateLimit=5", "CorsAllowedOrigins=https://a.example,https://b"]) == {
        "ThrottlingRateLimit": "5", "CorsAllowedOrigins": "https://a.example,https://b"}
    assert parse_parameter_overrides(["JwtAudience="]) == {"JwtAudience": ""}
    for malformed in ("ThrottlingRateLimit", "=5"):
        with pytest.raises(ValueError, match="Key=Value"):
            parse_parameter_overrides([malformed])


def test_functions_get_one_webhook_secret_per_stripe_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    environment = LocalStack(port=1, demo_tenants=0)._environment("http://dynamodb", "http://stripe")
    assert environment["STRIPE_LIVE_WEBHOOK_SECRET"] == EMULATOR_WEBHOOK_SECRETS["live"]
    assert environment["STRIPE_TEST_WEBHOOK_SECRET"] == EMULATOR_WEBHOOK_SECRETS["test"]
    assert EMULATOR_WEBHOOK_SECRETS["live"] != EMULATOR_WEBHOOK_SECRETS["test"]


def test_with_a_real_test_key_the_stripe_listen_secret_verifies_test_events_and_nothing_live(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_real")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_from_stripe_listen")
    environment = LocalStack(port=1, demo_tenants=0)._environment("http://dynamodb", None)
    assert environment["STRIPE_TEST_WEBHOOK_SECRET"] == "whsec_from_stripe_listen"
    assert environment["STRIPE_LIVE_WEBHOOK_SECRET"] == ""  # refused by the route: no secret, no events
    assert environment["STRIPE_SECRET_KEY"] == "sk_test_real"
    assert "STRIPE_API_BASE" not in environment
