"""An owner's plan changes over HTTP on the local stack, with Stripe's test clocks: a downgrade blocked
by members, allowed once they are removed, applied when the tenant's clock crosses the period end; an
upgrade charged with proration, read back on Stripe's invoice through the SDK."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.http.conftest import Stack, request
from tests.http.test_stripe_events import (
    HOUR,
    advance,
    assert_follows_stripe,
    new_tenant,
    open_invoice,
    pay_out_of_band,
    price_of,
    sdk,
    settle,
    subscription_of,
)
from tests.http.test_tenant_admin import admin, owner, unix

PRO, BUSINESS = "pln_pro", "pln_business"


@pytest.fixture
def solo_plan(stack: Stack) -> dict[str, Any]:
    """A cheaper organization plan than Pro allowing a single member."""
    tag = uuid.uuid4().hex[:10]
    reply = request("POST", f"{stack.url}/v1/admin/plans", headers=admin(stack), body={
        "name": f"Solo {tag}", "type": "organization", "tier": f"solo-{tag}", "price_monthly": 9,
        "price_annual": 90, "limits": {"max_members_per_workspace": 1}})
    assert reply.status == 201, reply.body
    return dict(reply.data)


def plan_call(stack: Stack, tenant: dict[str, Any], action: str, target: str) -> Any:
    return request("POST", f"{stack.url}/v1/tenants/{tenant['id']}/plan/{action}", headers=owner(stack, tenant),
                   body={"target_plan_id": target})


def test_a_downgrade_blocked_by_members_then_allowed_is_applied_when_the_clock_crosses_the_period_end(
        stack: Stack, solo_plan: dict[str, Any]) -> None:
    tenant = new_tenant(stack, PRO)
    member = request("POST", f"{stack.url}/v1/tenants/{tenant['id']}/members", headers=owner(stack, tenant),
                     body={"email": f"m-{uuid.uuid4().hex[:8]}@example.com", "user_id": "user-extra"})
    assert member.status == 201, member.body
    blocked = plan_call(stack, tenant, "downgrade", solo_plan["id"])
    assert blocked.status == 400
    assert blocked.body["message"] == f"members: 2 in use, {solo_plan['name']} allows 1"

    removed = request("DELETE", f"{stack.url}/v1/tenants/{tenant['id']}/members/user-extra",
                      headers=owner(stack, tenant))
    assert removed.status == 200, removed.body
    scheduled = plan_call(stack, tenant, "downgrade", solo_plan["id"])
    assert scheduled.status == 200, scheduled.body
    settle(stack)
    plan_view = request("GET", f"{stack.url}/v1/tenants/{tenant['id']}/plan", headers=owner(stack, tenant)).data
    assert (plan_view["plan"]["id"], plan_view["pending_downgrade"]["id"]) == (PRO, solo_plan["id"])

    advance(stack, tenant, unix(scheduled.data["downgraded_at"]) + 2 * HOUR)
    switched = assert_follows_stripe(stack, tenant)
    assert (switched["plan"]["id"], switched["pending_change"]) == (solo_plan["id"], None)
    assert subscription_of(stack, tenant)["items"].data[0].price.id == price_of(stack, solo_plan["id"], "monthly")
    limits = request("GET", f"{stack.url}/v1/tenants/{tenant['id']}/plan", headers=owner(stack, tenant)).data
    assert limits["usage"]["members"]["limit"] == 1, "the limits dropped when Stripe switched"


def test_an_upgrade_is_charged_with_proration_on_stripes_next_invoice(stack: Stack) -> None:
    tenant = new_tenant(stack, PRO)
    trialing = subscription_of(stack, tenant)
    assert trialing.trial_end is not None
    advance(stack, tenant, int(trialing.trial_end) + 2 * HOUR)  # paying now: an upgrade is prorated
    pay_out_of_band(stack, open_invoice(stack, trialing.id).id)
    upgraded = plan_call(stack, tenant, "upgrade", BUSINESS)
    assert upgraded.status == 200, upgraded.body
    settle(stack)
    view = assert_follows_stripe(stack, tenant)
    assert view["plan"]["id"] == BUSINESS
    upcoming = sdk(stack).v1.invoices.create_preview({"subscription": trialing.id})
    prorations = [line for line in upcoming.lines.data
                  if line.parent is not None and line.parent.subscription_item_details is not None
                  and line.parent.subscription_item_details.proration]
    assert prorations, "the upgrade left proration lines for the next invoice"
    assert sum(line.amount for line in prorations) == round(upgraded.data["prorated_amount"] * 100) > 0
