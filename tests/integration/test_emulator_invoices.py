"""Invoices through the real SDK: lists by customer, subscription and status, and previews
(client.v1.invoices.create_preview) of a subscription's next invoice with proposed changes,
of a schedule's, of a customer's and of a new subscription, each equal to the cent to what
the change then invoices, and changing nothing.

Subscriptions live on a test clock frozen at noon on 1 April 2031 (April's period is 30 days).
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from local.stripe_emulator import EmulatorHandle
from tests.conftest import emulator_call
from tests.integration.test_emulator_billing import HALFWAY, NEXT_PERIOD, START, Scenario, unix

DAY = 86400


def ids(listed: Any) -> list[str]:
    return [obj.id for obj in listed.data]


def amounts(invoice: stripe.Invoice) -> list[tuple[int, bool]]:
    """Each line's amount and whether it is a proration, sorted."""
    def proration(line: stripe.InvoiceLineItem) -> bool:
        details = line.parent.subscription_item_details if line.parent else None
        return bool(details and details.proration)
    return sorted((line.amount, proration(line)) for line in invoice.lines.data)


def preview(client: stripe.StripeClient, **params: Any) -> stripe.Invoice:
    query: Any = params
    return client.v1.invoices.create_preview(query)


class Upgrade:
    """A paying customer on basic (30.00 a month), and pro (60.00) to move to."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client
        self.scenario = Scenario(client)
        self.basic, self.pro = self.scenario.price(3000), self.scenario.price(6000)
        self.subscription = self.scenario.subscribe(self.basic)
        self.item = self.subscription["items"].data[0].id

    def details(self, **details: Any) -> Any:
        return {"items": [{"id": self.item, "price": self.pro}], **details}

    def preview(self, **details: Any) -> stripe.Invoice:
        return preview(self.client, customer=self.scenario.customer.id, subscription=self.subscription.id,
                       subscription_details=self.details(**details))

    def update(self, **details: Any) -> stripe.Subscription:
        return self.client.v1.subscriptions.update(self.subscription.id, self.details(**details))

    def events(self) -> int:
        return len(self.client.v1.events.list({"limit": 100}).data)


# -------------------------------------------------------------------- lists


def test_invoices_list_by_customer_subscription_and_status(client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    paid = scenario.subscribe(scenario.price(3000))
    sent = scenario.subscribe(scenario.price(1000), collection_method="send_invoice", days_until_due=30)
    other = Scenario(client)
    other.subscribe(other.price(500))
    scenario.advance(NEXT_PERIOD + 1)
    customer = scenario.customer.id

    def listed(**params: Any) -> list[str]:
        query: Any = params
        return ids(client.v1.invoices.list(query))

    by_customer = listed(customer=customer)
    assert len(by_customer) == 4
    paid_invoices = listed(subscription=paid.id)
    assert len(paid_invoices) == 2
    assert paid_invoices[1] == paid.latest_invoice, "newest first"
    assert set(by_customer) == set(paid_invoices) | set(listed(subscription=sent.id))
    assert set(listed(customer=customer, status="open")) == set(listed(subscription=sent.id))
    assert listed(subscription=paid.id, status="open") == []
    assert listed(customer=customer, limit=1, starting_after=by_customer[0]) == by_customer[1:2]
    assert listed(customer=customer, subscription=paid.id) == paid_invoices
    for invoice in client.v1.invoices.list({"subscription": paid.id}).data:
        assert invoice.parent is not None
        assert invoice.parent.subscription_details is not None
        assert invoice.parent.subscription_details.subscription == paid.id


# ------------------------------------------------- a subscription's next invoice


def test_a_preview_of_an_upgrade_is_the_next_renewal_with_the_prorations_and_changes_nothing(
        emulator: EmulatorHandle, client: stripe.StripeClient) -> None:
    upgrade = Upgrade(client)
    upgrade.scenario.advance(HALFWAY)
    events = upgrade.events()

    previewed = upgrade.preview()

    assert previewed.id.startswith("upcoming_in_")
    assert (previewed.object, previewed.status, previewed.billing_reason) == ("invoice", "draft", "upcoming")
    assert amounts(previewed) == [(-1500, True), (3000, True), (6000, False)]
    assert (previewed.subtotal, previewed.total, previewed.amount_due, previewed.amount_paid) == (7500, 7500, 7500, 0)
    assert (previewed.period_start, previewed.period_end, previewed.created) == (START, NEXT_PERIOD, NEXT_PERIOD)
    assert (previewed.customer, previewed.currency) == (upgrade.scenario.customer.id, "usd")
    proration = next(line for line in previewed.lines.data if line.amount == -1500)
    assert (proration.period.start, proration.period.end) == (HALFWAY, NEXT_PERIOD)
    assert proration.id.startswith("il_tmp_")
    assert proration.parent is not None
    assert proration.parent.subscription_item_details is not None
    assert proration.parent.subscription_item_details.invoice_item is None, "no invoice item exists for it"
    renewal = next(line for line in previewed.lines.data if line.amount == 6000)
    assert (renewal.period.start, renewal.period.end) == (NEXT_PERIOD, unix(2031, 6, 1))
    assert previewed.parent is not None
    assert previewed.parent.subscription_details is not None
    assert previewed.parent.subscription_details.subscription == upgrade.subscription.id
    assert previewed.parent.subscription_details.subscription_proration_date == HALFWAY
    subscription = client.v1.subscriptions.retrieve(upgrade.subscription.id)
    assert subscription["items"].data[0].price.id == upgrade.basic
    assert upgrade.scenario.pending_amounts() == []
    assert upgrade.events() == events, "a preview records no event"
    assert previewed.id not in ids(client.v1.invoices.list({"customer": upgrade.scenario.customer.id}))
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.invoices.retrieve(previewed.id)
    assert unknown.value.http_status == 404
    logged = emulator_call(emulator, "GET", "/_emulator/requests?path_prefix=/v1/invoices/create_preview")
    assert [entry["status"] for entry in logged["requests"]] == [200]

    upgrade.update()
    upgrade.scenario.advance(NEXT_PERIOD + 1)

    invoiced = upgrade.scenario.latest_invoice(upgrade.subscription.id)
    assert amounts(invoiced) == amounts(previewed)
    assert (invoiced.amount_paid, invoiced.period_start, invoiced.period_end) == (7500, START, NEXT_PERIOD)


def test_a_preview_with_always_invoice_is_the_invoice_made_at_once(client: stripe.StripeClient) -> None:
    upgrade = Upgrade(client)
    upgrade.scenario.advance(HALFWAY)

    previewed = upgrade.preview(proration_behavior="always_invoice")

    assert amounts(previewed) == [(-1500, True), (3000, True)]
    assert (previewed.total, previewed.created, previewed.period_start, previewed.period_end) == (
        1500, HALFWAY, HALFWAY, HALFWAY)
    upgrade.update(proration_behavior="always_invoice")
    invoiced = upgrade.scenario.latest_invoice(upgrade.subscription.id)
    assert amounts(invoiced) == amounts(previewed)
    assert invoiced.amount_paid == previewed.amount_due


def test_a_preview_without_prorations_is_the_next_period_at_the_new_price(client: stripe.StripeClient) -> None:
    upgrade = Upgrade(client)
    upgrade.scenario.advance(HALFWAY)

    previewed = upgrade.preview(proration_behavior="none")

    assert amounts(previewed) == [(6000, False)]
    assert previewed.parent is not None
    assert previewed.parent.subscription_details is not None
    assert previewed.parent.subscription_details.subscription_proration_date is None
    upgrade.update(proration_behavior="none")
    upgrade.scenario.advance(NEXT_PERIOD + 1)
    assert amounts(upgrade.scenario.latest_invoice(upgrade.subscription.id)) == amounts(previewed)


def test_a_preview_with_a_proration_date_equals_the_update_made_later_with_it(client: stripe.StripeClient) -> None:
    upgrade = Upgrade(client)
    upgrade.scenario.advance(START + 10 * DAY)
    proration_date = START + 10 * DAY

    previewed = upgrade.preview(proration_date=proration_date)
    upgrade.scenario.advance(HALFWAY)
    upgrade.update(proration_date=proration_date)

    assert [(amount, True) for amount in upgrade.scenario.pending_amounts()] == [
        line for line in amounts(previewed) if line[1]]
    assert amounts(previewed) == [(-2000, True), (4000, True), (6000, False)]
    assert previewed.parent is not None
    assert previewed.parent.subscription_details is not None
    assert previewed.parent.subscription_details.subscription_proration_date == proration_date


def test_a_preview_of_a_quantity_change_and_a_trial(client: stripe.StripeClient) -> None:
    upgrade = Upgrade(client)
    upgrade.scenario.advance(HALFWAY)
    trial_end = HALFWAY + 10 * DAY

    quantity = preview(client, subscription=upgrade.subscription.id,
                       subscription_details={"items": [{"id": upgrade.item, "quantity": 3}]})
    trial = preview(client, subscription=upgrade.subscription.id, subscription_details={"trial_end": trial_end})

    assert amounts(quantity) == [(-1500, True), (4500, True), (9000, False)]
    assert amounts(trial) == [(-1500, True), (3000, False)]
    assert trial.created == trial_end
    client.v1.subscriptions.update(upgrade.subscription.id, {"trial_end": trial_end})
    upgrade.scenario.advance(trial_end + 1)
    assert amounts(upgrade.scenario.latest_invoice(upgrade.subscription.id)) == amounts(trial)


def test_a_subscription_set_to_end_has_no_upcoming_invoice(client: stripe.StripeClient) -> None:
    upgrade = Upgrade(client)

    with pytest.raises(stripe.InvalidRequestError) as none:
        preview(client, subscription=upgrade.subscription.id, subscription_details={"cancel_at_period_end": True})

    assert (none.value.http_status, none.value.code) == (404, "invoice_upcoming_none")
    client.v1.subscriptions.cancel(upgrade.subscription.id)
    with pytest.raises(stripe.InvalidRequestError) as canceled:
        preview(client, subscription=upgrade.subscription.id)
    assert canceled.value.code == "invoice_upcoming_none"


def test_a_preview_applies_the_customers_credit(client: stripe.StripeClient) -> None:
    upgrade = Upgrade(client)
    leaving = upgrade.scenario.subscribe(upgrade.scenario.price(3000))
    upgrade.scenario.advance(HALFWAY)
    client.v1.subscriptions.cancel(leaving.id, {"prorate": True, "invoice_now": True})

    previewed = preview(client, subscription=upgrade.subscription.id)

    assert (previewed.total, previewed.starting_balance, previewed.amount_due) == (3000, -1500, 1500)


# --------------------------------------------- schedules, customers, new ones


def test_a_preview_of_a_schedule_is_its_subscriptions_next_invoice_with_the_next_phase(
        client: stripe.StripeClient) -> None:
    upgrade = Upgrade(client)
    schedule = client.v1.subscription_schedules.create({"from_subscription": upgrade.subscription.id})
    first = schedule.phases[0]
    phases: Any = [{"items": [{"price": upgrade.basic}], "start_date": first.start_date, "end_date": first.end_date},
                   {"items": [{"price": upgrade.pro}], "proration_behavior": "none"}]

    proposed = preview(client, schedule=schedule.id, schedule_details={"phases": phases})

    assert amounts(proposed) == [(6000, False)]
    assert amounts(preview(client, schedule=schedule.id)) == [(3000, False)], "the schedule itself is unchanged"
    assert len(client.v1.subscription_schedules.retrieve(schedule.id).phases) == 1
    client.v1.subscription_schedules.update(schedule.id, {"phases": phases})
    assert amounts(preview(client, schedule=schedule.id)) == [(6000, False)]
    assert amounts(preview(client, subscription=upgrade.subscription.id)) == [(6000, False)]
    upgrade.scenario.advance(NEXT_PERIOD + 1)
    assert amounts(upgrade.scenario.latest_invoice(upgrade.subscription.id)) == amounts(proposed)


def test_a_customers_preview_is_the_earliest_next_invoice_among_its_subscriptions(
        client: stripe.StripeClient) -> None:
    upgrade = Upgrade(client)
    trialing = upgrade.scenario.subscribe(upgrade.scenario.price(1000), trial_period_days=10)

    previewed = preview(client, customer=upgrade.scenario.customer.id)

    assert previewed.parent is not None
    assert previewed.parent.subscription_details is not None
    assert previewed.parent.subscription_details.subscription == trialing.id
    assert (previewed.created, amounts(previewed)) == (START + 10 * DAY, [(1000, False)])


def test_a_preview_of_a_new_subscription_is_its_first_invoice_and_creates_nothing(
        client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    price = scenario.price(3000)

    first = preview(client, customer=scenario.customer.id, subscription_details={"items": [{"price": price}]})
    trial = preview(client, customer=scenario.customer.id,
                    subscription_details={"items": [{"price": price, "quantity": 2}], "trial_end": START + 7 * DAY})

    assert (amounts(first), first.created, first.amount_due) == ([(3000, False)], START, 3000)
    assert (amounts(trial), trial.amount_due) == ([(0, False)], 0)
    assert client.v1.subscriptions.list({"customer": scenario.customer.id, "status": "all"}).data == []
    assert client.v1.invoices.list({"customer": scenario.customer.id}).data == []


@pytest.mark.parametrize(("params", "param"), [
    (lambda upgrade: {"subscription": upgrade.subscription.id,
                      "subscription_details": {"items": [{"id": upgrade.item, "price": "price_nope"}]}},
     "subscription_details[items][0][price]"),
    (lambda upgrade: {"subscription": upgrade.subscription.id, "schedule": "sub_sched_nope"}, "schedule"),
    (lambda upgrade: {"subscription": upgrade.subscription.id,
                      "subscription_details": {"proration_date": START}}, "subscription_details[proration_date]"),
    (lambda upgrade: {"subscription": upgrade.subscription.id, "subscription_details": {
        "items": [{"id": upgrade.item, "price": upgrade.pro}], "proration_date": START,
        "proration_behavior": "none"}}, "subscription_details[proration_date]"),
    (lambda upgrade: {"subscription_details": {"items": [{"price": upgrade.pro}]}}, "customer"),
    (lambda upgrade: {"customer": "cus_nope"}, "customer"),
    (lambda upgrade: {"customer": Scenario(upgrade.client).customer.id, "subscription": upgrade.subscription.id},
     "customer"),
    (lambda upgrade: {"subscription": "sub_nope"}, "subscription"),
])
def test_previews_refuse_what_stripe_refuses(client: stripe.StripeClient, params: Any, param: str) -> None:
    upgrade = Upgrade(client)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.invoices.create_preview(params(upgrade))

    assert refused.value.param == param
