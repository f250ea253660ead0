"""An admin sets a tenant's billing period (seed 003 §10): month counters restart, audited, in-process."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from saas_core.clock import iso, utc_now
from tests.support import ADMIN_API_KEY, invoke, token

OWNER = "user-period-owner"


@pytest.fixture
def tenant(catalog: dict[str, Any]) -> dict[str, Any]:
    """A tenant on a plan allowing 10 agents per billing period."""
    plan = invoke("POST", "/v1/admin/plans", api_key=ADMIN_API_KEY, body={
        "name": "Monthly", "type": "organization", "tier": "monthly-agents", "price_monthly": 10,
        "price_annual": 100, "limits": {"agents": {"max": 10, "period": "month"}}})
    assert plan.status == 201, plan.body
    reply = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Period Corp", "email": "owner@period.example", "type": "organization", "plan_id": plan.data["id"],
        "billing_cycle": "monthly", "owner_user_id": OWNER})
    assert reply.status == 201, reply.body
    return dict(reply.data)


def agents_in_use(tenant_id: str) -> int:
    return int(invoke("POST", f"/v1/tenants/{tenant_id}/limits/check", token=token(OWNER),
                      body={"limit_type": "agents", "increment": 0}).data["current"])


def set_period(tenant_id: str, start: str, end: str) -> Any:
    return invoke("POST", f"/v1/tenants/{tenant_id}/billing/period", api_key=ADMIN_API_KEY,
                  body={"period_start": start, "period_end": end})


def stripe_entries(tenant_id: str) -> list[str]:
    audit = invoke("GET", f"/v1/admin/tenants/{tenant_id}/audit", api_key=ADMIN_API_KEY).data["items"]
    return [entry["action"] for entry in audit if entry["action"] == "tenant.billing_period_set"]


def test_a_new_period_restarts_the_month_counters_and_is_audited_once(tenant: dict[str, Any]) -> None:
    assert invoke("POST", f"/v1/tenants/{tenant['id']}/usage", api_key=ADMIN_API_KEY,
                  body={"metric": "agents", "amount": 7}).status == 200
    assert agents_in_use(tenant["id"]) == 7
    start, end = iso(utc_now()), iso(utc_now() + timedelta(days=30))
    reply = set_period(tenant["id"], start, end)
    assert reply.status == 200, reply.body
    assert reply.data == {"success": True, "tenant_id": tenant["id"], "period_start": start, "period_end": end}
    assert agents_in_use(tenant["id"]) == 0
    billing = invoke("GET", f"/v1/tenants/{tenant['id']}/plan", token=token(OWNER)).data["billing"]
    assert (billing["period_start"], billing["period_end"]) == (start, end)
    assert invoke("POST", f"/v1/tenants/{tenant['id']}/usage", api_key=ADMIN_API_KEY,
                  body={"metric": "agents", "amount": 10}).status == 200, "the whole limit is there again"
    assert set_period(tenant["id"], start, end).status == 200
    assert agents_in_use(tenant["id"]) == 10, "the same period again resets nothing"
    assert stripe_entries(tenant["id"]) == ["tenant.billing_period_set"]


def test_a_period_older_than_stripes_current_one_does_not_take_over(tenant: dict[str, Any]) -> None:
    invoke("POST", f"/v1/tenants/{tenant['id']}/usage", api_key=ADMIN_API_KEY, body={"metric": "agents", "amount": 3})
    assert set_period(tenant["id"], "2020-01-01T00:00:00Z", "2020-02-01T00:00:00Z").status == 200
    billing = invoke("GET", f"/v1/tenants/{tenant['id']}/plan", token=token(OWNER)).data["billing"]
    assert billing["period_start"] == tenant["active_subscription"]["current_period_start"]
    assert agents_in_use(tenant["id"]) == 3


@pytest.mark.parametrize(("start", "end", "says"), [
    ("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", "must be after period_start"),
    ("2026-01-01T00:00:00", "2026-02-01T00:00:00Z", "needs a time zone"),
    ("2026-01-01T00:00:00Z", "2028-01-01T00:00:00Z", "at most a year"),
])
def test_a_bad_period_is_a_422_and_changes_nothing(tenant: dict[str, Any], start: str, end: str, says: str) -> None:
    reply = set_period(tenant["id"], start, end)
    assert reply.status == 422
    assert says in str(reply.body)
    assert stripe_entries(tenant["id"]) == []
