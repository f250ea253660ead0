"""Stripe events over the whole local path of `make dev`: the emulator signs each event and POSTs it
to the local gateway, the webhook function queues it on moto's SQS, the local event source polls the
queue and runs the worker with a real SQS event (partial batch failures, redrive to the DLQ).

Tenants here are billed in the test account, where the stack gives each customer its own Stripe test
clock (`StripeTestClocks=true`): time moves through Stripe's test clock API only, so the same steps
run against Stripe test mode. Each test checks the tenant against Stripe through the SDK at the end.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
import stripe

from local.stripe_emulator.testing import advance_test_clock
from local.stripe_emulator.webhooks import signature_header
from tests.http.conftest import HttpReply, Stack, request
from tests.http.test_tenant_admin import admin, admin_view, change_subscription, create_tenant, unix

HOUR = 3600
DAY = 86400
PRO, BUSINESS, FREEMIUM, STARTER = "pln_pro", "pln_business", "pln_freemium", "pln_starter"
WEBHOOK = "/v1/webhooks/stripe"
SETTLE_SECONDS = 120  # enough for a message to be received five times (12 s visibility) and dead-lettered


# ------------------------------------------------------------ the path and the clock

def sdk(stack: Stack) -> stripe.StripeClient:
    return stack.stripe("test")


def settle(stack: Stack) -> None:
    """Every event Stripe owes is delivered, and every queued one applied or dead-lettered."""
    flushed = request("POST", f"{stack.info['stripe_url']}/_emulator/deliveries/flush", body={"timeout": 30})
    assert flushed.status == 200, flushed.body
    assert flushed.body["drained"], "the emulator still owes deliveries"
    waited = request("POST", f"{stack.url}/_local/queues/wait?timeout={SETTLE_SECONDS}", timeout=SETTLE_SECONDS + 10)
    assert waited.status == 200, waited.body


def new_tenant(stack: Stack, plan_id: str, *, tenant_type: str = "organization") -> dict[str, Any]:
    tenant = create_tenant(stack, plan_id, chargeable=False, tenant_type=tenant_type)
    settle(stack)
    return tenant


def subscription_of(stack: Stack, tenant: dict[str, Any]) -> stripe.Subscription:
    """The customer's newest subscription, as Stripe has it now."""
    listed = sdk(stack).v1.subscriptions.list({"customer": tenant["stripe_customer_id"], "status": "all"})
    return listed.data[0]


def period_end(subscription: stripe.Subscription) -> int:
    return int(subscription["items"].data[0].current_period_end)


def advance(stack: Stack, tenant: dict[str, Any], to: int) -> int:
    """Move the tenant's test clock to `to` and let every event it brings be applied; the time it moved from."""
    clock = sdk(stack).v1.customers.retrieve(tenant["stripe_customer_id"]).test_clock
    assert isinstance(clock, str), "a test-account tenant of this stack has a test clock"
    start = sdk(stack).v1.test_helpers.test_clocks.retrieve(clock).frozen_time
    advance_test_clock(sdk(stack), clock, to)
    settle(stack)
    return int(start)


def open_invoice(stack: Stack, subscription_id: str) -> stripe.Invoice:
    listed = sdk(stack).v1.invoices.list({"subscription": subscription_id, "status": "open"})
    assert len(listed.data) == 1, [invoice.id for invoice in listed.data]
    return listed.data[0]


def pay_out_of_band(stack: Stack, invoice_id: str) -> stripe.Invoice:
    paid = sdk(stack).v1.invoices.pay(invoice_id, {"paid_out_of_band": True})
    settle(stack)
    return paid


def price_of(stack: Stack, plan_id: str, cycle: str) -> str:
    listed = request("GET", f"{stack.url}/v1/admin/plans?per_page=100", headers=admin(stack))
    assert listed.status == 200, listed.body
    plan = next(item for item in listed.data["items"] if item["id"] == plan_id)
    return str(plan["stripe"]["test"][f"{cycle}_price_id"])


def minor(amount: Any) -> int:
    return int(Decimal(str(amount.get("amount") if isinstance(amount, dict) else amount)) * 100)


# ------------------------------------------------------------ the end state against Stripe

def assert_follows_stripe(stack: Stack, tenant: dict[str, Any]) -> dict[str, Any]:
    """The tenant as the API shows it says what Stripe says (read through the SDK), and the drift
    report finds no difference; the tenant's view."""
    view = dict(admin_view(stack, tenant["id"]).data)
    subscription = subscription_of(stack, tenant)
    mine = next(item for item in view["subscriptions"] if item["id"] == subscription.id)
    item = subscription["items"].data[0]
    assert mine["status"] == subscription.status
    assert (unix(mine["current_period_start"]), unix(mine["current_period_end"])) == (
        item.current_period_start, item.current_period_end)
    assert mine["cancel_at_period_end"] == subscription.cancel_at_period_end
    assert (unix(mine["trial_ends_at"]) if mine["trial_ends_at"] else None) == subscription.trial_end
    if subscription.status not in ("canceled", "incomplete_expired"):
        assert item.price.id == price_of(stack, view["plan"]["id"], view["billing_cycle"])
    owed = sum(invoice.amount_remaining for invoice in sdk(stack).v1.invoices.list(
        {"customer": tenant["stripe_customer_id"], "status": "open"}).data)
    assert minor(view["billing"]["unpaid_balance"]) == owed
    drift = request("GET", f"{stack.url}/v1/admin/tenants/{tenant['id']}/stripe-sync", headers=admin(stack))
    assert drift.status == 200, drift.body
    assert drift.data["in_step"], drift.data["differences"]
    return view


def audit(stack: Stack, tenant_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = request("GET", f"{stack.url}/v1/admin/tenants/{tenant_id}/audit?per_page=100{cursor}",
                       headers=admin(stack))
        assert page.status == 200, page.body
        entries += page.data["items"]
        if not page.data["next_cursor"]:
            return entries
        cursor = f"&cursor={page.data['next_cursor']}"


def stripe_entries(stack: Stack, tenant_id: str) -> list[dict[str, Any]]:
    return [entry for entry in audit(stack, tenant_id) if entry["actor"]["subject"] == "stripe"]


def assert_audited_as_stripes(stack: Stack, tenant: dict[str, Any], *, since: int) -> None:
    """The change is audited with actor stripe, naming the event that brought it: one of the events Stripe
    made from `since` (its clock) on; whichever arrived first applied Stripe's state, the others found the
    tenant in step."""
    recent = {event["id"] for event in events_of_customer(stack, tenant["stripe_customer_id"], since=since)}
    named = {str(entry["reason"]).split()[-1] for entry in stripe_entries(stack, tenant["id"])}
    assert named & recent, (named, recent)


def ledger_entry(stack: Stack, tenant_id: str, invoice_id: str) -> dict[str, Any] | None:
    table = boto3.resource("dynamodb", endpoint_url=stack.info["dynamodb_url"], region_name="us-east-1",
                           aws_access_key_id="local", aws_secret_access_key="local").Table("tenants")
    item = table.get_item(Key={"pk": f"TENANT#{tenant_id}", "sk": f"INVOICE#{invoice_id}"}).get("Item")
    return dict(item) if item else None


# ------------------------------------------------------------ delivering events ourselves

def events_of_customer(stack: Stack, customer_id: str, *, since: int = 0) -> list[dict[str, Any]]:
    """The test account's events about one customer, oldest first, as Stripe sends them."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100, "created[gte]": since}
    while True:
        page = json.loads(sdk(stack).raw_request("get", "/v1/events", **params).body)
        for event in page["data"]:
            target = event["data"]["object"]
            if customer_id in (target.get("customer"), target["id"]):
                found.append(event)
        if not page["has_more"]:
            break
        params["starting_after"] = page["data"][-1]["id"]
    found.reverse()
    return found


def post_event(stack: Stack, event: dict[str, Any], *, secret: str | None = None, age_seconds: int = 0,
               signature: str | None = None, payload: str | None = None) -> HttpReply:
    body = payload if payload is not None else json.dumps(event)
    if signature is None:
        signature = signature_header(body, secret or stack.info["webhook_secrets"]["test"],
                                     int(time.time()) - age_seconds)
    headers = {"Stripe-Signature": signature} if signature else {}
    return request("POST", f"{stack.url}{WEBHOOK}", raw_body=body.encode(), headers=headers)


@contextlib.contextmanager
def deliveries_disabled(stack: Stack) -> Iterator[None]:
    """The stack's endpoint in the test account disabled (as in Stripe's dashboard): events happen and
    are recorded, and nobody delivers them but the test. Enabled again afterwards."""
    settle(stack)
    endpoint = next(endpoint for endpoint in sdk(stack).v1.webhook_endpoints.list().data
                    if endpoint.url == f"{stack.url}{WEBHOOK}")
    sdk(stack).v1.webhook_endpoints.update(endpoint.id, {"disabled": True})
    try:
        yield
    finally:
        sdk(stack).v1.webhook_endpoints.update(endpoint.id, {"disabled": False})


@pytest.fixture
def deliveries_off(stack: Stack) -> Iterator[None]:
    with deliveries_disabled(stack):
        yield


# ------------------------------------------------------------ driven by a test clock

def test_a_trial_that_ends_leaves_the_tenant_active_and_owing_its_first_invoice(stack: Stack) -> None:
    tenant = new_tenant(stack, PRO)
    trialing = subscription_of(stack, tenant)
    assert trialing.status == "trialing"
    assert trialing.trial_end is not None
    moved_from = advance(stack, tenant, int(trialing.trial_end) + 2 * HOUR)
    view = assert_follows_stripe(stack, tenant)
    assert subscription_of(stack, tenant).status == "active"
    assert view["is_on_trial"] is False
    first_invoice = open_invoice(stack, trialing.id)
    assert first_invoice.amount_due > 0
    assert minor(view["billing"]["unpaid_balance"]) == first_invoice.amount_due
    assert_audited_as_stripes(stack, tenant, since=moved_from)


def test_a_renewal_that_pays_starts_the_new_period_and_is_revenue_once(stack: Stack) -> None:
    tenant = new_tenant(stack, STARTER, tenant_type="personal")
    subscription = subscription_of(stack, tenant)
    first = pay_out_of_band(stack, open_invoice(stack, subscription.id).id)
    advance(stack, tenant, period_end(subscription) + 2 * HOUR)
    renewed = subscription_of(stack, tenant)
    assert renewed["items"].data[0].current_period_start == period_end(subscription)
    renewal = pay_out_of_band(stack, open_invoice(stack, subscription.id).id)
    view = assert_follows_stripe(stack, tenant)
    assert unix(view["active_subscription"]["current_period_start"]) == period_end(subscription)
    for invoice in (first, renewal):
        entry = ledger_entry(stack, tenant["id"], invoice.id)
        assert entry is not None, invoice.id
        assert invoice.amount_paid > 0
        assert (int(entry["amount_minor"]), entry["currency"]) == (invoice.amount_paid, "usd")
        assert entry["plan_id"] == STARTER
    assert minor(view["billing"]["unpaid_balance"]) == 0


def test_a_renewal_that_fails_then_pays_suspends_after_the_grace_and_restores(stack: Stack) -> None:
    tenant = new_tenant(stack, STARTER, tenant_type="personal")
    subscription = subscription_of(stack, tenant)
    pay_out_of_band(stack, open_invoice(stack, subscription.id).id)
    renewal_at = period_end(subscription)
    advance(stack, tenant, renewal_at + 2 * HOUR)
    renewal = open_invoice(stack, subscription.id)
    declining = sdk(stack).v1.payment_methods.attach("pm_card_chargeCustomerFail",
                                                     {"customer": tenant["stripe_customer_id"]})
    with pytest.raises(stripe.CardError):
        sdk(stack).v1.invoices.pay(renewal.id, {"payment_method": declining.id})
    settle(stack)
    overdue = assert_follows_stripe(stack, tenant)
    assert overdue["status"] == "active", "within the grace period the tenant keeps working"
    assert overdue["billing"]["overdue_since"] is not None
    assert minor(overdue["billing"]["unpaid_balance"]) == renewal.amount_due > 0

    # Eight days on Stripe's clock for this customer, then the daily reconciliation (no event marks the end
    # of a grace period): suspended for nonpayment.
    later = renewal_at + 8 * DAY
    advance(stack, tenant, later)
    day = datetime.fromtimestamp(later, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ran = request("POST", f"{stack.url}/_local/schedule/StripeReconciliationFunction?time={day}")
    assert ran.status == 200, ran.body
    suspended = assert_follows_stripe(stack, tenant)
    assert (suspended["status"], suspended["status_reason"]) == ("suspended", "nonpayment")

    pay_out_of_band(stack, renewal.id)
    restored = assert_follows_stripe(stack, tenant)
    assert (restored["status"], restored["status_reason"]) == ("active", None)
    assert minor(restored["billing"]["unpaid_balance"]) == 0
    assert ledger_entry(stack, tenant["id"], renewal.id) is not None


def test_a_schedule_switches_the_plan_when_the_clock_crosses_the_period_end(stack: Stack) -> None:
    tenant = new_tenant(stack, BUSINESS)
    changed = change_subscription(stack, tenant["id"], plan_id=PRO, billing_cycle="monthly")
    assert changed.status == 200, changed.body
    settle(stack)
    pending = assert_follows_stripe(stack, tenant)
    assert (pending["plan"]["id"], pending["pending_change"]["plan"]["id"]) == (BUSINESS, PRO)
    switch_at = unix(pending["pending_change"]["starts_at"])
    advance(stack, tenant, switch_at + 2 * HOUR)
    switched = assert_follows_stripe(stack, tenant)
    assert switched["plan"]["id"] == PRO
    assert switched["pending_change"] is None
    assert subscription_of(stack, tenant)["items"].data[0].price.id == price_of(stack, PRO, "monthly")


def test_a_cancel_made_in_stripe_ends_on_the_free_plan_at_period_end(stack: Stack) -> None:
    tenant = new_tenant(stack, PRO)
    subscription = subscription_of(stack, tenant)
    sdk(stack).v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})  # the dashboard
    settle(stack)
    assert assert_follows_stripe(stack, tenant)["active_subscription"]["cancel_at_period_end"] is True
    moved_from = advance(stack, tenant, period_end(subscription) + 2 * HOUR)
    ended = assert_follows_stripe(stack, tenant)
    assert subscription_of(stack, tenant).status == "canceled"
    assert (ended["plan"]["id"], ended["has_active_subscription"]) == (FREEMIUM, False)
    assert_audited_as_stripes(stack, tenant, since=moved_from)


# ------------------------------------------------------------ duplicates and disorder

def test_every_event_delivered_again_changes_nothing(stack: Stack) -> None:
    tenant = new_tenant(stack, PRO)
    subscription = subscription_of(stack, tenant)
    sdk(stack).v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    sdk(stack).v1.subscriptions.update(subscription.id, {"cancel_at_period_end": False})
    assert subscription.trial_end is not None
    advance(stack, tenant, int(subscription.trial_end) + 2 * HOUR)
    paid = pay_out_of_band(stack, open_invoice(stack, subscription.id).id)
    change_subscription(stack, tenant["id"], plan_id=BUSINESS, billing_cycle="monthly")
    settle(stack)
    before = assert_follows_stripe(stack, tenant)
    entries = len(audit(stack, tenant["id"]))
    ledger = ledger_entry(stack, tenant["id"], paid.id)
    events = events_of_customer(stack, tenant["stripe_customer_id"])
    assert {"customer.created", "customer.subscription.created", "customer.subscription.updated",
            "invoice.paid", "subscription_schedule.created"} <= {event["type"] for event in events}

    for event in events:  # Stripe's resend: the same event, signed anew
        resent = request("POST", f"{stack.info['stripe_url']}/_emulator/events/{event['id']}/redeliver")
        assert resent.status == 200, resent.body
    settle(stack)
    for event in events:  # and the route's own answer to a duplicate: acknowledged, nothing queued
        reply = post_event(stack, event)
        assert (reply.status, reply.data["queued"]) == (200, False), reply.body
    settle(stack)
    assert assert_follows_stripe(stack, tenant) == before
    assert len(audit(stack, tenant["id"])) == entries
    assert ledger_entry(stack, tenant["id"], paid.id) == ledger


@pytest.mark.usefixtures("deliveries_off")
@pytest.mark.parametrize("order", ["reversed", "shuffled"])
def test_events_in_any_order_end_in_stripes_latest_state(stack: Stack, order: str) -> None:
    tenant = create_tenant(stack, PRO, chargeable=False)
    subscription = subscription_of(stack, tenant)
    for cancel in (True, False, True):
        sdk(stack).v1.subscriptions.update(subscription.id, {"cancel_at_period_end": cancel})
    sdk(stack).v1.subscriptions.update(subscription.id, {"trial_end": "now"})
    events = events_of_customer(stack, tenant["stripe_customer_id"])
    if order == "reversed":
        events.reverse()
    else:
        random.Random(11).shuffle(events)  # noqa: S311 - an order, not a secret
    for event in events:
        reply = post_event(stack, event)
        assert reply.status == 200, reply.body
        assert reply.data["queued"] is reply.data["followed"], "a followed event is new here: queued once"
    settle(stack)
    view = assert_follows_stripe(stack, tenant)
    assert view["active_subscription"]["cancel_at_period_end"] is True
    assert view["is_on_trial"] is False


@pytest.mark.usefixtures("deliveries_off")
def test_a_stale_update_after_a_newer_one_changes_nothing(stack: Stack) -> None:
    tenant = create_tenant(stack, PRO, chargeable=False)
    subscription = subscription_of(stack, tenant)
    for event in events_of_customer(stack, tenant["stripe_customer_id"]):
        post_event(stack, event)
    sdk(stack).v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    sdk(stack).v1.subscriptions.update(subscription.id, {"cancel_at_period_end": False})
    older, newer = [event for event in events_of_customer(stack, tenant["stripe_customer_id"])
                    if event["type"] == "customer.subscription.updated"][-2:]
    assert older["data"]["object"]["cancel_at_period_end"] is True
    assert post_event(stack, newer).status == 200
    settle(stack)
    before = assert_follows_stripe(stack, tenant)
    entries = len(audit(stack, tenant["id"]))
    assert post_event(stack, older).data["queued"] is True  # a new event to the route, old news to the tenant
    settle(stack)
    assert assert_follows_stripe(stack, tenant) == before
    assert before["active_subscription"]["cancel_at_period_end"] is False
    assert len(audit(stack, tenant["id"])) == entries


# ------------------------------------------------------------ signatures

@pytest.mark.usefixtures("deliveries_off")
@pytest.mark.parametrize("how", ["unsigned", "tampered", "ten minutes old", "the live account's secret"])
def test_a_bad_signature_is_a_400_and_nothing_is_recorded(stack: Stack, how: str) -> None:
    tenant = create_tenant(stack, PRO, chargeable=False)
    subscription = subscription_of(stack, tenant)
    sdk(stack).v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    event = events_of_customer(stack, tenant["stripe_customer_id"])[-1]
    payload = json.dumps(event)
    if how == "unsigned":
        reply = post_event(stack, event, signature="")
    elif how == "tampered":
        signed = signature_header(payload, stack.info["webhook_secrets"]["test"], int(time.time()))
        reply = post_event(stack, event, signature=signed,
                           payload=payload.replace('"cancel_at_period_end": true', '"cancel_at_period_end": false'))
    elif how == "ten minutes old":
        reply = post_event(stack, event, age_seconds=600)
    else:
        reply = post_event(stack, event, secret=stack.info["webhook_secrets"]["live"])
    assert reply.status == 400, reply.body
    settle(stack)
    assert admin_view(stack, tenant["id"]).data["active_subscription"]["cancel_at_period_end"] is False
    assert post_event(stack, event).data["queued"] is True, "the refused delivery recorded nothing"


# ------------------------------------------------------------ failures in the worker

def sqs(stack: Stack) -> Any:
    return boto3.client("sqs", endpoint_url=stack.info["sqs_url"], region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def dead_letters(stack: Stack) -> list[dict[str, Any]]:
    url = stack.info["queue_urls"]["StripeEventsDeadLetterQueue"]
    got = sqs(stack).receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(message["Body"]) for message in got.get("Messages", [])]


def test_an_event_the_worker_fails_every_time_lands_in_the_dlq_and_the_rest_of_its_batch_is_applied(
        stack: Stack) -> None:
    failing, healthy = new_tenant(stack, PRO), new_tenant(stack, PRO)
    # Stripe fails every read of one customer: each receive of its event fails, the others' do not.
    fault = {"mode": "error", "status": 500, "count": 1000, "method": "GET",
             "path_prefix": f"/v1/customers/{failing['stripe_customer_id']}"}
    armed = request("POST", f"{stack.info['stripe_url']}/_emulator/faults", body=fault)
    assert armed.status == 200, armed.body
    try:
        for tenant in (failing, healthy):
            sdk(stack).v1.subscriptions.update(subscription_of(stack, tenant).id, {"cancel_at_period_end": True})
        settle(stack)
    finally:
        request("DELETE", f"{stack.info['stripe_url']}/_emulator/faults")
    assert admin_view(stack, healthy["id"]).data["active_subscription"]["cancel_at_period_end"] is True
    assert admin_view(stack, failing["id"]).data["active_subscription"]["cancel_at_period_end"] is False
    dead = dead_letters(stack)
    assert [(letter["type"], letter["customer_id"]) for letter in dead] == [
        ("customer.subscription.updated", failing["stripe_customer_id"])]
    assert_follows_stripe(stack, healthy)


# ------------------------------------------------------------ drift

def test_a_change_made_only_in_stripe_is_reported_and_repaired(stack: Stack) -> None:
    tenant = new_tenant(stack, PRO)
    subscription = subscription_of(stack, tenant)
    with deliveries_disabled(stack):  # the change's events never arrive
        sdk(stack).v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    path = f"{stack.url}/v1/admin/tenants/{tenant['id']}/stripe-sync"
    report = request("GET", path, headers=admin(stack))
    assert report.status == 200, report.body
    assert not report.data["in_step"]
    assert {"field": "subscription.cancel_at_period_end", "local": False, "stripe": True} in [
        {key: difference[key] for key in ("field", "local", "stripe")} for difference in report.data["differences"]]
    repaired = request("POST", path, headers={**admin(stack), "Idempotency-Key": f"repair-{tenant['id']}"})
    assert repaired.status == 200, repaired.body
    assert repaired.data["repaired"] is True
    assert_follows_stripe(stack, tenant)
    assert any(entry["actor"]["subject"] == "api-key" and "stripe" in (entry["reason"] or "").lower()
               for entry in audit(stack, tenant["id"]))

