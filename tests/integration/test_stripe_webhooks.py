"""The Stripe webhook route and the events worker, in-process against moto and the emulator."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from saas_core.repositories import tenants
from tests.integration.stripe_events_support import Queues, context, deliver, events_of, make_queue, run_worker
from tests.support import ADMIN_API_KEY, invoke


@pytest.fixture
def queue(catalog: dict[str, Any]) -> tuple[Queues, str]:
    return make_queue()


@pytest.fixture
def tenant(catalog: dict[str, Any]) -> dict[str, Any]:
    reply = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Acme Corp", "email": "admin@acme.example", "type": "organization", "plan_id": "pln_pro",
        "billing_cycle": "monthly", "owner_user_id": "user-acme"})
    assert reply.status == 201, reply.body
    data: dict[str, Any] = reply.data
    return data


def test_an_event_is_queued_once_and_a_duplicate_queues_nothing(queue: tuple[Queues, str], tenant: dict[str, Any],
                                                               stripe_sdk: Callable[[str], Any]) -> None:
    queues, _ = queue
    event = events_of(stripe_sdk("live"), types=["customer.subscription.created"])[0]
    first = deliver(event)
    assert first.status == 200, first.body
    assert first.data == {"event_id": event["id"], "type": event["type"], "followed": True, "queued": True}
    again = deliver(event)
    assert again.status == 200
    assert again.data["queued"] is False
    assert queues.depth() == 1


def test_an_event_type_nobody_follows_is_acknowledged_with_nothing_written_or_queued(
        queue: tuple[Queues, str], tenant: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    import boto3

    queues, _ = queue
    event = events_of(stripe_sdk("live"), types=["customer.created"])[0]
    reply = deliver(event)
    assert reply.status == 200, reply.body
    assert (reply.data["followed"], reply.data["queued"]) == (False, False)
    assert queues.depth() == 0
    recorded = boto3.client("dynamodb", region_name="us-east-1").scan(TableName="idempotency")["Items"]
    assert not [item for item in recorded if event["id"] in item["id"]["S"]]


@pytest.mark.parametrize("how", ["unsigned", "tampered", "too old", "other account's secret"])
def test_a_bad_signature_gets_400_and_writes_nothing(how: str, queue: tuple[Queues, str], tenant: dict[str, Any],
                                                    stripe_sdk: Callable[[str], Any]) -> None:
    queues, _ = queue
    event = events_of(stripe_sdk("live"), types=["customer.subscription.created"])[0]
    import json

    from local.stripe_emulator.webhooks import signature_header
    from tests.integration.stripe_events_support import SECRETS

    payload = json.dumps(event)
    if how == "unsigned":
        reply = deliver(payload, signature="")
    elif how == "tampered":
        signature = signature_header(payload, SECRETS["live"], int(__import__("time").time()))
        reply = deliver(payload.replace('"livemode": true', '"livemode": true ', 1) + " ", signature=signature)
    elif how == "too old":
        reply = deliver(payload, age_seconds=600)
    else:
        reply = deliver(payload, secret=SECRETS["test"])
    assert reply.status == 400, reply.body
    assert queues.depth() == 0
    assert deliver(event).data["queued"] is True  # nothing was recorded by the refused delivery


def test_an_account_without_a_signing_secret_accepts_no_event_not_even_one_signed_with_nothing(
        queue: tuple[Queues, str], tenant: dict[str, Any], stripe_sdk: Callable[[str], Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from local.invoke import cold_start

    queues, _ = queue
    monkeypatch.setenv("STRIPE_LIVE_WEBHOOK_SECRET", "")
    cold_start()
    event = events_of(stripe_sdk("live"), types=["customer.subscription.created"])[0]
    reply = deliver(event, secret="")  # an HMAC with an empty key is something anyone can make
    assert reply.status == 400
    assert "live account" in reply.body["message"]
    assert queues.depth() == 0


def test_the_worker_follows_a_cancel_in_stripe_in_any_order(queue: tuple[Queues, str], tenant: dict[str, Any],
                                                            stripe_sdk: Callable[[str], Any]) -> None:
    queues, arn = queue
    client = stripe_sdk("live")
    subscription_id = tenant["active_subscription"]["id"]
    client.v1.subscriptions.update(subscription_id, {"cancel_at_period_end": True})
    client.v1.subscriptions.cancel(subscription_id)
    events = events_of(client)
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)  # noqa: S311 - an order, not a secret
    for event in [*reversed(events), *shuffled]:
        assert deliver(event).status == 200
    assert run_worker(queues, arn) == []
    stored = tenants.require(tenant["id"])
    assert stored.subscription is not None
    assert stored.subscription.status == "canceled"
    assert not stored.has_active_subscription


# ------------------------------------------------------------ helpers of the scenarios below

def deliver_all(events: list[dict[str, Any]]) -> None:
    for event in events:
        reply = deliver(event)
        assert reply.status == 200, reply.body


def stored(tenant_id: str) -> Any:
    return tenants.require(tenant_id)


def first_invoice(client: Any, subscription_id: str) -> Any:
    """End the trial now: Stripe invoices the first period (sent, so it stays open until paid)."""
    client.v1.subscriptions.update(subscription_id, {"trial_end": "now"})
    listed = client.v1.invoices.list({"subscription": subscription_id, "status": "open"})
    return listed.data[0]


def test_every_event_twice_changes_nothing_the_second_time(queue: tuple[Queues, str], tenant: dict[str, Any],
                                                           stripe_sdk: Callable[[str], Any]) -> None:
    from saas_core.repositories import revenue

    queues, arn = queue
    client = stripe_sdk("live")
    invoice = client.v1.invoices.pay(first_invoice(client, tenant["active_subscription"]["id"]).id,
                                     {"paid_out_of_band": True})
    client.v1.subscriptions.update(tenant["active_subscription"]["id"], {"cancel_at_period_end": True})
    events = events_of(client)
    deliver_all(events)
    assert run_worker(queues, arn) == []
    first = stored(tenant["id"])
    assert first.subscription is not None
    assert first.subscription.cancel_at_period_end is True
    entry = revenue.entry(tenant["id"], invoice.id)
    assert entry is not None
    assert entry["amount_minor"] == invoice.amount_paid
    day = f"REVENUE#DAY#{str(entry['paid_at'])[:10]}"
    day_total = revenue.period_total(day, "usd")
    assert day_total == (invoice.amount_paid, 1)

    # Stripe delivers every one of them again (new signatures, same events): nothing moves.
    for event in events:
        assert deliver(event).data["queued"] is False
    assert queues.depth() == 0
    # Even past the route (a record lost, the queue redelivering): the worker changes nothing.
    import json
    import time

    from local.stripe_emulator.webhooks import signature_header
    from saas_core.services import stripe_events
    from saas_core.stripe_webhooks import verify
    from tests.integration.stripe_events_support import SECRETS

    for event in events:
        payload = json.dumps(event)
        stripe_events.apply(verify(payload, signature_header(payload, SECRETS["live"], int(time.time()))))
    assert stored(tenant["id"]).version == first.version
    assert revenue.period_total(day, "usd") == day_total


def test_a_stale_update_after_a_newer_one_leaves_stripes_latest_state(
        queue: tuple[Queues, str], tenant: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    queues, arn = queue
    client = stripe_sdk("live")
    subscription_id = tenant["active_subscription"]["id"]
    client.v1.subscriptions.update(subscription_id, {"cancel_at_period_end": True})
    client.v1.subscriptions.update(subscription_id, {"cancel_at_period_end": False})
    updates = events_of(client, types=["customer.subscription.updated"])
    deliver_all([updates[-1]])
    assert run_worker(queues, arn) == []
    version = stored(tenant["id"]).version
    deliver_all([updates[0]])  # the older update, delivered late
    assert run_worker(queues, arn) == []
    after = stored(tenant["id"])
    assert after.subscription is not None
    assert after.subscription.cancel_at_period_end is False
    assert after.version == version


def test_an_unpaid_invoice_suspends_after_the_grace_period_and_payment_restores(
        queue: tuple[Queues, str], tenant: dict[str, Any], stripe_sdk: Callable[[str], Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from local.invoke import cold_start

    monkeypatch.setenv("PAYMENT_GRACE_DAYS", "0")  # no clock to move in-process: the grace is over at once
    cold_start()
    queues, arn = queue
    client = stripe_sdk("live")
    invoice = first_invoice(client, tenant["active_subscription"]["id"])
    import stripe

    # Attaches, then every charge fails (pm_card_chargeDeclined would be refused at attach).
    declined = client.v1.payment_methods.attach("pm_card_chargeCustomerFail",
                                                {"customer": tenant["stripe_customer_id"]})
    with pytest.raises(stripe.CardError):
        client.v1.invoices.pay(invoice.id, {"payment_method": declined.id})
    deliver_all(events_of(client, types=["invoice.payment_failed"]))
    assert run_worker(queues, arn) == []
    suspended = stored(tenant["id"])
    assert (suspended.status.value, suspended.status_reason) == ("suspended", "nonpayment")
    assert suspended.billing.unpaid_minor == invoice.amount_due > 0
    client.v1.invoices.pay(invoice.id, {"paid_out_of_band": True})
    deliver_all(events_of(client, types=["invoice.paid"]))
    assert run_worker(queues, arn) == []
    restored = stored(tenant["id"])
    assert (restored.status.value, restored.status_reason, restored.billing.unpaid_minor) == ("active", None, 0)


def test_voiding_an_invoice_drops_the_unpaid_balance_and_adds_no_revenue(
        queue: tuple[Queues, str], tenant: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    queues, arn = queue
    client = stripe_sdk("live")
    invoice = first_invoice(client, tenant["active_subscription"]["id"])
    deliver_all(events_of(client, types=["customer.subscription.updated"]))
    assert run_worker(queues, arn) == []
    assert stored(tenant["id"]).billing.unpaid_minor == invoice.amount_due > 0
    client.v1.invoices.void_invoice(invoice.id)
    deliver_all(events_of(client, types=["invoice.voided"]))
    assert run_worker(queues, arn) == []
    assert stored(tenant["id"]).billing.unpaid_minor == 0
    from saas_core.repositories import revenue

    assert revenue.entry(tenant["id"], invoice.id) is None


def test_events_of_customers_not_ours_are_acknowledged_and_ignored(
        queue: tuple[Queues, str], catalog: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    queues, arn = queue
    client = stripe_sdk("live")
    client.v1.customers.create({"email": "stranger@example.com"})
    client.v1.customers.delete(client.v1.customers.create({"email": "other@example.com"}).id)
    deliver_all(events_of(client))
    assert run_worker(queues, arn) == []


def test_a_deleted_customer_shows_on_the_tenant(queue: tuple[Queues, str], tenant: dict[str, Any],
                                               stripe_sdk: Callable[[str], Any]) -> None:
    queues, arn = queue
    client = stripe_sdk("live")
    client.v1.customers.delete(tenant["stripe_customer_id"])
    deliver_all(events_of(client, types=["customer.deleted", "customer.subscription.deleted"]))
    assert run_worker(queues, arn) == []
    after = stored(tenant["id"])
    assert after.billing.customer_deleted_at is not None
    assert after.subscription is not None
    assert after.subscription.status == "canceled"
    details = invoke("GET", f"/v1/admin/tenants/{tenant['id']}", api_key=ADMIN_API_KEY)
    assert details.data["billing"]["stripe_customer_deleted"] is True


def test_one_failing_message_of_a_batch_comes_back_alone(queue: tuple[Queues, str], tenant: dict[str, Any],
                                                         stripe_sdk: Callable[[str], Any]) -> None:
    queues, arn = queue
    client = stripe_sdk("live")
    client.v1.subscriptions.update(tenant["active_subscription"]["id"], {"cancel_at_period_end": True})
    deliver_all(events_of(client, types=["customer.subscription.updated"]))
    queues.sqs.send_message(QueueUrl=queues.url, MessageBody="not an event")
    failures = run_worker(queues, arn)
    assert len(failures) == 1
    left = queues.receive()  # the test queue hides nothing: a failed message is visible again at once
    assert [message["Body"] for message in left] == ["not an event"]
    after = stored(tenant["id"])
    assert after.subscription is not None
    assert after.subscription.cancel_at_period_end is True


def test_drift_is_reported_and_repaired(queue: tuple[Queues, str], tenant: dict[str, Any],
                                        catalog: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    client = stripe_sdk("live")
    subscription = client.v1.subscriptions.retrieve(tenant["active_subscription"]["id"])
    business = catalog["pln_business"].stripe["live"].monthly_price_id
    client.v1.subscriptions.update(subscription.id, {
        "items": [{"id": subscription["items"].data[0].id, "price": business}], "proration_behavior": "none",
        "cancel_at_period_end": True})
    path = f"/v1/admin/tenants/{tenant['id']}/stripe-sync"
    report = invoke("GET", path, api_key=ADMIN_API_KEY)
    assert report.status == 200, report.body
    fields = {difference["field"]: difference for difference in report.data["differences"]}
    assert report.data["in_step"] is False
    assert fields["plan_id"] == {"field": "plan_id", "local": "pln_pro", "stripe": "pln_business"}
    assert fields["subscription.price_id"]["stripe"] == business
    assert fields["subscription.cancel_at_period_end"] == {
        "field": "subscription.cancel_at_period_end", "local": False, "stripe": True}
    repaired = invoke("POST", path, api_key=ADMIN_API_KEY)
    assert repaired.status == 200, repaired.body
    assert repaired.data["repaired"] is True
    assert invoke("GET", path, api_key=ADMIN_API_KEY).data["in_step"] is True
    assert stored(tenant["id"]).plan_id == "pln_business"
    audit = invoke("GET", f"/v1/admin/tenants/{tenant['id']}/audit", api_key=ADMIN_API_KEY).data["items"]
    assert audit[0]["action"] == "tenant.synced_from_stripe"


def test_the_daily_reconciliation_repairs_drift_once_per_day(queue: tuple[Queues, str], tenant: dict[str, Any],
                                                             stripe_sdk: Callable[[str], Any]) -> None:
    from maintenance import reconcile_stripe

    client = stripe_sdk("live")
    client.v1.subscriptions.update(tenant["active_subscription"]["id"], {"cancel_at_period_end": True})
    event = {"time": "2026-11-23T03:00:00Z", "detail-type": "Scheduled Event", "source": "aws.events"}
    first = reconcile_stripe.handler(event, context("StripeReconciliationFunction", 600))
    assert (first["checked"], first["repaired"], first["failed"], first["done"]) == (1, 1, 0, True)
    assert stored(tenant["id"]).subscription.cancel_at_period_end is True
    again = reconcile_stripe.handler(event, context("StripeReconciliationFunction", 600))
    assert again == first  # the day's run is done: a repeated schedule checks nobody twice
