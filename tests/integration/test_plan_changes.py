"""An owner's own plan changes (seed 003 §5-§8), in-process against moto and the Stripe emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support import ADMIN_API_KEY, invoke, token

OWNER = "user-plan-owner"


@pytest.fixture
def solo_plan(catalog: dict[str, Any]) -> dict[str, Any]:
    """A cheaper organization plan than Pro: one member, five workflows."""
    reply = invoke("POST", "/v1/admin/plans", api_key=ADMIN_API_KEY, body={
        "name": "Solo", "type": "organization", "tier": "solo", "price_monthly": 9, "price_annual": 90,
        "limits": {"max_members_per_workspace": 1, "max_workflows_per_workspace": 5}})
    assert reply.status == 201, reply.body
    return dict(reply.data)


@pytest.fixture
def tenant(catalog: dict[str, Any]) -> dict[str, Any]:
    reply = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Plan Corp", "email": "owner@plan.example", "type": "organization", "plan_id": "pln_pro",
        "billing_cycle": "monthly", "owner_user_id": OWNER})
    assert reply.status == 201, reply.body
    return dict(reply.data)


def owner_call(tenant_id: str, action: str, target: str) -> Any:
    return invoke("POST", f"/v1/tenants/{tenant_id}/plan/{action}", token=token(OWNER), body={"target_plan_id": target})


def fill(tenant_id: str, members: int, workflows: int) -> None:
    for index in range(members):
        added = invoke("POST", f"/v1/tenants/{tenant_id}/members", token=token(OWNER),
                       body={"email": f"m{index}@plan.example", "user_id": f"user-m{index}"})
        assert added.status == 201, added.body
    assert invoke("POST", f"/v1/tenants/{tenant_id}/usage", api_key=ADMIN_API_KEY,
                  body={"metric": "workflows", "amount": workflows}).status == 200


def test_check_upgrade_answers_seed_003s_fields(tenant: dict[str, Any], solo_plan: dict[str, Any]) -> None:
    up = owner_call(tenant["id"], "check-upgrade", "pln_business")
    assert up.status == 200, up.body
    assert (up.data["eligible"], up.data["is_upgrade"], up.data["price_difference_monthly"], up.data["issues"]) == (
        True, True, 270.0, None)
    assert (up.data["current_plan"]["id"], up.data["target_plan"]["id"]) == ("pln_pro", "pln_business")
    cheaper = owner_call(tenant["id"], "check-upgrade", solo_plan["id"]).data
    assert (cheaper["eligible"], cheaper["is_upgrade"]) == (False, False)
    assert "that is a downgrade, not an upgrade" in cheaper["issues"][0]


def test_check_downgrade_names_every_metric_over_the_targets_limit_with_both_numbers(
        tenant: dict[str, Any], solo_plan: dict[str, Any]) -> None:
    fill(tenant["id"], members=2, workflows=7)
    down = owner_call(tenant["id"], "check-downgrade", solo_plan["id"])
    assert down.status == 200, down.body
    assert down.data["eligible"] is False
    assert down.data["monthly_savings"] == 20.0
    assert down.data["blocking_issues"] == ["members: 3 in use, Solo allows 1", "workflows: 7 in use, Solo allows 5"]
    dearer = owner_call(tenant["id"], "check-downgrade", "pln_business").data
    assert "that is an upgrade, not a downgrade" in dearer["blocking_issues"][0]


def test_a_downgrade_blocked_by_members_is_allowed_once_they_are_removed_and_waits_for_the_period_end(
        tenant: dict[str, Any], solo_plan: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    fill(tenant["id"], members=1, workflows=2)
    refused = owner_call(tenant["id"], "downgrade", solo_plan["id"])
    assert refused.status == 400
    assert refused.body["message"] == "members: 2 in use, Solo allows 1"
    assert invoke("DELETE", f"/v1/tenants/{tenant['id']}/members/user-m0", token=token(OWNER)).status == 200
    scheduled = owner_call(tenant["id"], "downgrade", solo_plan["id"])
    assert scheduled.status == 200, scheduled.body
    assert (scheduled.data["new_plan_id"], scheduled.data["canceled_pending"]) == (solo_plan["id"], False)
    plan_view = invoke("GET", f"/v1/tenants/{tenant['id']}/plan", token=token(OWNER)).data
    assert (plan_view["plan"]["id"], plan_view["pending_downgrade"]["id"]) == ("pln_pro", solo_plan["id"])
    assert plan_view["usage"]["workflows"]["limit"] == 100, "the limits drop when Stripe switches, not before"
    subscription = stripe_sdk("live").v1.subscriptions.retrieve(tenant["active_subscription"]["id"])
    assert subscription.schedule is not None
    assert scheduled.data["downgraded_at"] == plan_view["billing"]["period_end"]

    kept = owner_call(tenant["id"], "downgrade", "pln_pro")  # the current plan: the pending downgrade goes
    assert kept.status == 200, kept.body
    assert kept.data["canceled_pending"] is True
    assert invoke("GET", f"/v1/tenants/{tenant['id']}/plan", token=token(OWNER)).data["pending_downgrade"] is None


def test_an_upgrade_takes_effect_now_prorated_in_stripe(tenant: dict[str, Any],
                                                        stripe_sdk: Callable[[str], Any]) -> None:
    client = stripe_sdk("live")
    subscription_id = tenant["active_subscription"]["id"]
    client.v1.subscriptions.update(subscription_id, {"trial_end": "now"})  # paying: prorations are not zero
    upgraded = owner_call(tenant["id"], "upgrade", "pln_business")
    assert upgraded.status == 200, upgraded.body
    assert (upgraded.data["success"], upgraded.data["new_plan_id"], upgraded.data["currency"]) == (
        True, "pln_business", "usd")
    assert upgraded.data["prorated_amount"] > 0
    plan_view = invoke("GET", f"/v1/tenants/{tenant['id']}/plan", token=token(OWNER)).data
    assert plan_view["plan"]["id"] == "pln_business"
    subscription = client.v1.subscriptions.retrieve(subscription_id)
    business = invoke("GET", "/v1/admin/plans", api_key=ADMIN_API_KEY, query={"type": "organization"}).data
    price = next(plan for plan in business["items"] if plan["id"] == "pln_business")["stripe"]["live"]
    assert subscription["items"].data[0].price.id == price["monthly_price_id"]
    upcoming = client.v1.invoices.create_preview({"subscription": subscription_id})
    prorations = sum(line.amount for line in upcoming.lines.data if _is_proration(line))
    assert prorations == round(upgraded.data["prorated_amount"] * 100)


def _is_proration(line: Any) -> bool:
    parent = getattr(line, "parent", None)
    details = getattr(parent, "subscription_item_details", None) if parent else None
    return bool(getattr(details, "proration", False))


def test_the_owner_alone_changes_the_plan(tenant: dict[str, Any]) -> None:
    added = invoke("POST", f"/v1/tenants/{tenant['id']}/members", token=token(OWNER),
                   body={"email": "m@plan.example", "user_id": "user-m"})
    assert added.status == 201
    by_member = invoke("POST", f"/v1/tenants/{tenant['id']}/plan/upgrade", token=token("user-m"),
                       body={"target_plan_id": "pln_business"})
    assert by_member.status == 403
