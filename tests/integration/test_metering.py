"""Metering (seed 003 §11, API.md "usage"): usage recorded against the plan's limits exactly, under
concurrency and replays, and the limit check; in-process against moto (one request at a time, as
DynamoDB applies each atomically) and the Stripe emulator."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from saas_core.errors import AppError
from saas_core.models.usage import UsageIn
from tests.support import ADMIN_API_KEY, invoke, token

LIMIT = 50
CALLERS = 200


@pytest.fixture
def metered_plan(catalog: dict[str, Any]) -> dict[str, Any]:
    """An organization plan allowing 50 workflows, 3 members, unlimited API keys."""
    reply = invoke("POST", "/v1/admin/plans", api_key=ADMIN_API_KEY, body={
        "name": "Metered", "type": "organization", "tier": "metered", "price_monthly": 10, "price_annual": 100,
        "limits": {"max_workflows_per_workspace": LIMIT, "max_members_per_workspace": 3,
                   "api_keys": {"max": None, "period": "none"}}})
    assert reply.status == 201, reply.body
    return dict(reply.data)


@pytest.fixture
def tenant(metered_plan: dict[str, Any]) -> dict[str, Any]:
    reply = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Busy Corp", "email": "ops@busy.example", "type": "organization", "plan_id": metered_plan["id"],
        "billing_cycle": "monthly", "owner_user_id": "user-busy"})
    assert reply.status == 201, reply.body
    return dict(reply.data)


def use(tenant_id: str, **body: Any) -> Any:
    return invoke("POST", f"/v1/tenants/{tenant_id}/usage", api_key=ADMIN_API_KEY, body=body)


def check(tenant_id: str, **body: Any) -> Any:
    return invoke("POST", f"/v1/tenants/{tenant_id}/limits/check", token=token("user-busy"), body=body)


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Every call from its own thread at the same time: the service as concurrent Lambdas run it."""
    with ThreadPoolExecutor(max_workers=32) as pool:
        return list(pool.map(lambda call: call(), calls))


def outcome(call: Callable[[], Any]) -> Callable[[], str]:
    def run() -> str:
        try:
            result = call()
        except AppError as error:
            return f"refused {error.status_code}"
        return "recorded" if result.recorded else "replayed"
    return run


def test_200_concurrent_consumes_against_a_limit_of_50_record_exactly_50(tenant: dict[str, Any]) -> None:
    from saas_core.services import metering

    consume = outcome(lambda: metering.record_usage(tenant["id"], UsageIn(metric="workflows", amount=1)))
    results = at_once([consume] * CALLERS)
    assert (results.count("recorded"), results.count("refused 429")) == (LIMIT, CALLERS - LIMIT)
    assert check(tenant["id"], limit_type="workflows", increment=0).data["current"] == LIMIT


def test_replayed_idempotency_keys_count_once_even_concurrently(
        tenant: dict[str, Any], transaction_conflicts: Callable[[int], None]) -> None:
    from saas_core.services import metering

    transaction_conflicts(20)  # DynamoDB cancels keyed consumes that meet on the counter: they are tried again
    keys = [f"workflow-{index}" for index in range(30)]
    calls = [outcome(lambda key=key: metering.record_usage(  # type: ignore[misc]
        tenant["id"], UsageIn(metric="workflows", amount=1, idempotency_key=key))) for key in keys * 4]
    results = at_once(calls)
    assert (results.count("recorded"), results.count("replayed")) == (30, 90)
    assert check(tenant["id"], limit_type="workflows", increment=0).data["current"] == 30


def test_a_replay_answers_what_was_recorded_and_another_body_under_the_key_is_refused(
        tenant: dict[str, Any]) -> None:
    first = use(tenant["id"], metric="workflows", amount=2, idempotency_key="wf-1")
    assert first.status == 200, first.body
    assert first.data == {"metric": "workflows", "amount": 2, "recorded": True, "current": 2, "limit": LIMIT,
                          "period": "none"}
    again = use(tenant["id"], metric="workflows", amount=2, idempotency_key="wf-1")
    assert (again.status, again.data["recorded"], again.data["current"]) == (200, False, 2)
    other = use(tenant["id"], metric="workflows", amount=3, idempotency_key="wf-1")
    assert other.status == 422
    assert "already used for 2 workflows" in str(other.body)
    assert check(tenant["id"], limit_type="workflows", increment=0).data["current"] == 2


def test_past_the_limit_is_a_429_with_where_the_counter_stands_and_nothing_recorded(tenant: dict[str, Any]) -> None:
    assert use(tenant["id"], metric="workflows", amount=48).status == 200
    refused = use(tenant["id"], metric="workflows", amount=3)
    assert refused.status == 429
    assert refused.body["details"] == {"metric": "workflows", "current": 48, "limit": LIMIT, "requested": 3}
    too_big = use(tenant["id"], metric="workflows", amount=LIMIT + 1, idempotency_key="big")
    assert too_big.status == 429
    assert too_big.body["details"]["current"] == 48
    assert use(tenant["id"], metric="workflows", amount=2).data["current"] == LIMIT


def test_the_limit_check_answers_seed_003s_fields(tenant: dict[str, Any]) -> None:
    use(tenant["id"], metric="workflows", amount=3)
    allowed = check(tenant["id"], limit_type="workflows", increment=1)
    assert allowed.status == 200, allowed.body
    assert allowed.data == {"allowed": True, "current": 3, "limit": LIMIT, "after_increment": 4,
                            "would_exceed_by": None}
    over = check(tenant["id"], limit_type="workflows", increment=LIMIT)
    assert over.data == {"allowed": False, "current": 3, "limit": LIMIT, "after_increment": LIMIT + 3,
                         "would_exceed_by": 3}
    members = check(tenant["id"], limit_type="members", increment=3)
    assert members.data == {"allowed": False, "current": 1, "limit": 3, "after_increment": 4, "would_exceed_by": 1}
    unlimited = check(tenant["id"], limit_type="api_keys", increment=10**6)
    assert unlimited.data == {"allowed": True, "current": 0, "limit": None, "after_increment": 10**6,
                              "would_exceed_by": None}
    assert check(tenant["id"], limit_type="workflows", increment=1).data["current"] == 3, "a check records nothing"


def test_an_unlimited_metric_records_without_bound(tenant: dict[str, Any]) -> None:
    reply = use(tenant["id"], metric="api_keys", amount=10**9)
    assert (reply.status, reply.data["limit"], reply.data["current"]) == (200, None, 10**9)


@pytest.mark.parametrize(("body", "status", "says"), [
    ({"metric": "gigawatts", "amount": 1}, 400, "it meters: api_keys, members, workflows"),
    ({"metric": "members", "amount": 1}, 400, "adding and removing members"),
    ({"metric": "workflows", "amount": 0}, 422, "amount"),
    ({"metric": "workflows", "amount": 1, "idempotency_key": "has space"}, 422, "idempotency_key"),
    ({"metric": "workflows", "amount": 1, "extra": True}, 422, "extra"),
])
def test_bad_usage_is_refused_and_records_nothing(tenant: dict[str, Any], body: dict[str, Any], status: int,
                                                  says: str) -> None:
    reply = use(tenant["id"], **body)
    assert reply.status == status, reply.body
    assert says in str(reply.body)
    assert check(tenant["id"], limit_type="workflows", increment=0).data["current"] == 0


def test_a_suspended_tenant_records_no_usage(tenant: dict[str, Any]) -> None:
    suspended = invoke("PUT", f"/v1/admin/tenants/{tenant['id']}/status", api_key=ADMIN_API_KEY,
                       body={"status": "suspended", "reason": "Payment overdue"})
    assert suspended.status == 200, suspended.body
    reply = use(tenant["id"], metric="workflows", amount=1)
    assert reply.status == 403
    assert "suspended" in reply.body["message"]


def test_a_consume_meeting_a_keyed_consumes_transaction_on_the_counter_is_tried_again(
        tenant: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB refuses a plain write to an item a transaction holds (TransactionConflictException); moto
    never does, so the refusal is injected: the consume is tried again and counts once."""
    import botocore.client
    from botocore.exceptions import ClientError

    left = [2]
    make_api_call = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]

    def conflicting(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "UpdateItem" and params.get("TableName") == "usage" and left[0] > 0:
            left[0] -= 1
            raise ClientError({"Error": {"Code": "TransactionConflictException",
                                         "Message": "Transaction is ongoing for the item"}}, operation)
        return make_api_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", conflicting)
    reply = use(tenant["id"], metric="workflows", amount=1)
    assert (reply.status, reply.data["current"], left[0]) == (200, 1, 0)
