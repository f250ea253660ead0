"""Metering over HTTP on the local stack: concurrent consumes from many Lambda environments against
one counter on moto's server never pass the plan's limit, and replayed idempotency keys count once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.http.conftest import HttpReply, Stack, request
from tests.http.test_tenant_admin import admin, create_tenant

LIMIT = 50
CALLERS = 200


@pytest.fixture
def tenant(stack: Stack) -> dict[str, Any]:
    """A tenant on a plan of its own allowing 50 workflows."""
    tag = uuid.uuid4().hex[:10]
    plan = request("POST", f"{stack.url}/v1/admin/plans", headers=admin(stack), body={
        "name": f"Metered {tag}", "type": "organization", "tier": f"metered-{tag}", "price_monthly": 10,
        "price_annual": 100, "limits": {"max_workflows_per_workspace": LIMIT}})
    assert plan.status == 201, plan.body
    return create_tenant(stack, plan.data["id"])


def consume(stack: Stack, tenant_id: str, key: str | None = None) -> HttpReply:
    body: dict[str, Any] = {"metric": "workflows", "amount": 1}
    if key:
        body["idempotency_key"] = key
    return request("POST", f"{stack.url}/v1/tenants/{tenant_id}/usage", body=body, headers=admin(stack))


def counter(stack: Stack, tenant_id: str) -> int:
    reply = request("POST", f"{stack.url}/v1/tenants/{tenant_id}/limits/check", headers=admin(stack),
                    body={"limit_type": "workflows", "increment": 0})
    assert reply.status == 200, reply.body
    return int(reply.data["current"])


def test_200_concurrent_consumes_against_a_limit_of_50_record_exactly_50(stack: Stack,
                                                                         tenant: dict[str, Any]) -> None:
    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = list(pool.map(lambda _: consume(stack, tenant["id"]), range(CALLERS)))
    statuses = [reply.status for reply in replies]
    assert (statuses.count(200), statuses.count(429)) == (LIMIT, CALLERS - LIMIT), set(statuses)
    assert counter(stack, tenant["id"]) == LIMIT
    refused = next(reply for reply in replies if reply.status == 429)
    assert refused.body["details"]["limit"] == LIMIT


def test_replayed_idempotency_keys_count_once(stack: Stack, tenant: dict[str, Any]) -> None:
    keys = [f"wf-{index}" for index in range(40)] * 5
    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = list(pool.map(lambda key: consume(stack, tenant["id"], key), keys))
    assert {reply.status for reply in replies} == {200}, {reply.status for reply in replies}
    assert sum(1 for reply in replies if reply.data["recorded"]) == 40
    assert counter(stack, tenant["id"]) == 40
