"""Stripe's billing behaviour the product relies on, through the real SDK: anchored
periods, trial_end and billing_cycle_anchor on update, prorations as credit and
debit items, test cards that pay or decline, list cursors and filters, missing ids.

Subscriptions live on a test clock frozen at noon on 1 April 2031, so a monthly
period is exactly 30 days and the 16th is exactly half of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from local.stripe_emulator.testing import advance_test_clock

DAY = 86400


def unix(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, 12, tzinfo=UTC).timestamp())


START, HALFWAY, NEXT_PERIOD = unix(2031, 4, 1), unix(2031, 4, 16), unix(2031, 5, 1)


class Scenario:
    """A paying customer on a test clock and a few monthly prices."""

    def __init__(self, client: stripe.StripeClient, card: str = "pm_card_visa", frozen_time: int = START) -> None:
        self.client = client
        self.clock = client.v1.test_helpers.test_clocks.create({"frozen_time": frozen_time}).id
        self.customer = client.v1.customers.create({"test_clock": self.clock, "payment_method": card,
                                                    "invoice_settings": {"default_payment_method": card}})

    def price(self, amount: int, interval: str = "month") -> str:
        product = self.client.v1.products.create({"name": f"Plan {amount}"})
        recurring: Any = {"interval": interval}
        return self.client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": amount,
                                             "recurring": recurring}).id

    def subscribe(self, *prices: str, **params: Any) -> stripe.Subscription:
        create: Any = {"customer": self.customer.id, "items": [{"price": price} for price in prices], **params}
        return self.client.v1.subscriptions.create(create)

    def advance(self, to: int) -> None:
        advance_test_clock(self.client, self.clock, to)

    def pending_amounts(self) -> list[int]:
        listed = self.client.v1.invoice_items.list({"customer": self.customer.id, "pending": True})
        return sorted(item.amount for item in listed.data)

    def latest_invoice(self, subscription_id: str) -> stripe.Invoice:
        subscription = self.client.v1.subscriptions.retrieve(subscription_id)
        return self.client.v1.invoices.retrieve(str(subscription.latest_invoice))


# ---------------------------------------------------------------- periods


def test_a_period_anchored_on_the_31st_renews_on_feb_28_then_mar_31(client: stripe.StripeClient) -> None:
    scenario = Scenario(client, frozen_time=unix(2031, 1, 31))
    subscription = scenario.subscribe(scenario.price(1000))
    assert subscription["items"].data[0].current_period_end == unix(2031, 2, 28)

    scenario.advance(unix(2031, 3, 1))

    item = client.v1.subscriptions.retrieve(subscription.id)["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (unix(2031, 2, 28), unix(2031, 3, 31))
    assert scenario.latest_invoice(subscription.id).period_start == unix(2031, 1, 31)


# ------------------------------------------------- trial_end and the anchor


def test_trial_end_now_ends_a_trial_and_bills_a_new_cycle_at_once(client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000), trial_period_days=14)
    scenario.advance(START + 5 * DAY)

    ended = client.v1.subscriptions.update(subscription.id, {"trial_end": "now"})

    now = START + 5 * DAY
    assert (ended.status, ended.trial_end, ended.billing_cycle_anchor) == ("active", now, now)
    item = ended["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (now, unix(2031, 5, 6))
    invoice = scenario.latest_invoice(subscription.id)
    assert (invoice.billing_reason, invoice.status, invoice.amount_paid) == ("subscription_update", "paid", 3000)


def test_trial_end_in_the_future_starts_a_trial_until_then_and_credits_unused_time(
        client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000))
    scenario.advance(HALFWAY)
    trial_end = HALFWAY + 10 * DAY

    trialing = client.v1.subscriptions.update(subscription.id, {"trial_end": trial_end})

    assert (trialing.status, trialing.trial_start, trialing.trial_end) == ("trialing", HALFWAY, trial_end)
    assert trialing.billing_cycle_anchor == trial_end
    assert trialing["items"].data[0].current_period_end == trial_end
    assert scenario.pending_amounts() == [-1500]
    scenario.advance(trial_end + 1)
    invoice = scenario.latest_invoice(subscription.id)
    assert sorted(line.amount for line in invoice.lines.data) == [-1500, 3000]
    assert invoice.amount_paid == 1500


def test_a_trial_end_in_the_past_is_refused(client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000), trial_period_days=14)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.update(subscription.id, {"trial_end": START - 1})
    assert refused.value.param == "trial_end"


def test_billing_cycle_anchor_now_restarts_the_cycle_and_invoices_it_with_the_credit(
        client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000))
    scenario.advance(HALFWAY)

    reset = client.v1.subscriptions.update(subscription.id, {"billing_cycle_anchor": {"type": "now"}})

    item = reset["items"].data[0]
    assert (reset.billing_cycle_anchor, item.current_period_start, item.current_period_end) == (
        HALFWAY, HALFWAY, unix(2031, 5, 16))
    invoice = scenario.latest_invoice(subscription.id)
    assert invoice.billing_reason == "subscription_update"
    assert sorted(line.amount for line in invoice.lines.data) == [-1500, 3000]
    unchanged = client.v1.subscriptions.update(subscription.id, {"billing_cycle_anchor": {"type": "unchanged"}})
    assert unchanged.billing_cycle_anchor == HALFWAY
    old_form: Any = {"billing_cycle_anchor": "now"}  # the form of API versions before this one
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.update(subscription.id, old_form)
    assert refused.value.param == "billing_cycle_anchor"


# ------------------------------------------------------------ prorations


def test_a_price_swap_is_a_credit_and_a_debit_billed_with_the_next_period(client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    basic, pro = scenario.price(3000), scenario.price(6000)
    subscription = scenario.subscribe(basic)
    item = subscription["items"].data[0]
    scenario.advance(HALFWAY)

    client.v1.subscriptions.update(subscription.id, {"items": [{"id": item.id, "price": pro}]})

    pending = client.v1.invoice_items.list({"customer": scenario.customer.id, "pending": True}).data
    assert sorted((entry.amount, entry.proration) for entry in pending) == [(-1500, True), (3000, True)]
    for entry in pending:
        assert isinstance(entry.amount, int)
        assert entry.parent is not None
        assert entry.parent.subscription_details is not None
        assert entry.parent.subscription_details.subscription_item == item.id
        assert (entry.period.start, entry.period.end) == (HALFWAY, NEXT_PERIOD)
    scenario.advance(NEXT_PERIOD + 1)
    renewal = scenario.latest_invoice(subscription.id)
    assert sorted(line.amount for line in renewal.lines.data) == [-1500, 3000, 6000]
    assert (renewal.amount_due, renewal.amount_paid) == (7500, 7500)
    assert scenario.pending_amounts() == []


@pytest.mark.parametrize(("change", "expected"), [
    ("quantity", [-1500, 4500]),  # one at 30.00 credited, three at 30.00 charged, each for half the period
    ("added", [500]),  # a 10.00 item for half the period
    ("removed", [-500]),  # the 10.00 item's unused half
])
def test_quantity_changes_and_items_added_or_removed_are_prorated_as_separate_items(
        client: stripe.StripeClient, change: str, expected: list[int]) -> None:
    scenario = Scenario(client)
    base, seats = scenario.price(3000), scenario.price(1000)
    subscription = scenario.subscribe(base, *([seats] if change == "removed" else []))
    items = subscription["items"].data
    scenario.advance(HALFWAY)
    changes: dict[str, Any] = {
        "quantity": [{"id": items[0].id, "quantity": 3}],
        "added": [{"price": seats}],
        "removed": [{"id": items[-1].id, "deleted": True}],
    }

    client.v1.subscriptions.update(subscription.id, {"items": changes[change]})

    assert scenario.pending_amounts() == expected


def test_always_invoice_bills_the_prorations_at_once(client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    basic, pro = scenario.price(3000), scenario.price(6000)
    subscription = scenario.subscribe(basic)
    scenario.advance(HALFWAY)

    client.v1.subscriptions.update(subscription.id, {
        "items": [{"id": subscription["items"].data[0].id, "price": pro}], "proration_behavior": "always_invoice"})

    invoice = scenario.latest_invoice(subscription.id)
    assert (invoice.billing_reason, invoice.created, invoice.amount_paid) == ("subscription_update", HALFWAY, 1500)
    assert all(line.parent is not None and line.parent.subscription_item_details is not None
               and line.parent.subscription_item_details.proration for line in invoice.lines.data)
    assert scenario.pending_amounts() == []


def test_proration_behavior_none_changes_the_price_without_items(client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    basic, pro = scenario.price(3000), scenario.price(6000)
    subscription = scenario.subscribe(basic)
    scenario.advance(HALFWAY)

    client.v1.subscriptions.update(subscription.id, {
        "items": [{"id": subscription["items"].data[0].id, "price": pro}], "proration_behavior": "none"})

    assert scenario.pending_amounts() == []


# ------------------------------------------------------------ test cards


def test_pm_card_visa_pays_the_first_invoice(client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000), expand=["latest_invoice"])
    assert subscription.status == "active"
    invoice = subscription.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.status, invoice.amount_paid, invoice.attempt_count) == ("paid", 3000, 1)


def test_charge_customer_fail_attaches_then_every_charge_is_declined(client: stripe.StripeClient) -> None:
    scenario = Scenario(client, card="pm_card_chargeCustomerFail")
    methods = client.v1.customers.payment_methods.list(scenario.customer.id).data
    assert [(method.card.last4 if method.card else None) for method in methods] == ["0341"]
    price = scenario.price(3000)

    with pytest.raises(stripe.CardError) as declined:
        scenario.subscribe(price, payment_behavior="error_if_incomplete")
    assert (declined.value.http_status, declined.value.code) == (402, "card_declined")

    incomplete = scenario.subscribe(price)
    assert incomplete.status == "incomplete"
    invoice = scenario.latest_invoice(incomplete.id)
    assert (invoice.status, invoice.attempted, invoice.amount_remaining) == ("open", True, 3000)
    failed = client.v1.events.list({"type": "invoice.payment_failed"}).data
    assert [event.data.object["id"] for event in failed] == [invoice.id]
    with pytest.raises(stripe.CardError):
        client.v1.invoices.pay(invoice.id)


def test_a_declined_renewal_leaves_an_open_invoice_and_the_subscription_past_due(
        client: stripe.StripeClient) -> None:
    scenario = Scenario(client, card="pm_card_chargeCustomerFail")
    subscription = scenario.subscribe(scenario.price(3000), trial_period_days=7)

    scenario.advance(START + 7 * DAY + 1)

    past_due = client.v1.subscriptions.retrieve(subscription.id)
    assert past_due.status == "past_due"
    invoice = scenario.latest_invoice(subscription.id)
    assert (invoice.status, invoice.billing_reason, invoice.amount_remaining) == ("open", "subscription_cycle",
                                                                                  3000)
    failed = client.v1.events.list({"type": "invoice.payment_failed"}).data
    assert [event.data.object["id"] for event in failed] == [invoice.id]
    assert failed[0].created == START + 7 * DAY
    updated = client.v1.events.list({"type": "customer.subscription.updated"}).data[0]
    assert updated.data.previous_attributes is not None
    assert updated.data.previous_attributes["status"] == "trialing"
    assert updated.data.object["status"] == "past_due"


# ------------------------------------------------------------------ lists


def test_lists_honour_created_and_both_cursors(client: stripe.StripeClient) -> None:
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": START}).id
    early = client.v1.customers.create({"test_clock": clock})
    advance_test_clock(client, clock, START + DAY)
    late = client.v1.customers.create({"test_clock": clock})

    def listed(**params: Any) -> list[str]:
        query: Any = {"test_clock": clock, **params}
        return [customer.id for customer in client.v1.customers.list(query).data]

    assert listed(created={"gte": START + DAY}) == [late.id]
    assert listed(created={"lt": START + DAY}) == [early.id]
    assert listed(created=START) == [early.id]
    made = [client.v1.products.create({"name": f"P{n}"}).id for n in range(5)]
    before = client.v1.products.list({"limit": 2, "ending_before": made[1]})
    assert [product.id for product in before.data] == [made[3], made[2]]
    assert before.has_more is True
    after = client.v1.products.list({"limit": 2, "starting_after": made[1]})
    assert ([product.id for product in after.data], after.has_more) == ([made[0]], False)


@pytest.mark.parametrize("cursor", ["starting_after", "ending_before"])
def test_an_unknown_id_in_a_cursor_is_stripes_error(client: stripe.StripeClient, cursor: str) -> None:
    client.v1.customers.create({})
    query: Any = {cursor: "cus_nope"}
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.list(query)
    assert (refused.value.http_status, refused.value.code, refused.value.param) == (400, "resource_missing", cursor)
    assert "No such customer: 'cus_nope'" in str(refused.value)


@pytest.mark.parametrize(("kind", "object_id"), [
    ("customers", "cus_nope"), ("subscriptions", "sub_nope"), ("invoices", "in_nope"), ("prices", "price_nope"),
    ("products", "prod_nope"), ("payment_methods", "pm_nope"), ("events", "evt_nope"),
    ("invoice_items", "ii_nope"), ("subscription_items", "si_nope"), ("webhook_endpoints", "we_nope"),
])
def test_unknown_ids_are_404_resource_missing(client: stripe.StripeClient, kind: str, object_id: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        getattr(client.v1, kind).retrieve(object_id)
    assert (missing.value.http_status, missing.value.code, missing.value.param) == (404, "resource_missing", "id")
