"""Seed 002's tenant admin operations over HTTP on the local stack (`make dev`):
create, status, subscription change (now, at period end, preview), trial
extension, deletion and details. Each test reads Stripe's side back from the
emulator through the real SDK, in the live account (tenants are chargeable by
default). The stack is shared by the session, so every tenant and plan made
here has a unique name, email and subdomain."""

from __future__ import annotations

import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import stripe

from local.tokens import issue_token
from tests.http.conftest import HttpReply, Stack, request

DAY = 86400
PRO = "pln_pro"  # organization, $29 a month, 14-day trial


# ------------------------------------------------------------ helpers

def admin(stack: Stack) -> dict[str, str]:
    return {"X-Api-Key": stack.info["admin_api_key"]}


def suffix() -> str:
    return uuid.uuid4().hex[:12]


def create_tenant(stack: Stack, plan_id: str = PRO, cycle: str = "monthly", *, chargeable: bool = True,
                  tenant_type: str = "organization") -> dict[str, Any]:
    tag = suffix()
    body = {"name": f"Tenant {tag}", "email": f"billing-{tag}@example.com", "type": tenant_type,
            "plan_id": plan_id, "billing_cycle": cycle, "subdomain_preference": f"t-{tag}",
            "owner_user_id": f"user-{tag}", "chargeable": chargeable}
    reply = request("POST", f"{stack.url}/v1/admin/tenants", body=body, headers=admin(stack))
    assert reply.status == 201, reply.body
    return dict(reply.data)


def owner(stack: Stack, tenant: dict[str, Any]) -> dict[str, str]:
    user_id = next(member["user_id"] for member in tenant["memberships"] if member["role"] == "owner")
    return {"Authorization": f"Bearer {issue_token(stack.info['jwt_secret'], user_id)}"}


def admin_view(stack: Stack, tenant_id: str) -> HttpReply:
    return request("GET", f"{stack.url}/v1/admin/tenants/{tenant_id}", headers=admin(stack))


def change_subscription(stack: Stack, tenant_id: str, **body: Any) -> HttpReply:
    return request("PUT", f"{stack.url}/v1/admin/tenants/{tenant_id}/subscription", body=body,
                   headers=admin(stack))


def price_of(stack: Stack, plan_id: str, cycle: str) -> str:
    listed = request("GET", f"{stack.url}/v1/admin/plans?type=organization&per_page=100", headers=admin(stack))
    plan = next(item for item in listed.data["items"] if item["id"] == plan_id)
    return str(plan["stripe"]["live"][f"{cycle}_price_id"])


def sdk(stack: Stack) -> stripe.StripeClient:
    return stack.stripe("live")


def stripe_subscription(stack: Stack, tenant: dict[str, Any]) -> stripe.Subscription:
    return sdk(stack).v1.subscriptions.retrieve(tenant["active_subscription"]["id"])


def item_price(subscription: stripe.Subscription) -> str:
    return str(subscription["items"].data[0].price.id)


def phase_prices(schedule: stripe.SubscriptionSchedule) -> list[str]:
    return [str(getattr(phase.items[0].price, "id", phase.items[0].price)) for phase in schedule.phases]


def unix(iso_time: str) -> int:
    return int(datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp())


@pytest.fixture(scope="module")
def team_plan(stack: Stack) -> dict[str, Any]:
    """An organization plan with no trial, $79 a month, made for this module."""
    tag = suffix()
    body = {"name": f"Team {tag}", "type": "organization", "tier": f"team-{tag}", "price_monthly": 79,
            "price_annual": 790}
    reply = request("POST", f"{stack.url}/v1/admin/plans", body=body, headers=admin(stack))
    assert reply.status == 201, reply.body
    return dict(reply.data)


@pytest.fixture(scope="module")
def scale_plan(stack: Stack) -> dict[str, Any]:
    """A dearer organization plan with no trial, $199 a month."""
    tag = suffix()
    body = {"name": f"Scale {tag}", "type": "organization", "tier": f"scale-{tag}", "price_monthly": 199,
            "price_annual": 1990}
    reply = request("POST", f"{stack.url}/v1/admin/plans", body=body, headers=admin(stack))
    assert reply.status == 201, reply.body
    return dict(reply.data)


# ------------------------------------------------------------ create

def test_an_organization_on_pro_monthly_starts_a_14_day_trial_in_stripe(stack: Stack) -> None:
    tenant = create_tenant(stack)
    assert (tenant["plan"]["id"], tenant["billing_cycle"], tenant["is_on_trial"]) == (PRO, "monthly", True)
    assert tenant["trial_days_remaining"] == 14
    customer = sdk(stack).v1.customers.retrieve(tenant["stripe_customer_id"])
    assert customer.metadata is not None
    assert customer.metadata["tenant_id"] == tenant["id"]
    subscription = stripe_subscription(stack, tenant)
    assert subscription.status == "trialing"
    assert subscription.customer == tenant["stripe_customer_id"]
    assert item_price(subscription) == price_of(stack, PRO, "monthly")
    assert int(str(subscription.trial_end)) - int(str(subscription.trial_start)) == 14 * DAY


# ------------------------------------------------------------ status

def test_suspending_without_a_reason_is_a_422_and_changes_nothing(stack: Stack) -> None:
    tenant = create_tenant(stack)
    reply = request("PUT", f"{stack.url}/v1/admin/tenants/{tenant['id']}/status", body={"status": "suspended"},
                    headers=admin(stack))
    assert reply.status == 422, reply.body
    assert "reason" in reply.body["errors"]
    assert admin_view(stack, tenant["id"]).data["status"] == "active"


def test_a_suspended_tenant_refuses_its_owner_but_not_an_admin(stack: Stack) -> None:
    tenant = create_tenant(stack)
    plan_url = f"{stack.url}/v1/tenants/{tenant['id']}/plan"
    assert request("GET", plan_url, headers=owner(stack, tenant)).status == 200
    reply = request("PUT", f"{stack.url}/v1/admin/tenants/{tenant['id']}/status", headers=admin(stack),
                    body={"status": "suspended", "reason": "unpaid invoices"})
    assert reply.status == 200, reply.body
    assert (reply.data["status"], reply.data["status_reason"]) == ("suspended", "unpaid invoices")
    refused = request("GET", plan_url, headers=owner(stack, tenant))
    assert refused.status == 403
    assert "suspended" in refused.body["message"]
    assert request("GET", plan_url, headers=admin(stack)).status == 200
    assert stripe_subscription(stack, tenant).status == "trialing", "suspension is local: Stripe is untouched"


def test_reactivating_a_suspended_tenant_lets_its_owner_back_in(stack: Stack) -> None:
    tenant = create_tenant(stack)
    status_url = f"{stack.url}/v1/admin/tenants/{tenant['id']}/status"
    request("PUT", status_url, headers=admin(stack), body={"status": "suspended", "reason": "fraud review"})
    reply = request("PUT", status_url, headers=admin(stack), body={"status": "active"})
    assert reply.status == 200, reply.body
    assert reply.data["status"] == "active"
    assert request("GET", f"{stack.url}/v1/tenants/{tenant['id']}/plan", headers=owner(stack, tenant)).status == 200


# ------------------------------------------------------------ subscription: now

def test_a_change_starting_now_puts_the_new_plans_price_on_the_stripe_item(
        stack: Stack, team_plan: dict[str, Any]) -> None:
    tenant = create_tenant(stack)
    reply = change_subscription(stack, tenant["id"], plan_id=team_plan["id"], billing_cycle="annual",
                                starts_immediately=True)
    assert reply.status == 200, reply.body
    changed = reply.data["tenant"]
    assert (changed["plan"]["id"], changed["billing_cycle"], changed["pending_change"]) == (
        team_plan["id"], "annual", None)
    assert reply.data["subscription"]["plan"]["id"] == team_plan["id"]
    subscription = stripe_subscription(stack, tenant)
    assert item_price(subscription) == team_plan["stripe"]["live"]["annual_price_id"]
    assert subscription.schedule is None


# ------------------------------------------------------------ subscription: at period end

def test_a_change_at_period_end_is_a_schedule_from_the_current_price_to_the_new_one(
        stack: Stack, team_plan: dict[str, Any]) -> None:
    tenant = create_tenant(stack)
    reply = change_subscription(stack, tenant["id"], plan_id=team_plan["id"], billing_cycle="monthly")
    assert reply.status == 200, reply.body
    changed = reply.data["tenant"]
    assert changed["plan"]["id"] == PRO, "the tenant keeps its plan until the period ends"
    assert (changed["pending_change"]["plan"]["id"], changed["pending_change"]["billing_cycle"]) == (
        team_plan["id"], "monthly")
    subscription = stripe_subscription(stack, tenant)
    assert item_price(subscription) == price_of(stack, PRO, "monthly")
    assert subscription.schedule is not None
    schedule = sdk(stack).v1.subscription_schedules.retrieve(str(subscription.schedule))
    assert phase_prices(schedule) == [price_of(stack, PRO, "monthly"), team_plan["stripe"]["live"]["monthly_price_id"]]
    period_end = subscription["items"].data[0].current_period_end
    assert schedule.phases[1].start_date == period_end
    assert unix(changed["pending_change"]["starts_at"]) == period_end


def test_choosing_the_current_plan_again_drops_the_pending_change_and_releases_the_schedule(
        stack: Stack, team_plan: dict[str, Any]) -> None:
    tenant = create_tenant(stack)
    change_subscription(stack, tenant["id"], plan_id=team_plan["id"], billing_cycle="monthly")
    schedule_id = str(stripe_subscription(stack, tenant).schedule)
    reply = change_subscription(stack, tenant["id"], plan_id=PRO, billing_cycle="monthly")
    assert reply.status == 200, reply.body
    assert reply.data["tenant"]["pending_change"] is None
    assert sdk(stack).v1.subscription_schedules.retrieve(schedule_id).status == "released"
    subscription = stripe_subscription(stack, tenant)
    assert subscription.schedule is None
    assert item_price(subscription) == price_of(stack, PRO, "monthly")


# ------------------------------------------------------------ subscription: preview

def test_a_preview_of_a_change_at_period_end_bills_nothing_now_and_the_new_price_next(
        stack: Stack, team_plan: dict[str, Any]) -> None:
    tenant = create_tenant(stack)
    before = stripe_subscription(stack, tenant).to_dict()
    reply = change_subscription(stack, tenant["id"], plan_id=team_plan["id"], billing_cycle="monthly",
                                preview=True)
    assert reply.status == 200, reply.body
    preview = reply.data["preview"]
    assert preview["lines"], preview
    assert preview["amount_due_now"] == 0
    assert Decimal(str(preview["next_invoice_total"])) == Decimal("79")
    assert_nothing_changed(stack, tenant, before, reply)


def test_a_prorated_preview_of_an_upgrade_now_puts_the_prorations_on_the_next_invoice_and_changes_nothing(
        stack: Stack, team_plan: dict[str, Any], scale_plan: dict[str, Any]) -> None:
    tenant = create_tenant(stack, plan_id=team_plan["id"])
    before = stripe_subscription(stack, tenant).to_dict()
    reply = change_subscription(stack, tenant["id"], plan_id=scale_plan["id"], billing_cycle="monthly",
                                starts_immediately=True, prorate=True, preview=True)
    assert reply.status == 200, reply.body
    preview = reply.data["preview"]
    prorations = sum(Decimal(str(line["amount"])) for line in preview["lines"] if line["proration"])
    assert Decimal(str(preview["proration_total"])) == prorations
    assert preview["amount_due_now"] == 0, "within the same cycle nothing is charged at once"
    assert Decimal(0) < prorations <= Decimal(199 - 79), "an upgrade bills at most the difference for the period"
    assert Decimal(str(preview["next_invoice_total"])) == prorations + Decimal(199)
    assert_nothing_changed(stack, tenant, before, reply)


def assert_nothing_changed(stack: Stack, tenant: dict[str, Any], stripe_before: dict[str, Any],
                           reply: HttpReply) -> None:
    assert stripe_subscription(stack, tenant).to_dict() == stripe_before
    assert sdk(stack).v1.subscription_schedules.list({"customer": tenant["stripe_customer_id"]}).data == []
    stored = admin_view(stack, tenant["id"]).data
    assert (stored["plan"]["id"], stored["pending_change"], stored["version"]) == (
        tenant["plan"]["id"], None, tenant["version"])
    assert reply.data["tenant"]["plan"]["id"] == tenant["plan"]["id"]


# ------------------------------------------------------------ trial

def test_extending_a_trial_moves_stripes_trial_end_by_the_days_given(stack: Stack) -> None:
    tenant = create_tenant(stack)
    trial_end = int(str(stripe_subscription(stack, tenant).trial_end))
    reply = request("POST", f"{stack.url}/v1/admin/tenants/{tenant['id']}/extend-trial", headers=admin(stack),
                    body={"days": 7, "reason": "onboarding took longer"})
    assert reply.status == 200, reply.body
    assert reply.body["message"] == "Trial extended by 7 days"
    assert reply.data["status"] == "trialing"
    moved = stripe_subscription(stack, tenant)
    assert moved.status == "trialing"
    assert moved.trial_end == trial_end + 7 * DAY
    assert unix(reply.data["trial_ends_at"]) == trial_end + 7 * DAY


# ------------------------------------------------------------ deletion

def test_a_deleted_tenant_is_canceled_in_stripe_gone_for_its_owner_and_kept_for_admins(stack: Stack) -> None:
    tenant = create_tenant(stack)
    tenant_url = f"{stack.url}/v1/admin/tenants/{tenant['id']}"
    deleted = request("DELETE", tenant_url, headers=admin(stack))
    assert deleted.status == 200, deleted.body
    assert deleted.data["id"] == tenant["id"]
    assert stripe_subscription(stack, tenant).status == "canceled"
    assert request("GET", f"{stack.url}/v1/tenants/{tenant['id']}/plan", headers=owner(stack, tenant)).status == 404
    kept = admin_view(stack, tenant["id"])
    assert kept.status == 200, kept.body
    assert kept.data["deleted_at"] is not None
    assert request("DELETE", tenant_url, headers=admin(stack)).status == 404


# ------------------------------------------------------------ details

def test_admin_details_show_the_invoices_and_payment_methods_stripe_holds(stack: Stack) -> None:
    tenant = create_tenant(stack)
    customer_id = tenant["stripe_customer_id"]
    sdk(stack).v1.payment_methods.attach("pm_card_visa", {"customer": customer_id})
    reply = admin_view(stack, tenant["id"])
    assert reply.status == 200, reply.body
    details = reply.data
    assert details["warnings"] == []
    assert [(method["type"], method["brand"], method["last4"]) for method in details["payment_methods"]] == [
        ("card", "visa", "4242")]
    invoices = sdk(stack).v1.invoices.list({"customer": customer_id}).data
    assert [invoice["id"] for invoice in details["invoices"]] == [invoice.id for invoice in invoices]
    assert details["invoices_count"] == len(invoices)
    assert details["organization"]["subdomain"] == tenant["subdomain_preference"]


# ------------------------------------------------------------ concurrency

def test_two_concurrent_changes_of_one_tenant_are_one_success_and_one_conflict(
        stack: Stack, team_plan: dict[str, Any]) -> None:
    """The first change to reach Stripe is held there (an emulator fault) until the other has
    answered, so the two overlap however the threads are scheduled."""
    tenant = create_tenant(stack)
    subscription_id = tenant["active_subscription"]["id"]
    wanted = {team_plan["id"]: team_plan["stripe"]["live"]["monthly_price_id"],
              PRO: price_of(stack, PRO, "annual")}
    bodies = [{"plan_id": team_plan["id"], "billing_cycle": "monthly", "starts_immediately": True},
              {"plan_id": PRO, "billing_cycle": "annual", "starts_immediately": True}]
    faults = f"{stack.info['stripe_url']}/_emulator/faults"
    request("POST", faults, body={"mode": "hang", "status": 500, "count": 1, "method": "POST",
                                  "path_prefix": f"/v1/subscriptions/{subscription_id}", "seconds": 20})
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {pool.submit(change_subscription, stack, tenant["id"], **body): body for body in bodies}
            first, _ = wait(futures, return_when=FIRST_COMPLETED)
            request("DELETE", faults)  # the held change goes on
            replies = {futures[future]["plan_id"]: future.result() for future in futures}
    finally:
        request("DELETE", faults)
    assert sorted(reply.status for reply in replies.values()) == [200, 409], {
        plan: reply.body for plan, reply in replies.items()}
    assert next(iter(first)).result().status == 409
    winner = next(plan for plan, reply in replies.items() if reply.status == 200)
    assert item_price(stripe_subscription(stack, tenant)) == wanted[winner]
    assert admin_view(stack, tenant["id"]).data["plan"]["id"] == winner
