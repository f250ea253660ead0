"""How subscriptions end, through the real SDK: cancel_at_period_end set and withdrawn,
cancel_at (inside the period, in a later period, withdrawn, by name), canceling now
with prorate and invoice_now, and prorations as of a proration_date.

Subscriptions live on a test clock frozen at noon on 1 April 2031: April's period is
exactly 30 days, so 10 days of a 30.00 price are 10.00.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.integration.test_emulator_billing import HALFWAY, NEXT_PERIOD, START, Scenario, unix

DAY = 86400


def event_types(client: stripe.StripeClient, subscription_id: str) -> list[str]:
    """The subscription's own events and its invoices', oldest first."""
    def concerns(obj: dict[str, Any]) -> bool:
        parent = obj.get("parent") or {}
        return subscription_id in (obj.get("id"), (parent.get("subscription_details") or {}).get("subscription"))

    events = client.v1.events.list({"limit": 100}).data
    return [event.type for event in reversed(events) if concerns(event.data.object.to_dict())]


def invoices_of(client: stripe.StripeClient, subscription_id: str) -> list[stripe.Invoice]:
    return list(reversed(client.v1.invoices.list({"subscription": subscription_id, "limit": 100}).data))


# ------------------------------------------------------- cancel_at_period_end


def test_cancel_at_period_end_set_then_withdrawn_keeps_the_subscription_renewing(
        client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000))
    scenario.advance(HALFWAY)

    leaving = client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})

    assert (leaving.cancel_at_period_end, leaving.cancel_at, leaving.canceled_at) == (True, NEXT_PERIOD, HALFWAY)
    assert leaving.cancellation_details is not None
    assert leaving.cancellation_details.reason == "cancellation_requested"
    assert scenario.pending_amounts() == [], "ending at the period end leaves nothing to credit"

    staying = client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": False})

    assert (staying.cancel_at_period_end, staying.cancel_at, staying.canceled_at) == (False, None, None)
    assert staying.cancellation_details is not None
    assert staying.cancellation_details.reason is None
    updated = client.v1.events.list({"type": "customer.subscription.updated"}).data
    assert updated[0].data.previous_attributes is not None
    assert updated[0].data.previous_attributes["cancel_at_period_end"] is True
    assert updated[0].data.previous_attributes["cancel_at"] == NEXT_PERIOD
    assert updated[1].data.previous_attributes is not None
    assert updated[1].data.previous_attributes["cancel_at"] is None
    scenario.advance(NEXT_PERIOD + 1)
    renewed = client.v1.subscriptions.retrieve(subscription.id)
    assert renewed.status == "active"
    assert scenario.latest_invoice(subscription.id).billing_reason == "subscription_cycle"


def test_cancel_at_period_end_ends_the_subscription_when_a_test_clock_crosses_the_period_end(
        client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000))
    client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})

    scenario.advance(NEXT_PERIOD + DAY)

    ended = client.v1.subscriptions.retrieve(subscription.id)
    assert (ended.status, ended.ended_at, ended.canceled_at, ended.cancel_at_period_end) == (
        "canceled", NEXT_PERIOD, START, True)
    assert [invoice.billing_reason for invoice in invoices_of(client, subscription.id)] == ["subscription_create"]
    deleted = client.v1.events.list({"type": "customer.subscription.deleted"}).data
    assert [(event.data.object["id"], event.created) for event in deleted] == [(subscription.id, NEXT_PERIOD)]
    assert event_types(client, subscription.id)[-2:] == ["customer.subscription.updated",
                                                         "customer.subscription.deleted"]


def test_a_trial_set_to_cancel_at_period_end_ends_with_the_trial_without_an_invoice(
        client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000), trial_period_days=7)
    leaving = client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    assert leaving.cancel_at == START + 7 * DAY

    scenario.advance(START + 8 * DAY)

    ended = client.v1.subscriptions.retrieve(subscription.id)
    assert (ended.status, ended.ended_at) == ("canceled", START + 7 * DAY)
    assert [invoice.amount_due for invoice in invoices_of(client, subscription.id)] == [0]


# ----------------------------------------------------------------- cancel_at


def test_cancel_at_inside_the_period_credits_the_time_given_up_and_invoices_it_at_the_end(
        client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000))
    cancel_at = unix(2031, 4, 21)

    leaving = client.v1.subscriptions.update(subscription.id, {"cancel_at": cancel_at})

    assert (leaving.cancel_at, leaving.cancel_at_period_end, leaving.canceled_at) == (cancel_at, False, START)
    pending = client.v1.invoice_items.list({"customer": scenario.customer.id, "pending": True}).data
    assert [(item.amount, item.period.start, item.period.end, item.proration) for item in pending] == [
        (-1000, cancel_at, NEXT_PERIOD, True)]
    scenario.advance(cancel_at + DAY)
    ended = client.v1.subscriptions.retrieve(subscription.id)
    assert (ended.status, ended.ended_at) == ("canceled", cancel_at)
    final = invoices_of(client, subscription.id)[-1]
    assert (final.created, final.total, final.amount_due, final.status) == (cancel_at, -1000, 0, "paid")
    assert (final.starting_balance, final.ending_balance) == (0, -1000)
    assert client.v1.customers.retrieve(scenario.customer.id).balance == -1000
    assert scenario.pending_amounts() == []


def test_cancel_at_with_proration_behavior_none_credits_nothing(client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000))

    client.v1.subscriptions.update(subscription.id, {"cancel_at": unix(2031, 4, 21), "proration_behavior": "none"})

    assert scenario.pending_amounts() == []
    scenario.advance(unix(2031, 4, 22))
    assert client.v1.subscriptions.retrieve(subscription.id).status == "canceled"
    assert len(invoices_of(client, subscription.id)) == 1


def test_withdrawing_or_moving_cancel_at_charges_back_what_was_credited(client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000))
    client.v1.subscriptions.update(subscription.id, {"cancel_at": unix(2031, 4, 21)})

    client.v1.subscriptions.update(subscription.id, {"cancel_at": unix(2031, 4, 26)})
    assert scenario.pending_amounts() == [-1000, 500]

    staying = client.v1.subscriptions.update(subscription.id, {"cancel_at": ""})

    assert (staying.cancel_at, staying.canceled_at) == (None, None)
    assert scenario.pending_amounts() == [-1000, 500, 500]
    scenario.advance(NEXT_PERIOD + 1)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"
    assert scenario.latest_invoice(subscription.id).amount_due == 3000


def test_cancel_at_in_a_later_period_prorates_that_period_when_it_is_invoiced(client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3100))
    cancel_at = unix(2031, 5, 11)  # May's period is 31 days: 21 of them are given up

    client.v1.subscriptions.update(subscription.id, {"cancel_at": cancel_at})

    assert scenario.pending_amounts() == []
    scenario.advance(NEXT_PERIOD + 1)
    renewal = scenario.latest_invoice(subscription.id)
    assert sorted(line.amount for line in renewal.lines.data) == [-2100, 3100]
    assert renewal.amount_paid == 1000
    scenario.advance(cancel_at + 1)
    ended = client.v1.subscriptions.retrieve(subscription.id)
    assert (ended.status, ended.ended_at) == ("canceled", cancel_at)
    assert scenario.latest_invoice(subscription.id).id == renewal.id, "nothing was left to invoice"


def test_cancel_at_by_name_and_what_is_refused(client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000))

    named = client.v1.subscriptions.update(subscription.id, {"cancel_at": "min_period_end"})
    assert (named.cancel_at, named.cancel_at_period_end) == (NEXT_PERIOD, False)

    both: Any = {"cancel_at": NEXT_PERIOD, "cancel_at_period_end": True}
    with pytest.raises(stripe.InvalidRequestError) as exclusive:
        client.v1.subscriptions.update(subscription.id, both)
    assert exclusive.value.code == "parameters_exclusive"
    with pytest.raises(stripe.InvalidRequestError) as past:
        client.v1.subscriptions.update(subscription.id, {"cancel_at": START - 1})
    assert past.value.param == "cancel_at"
    assert client.v1.subscriptions.retrieve(subscription.id).cancel_at == NEXT_PERIOD, "refusals change nothing"


# --------------------------------------------------------------- cancel now


def test_cancel_with_prorate_and_invoice_now_invoices_the_credit_into_the_customer_balance(
        client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000))
    scenario.advance(HALFWAY)

    canceled = client.v1.subscriptions.cancel(subscription.id, {"prorate": True, "invoice_now": True})

    assert (canceled.status, canceled.ended_at, canceled.canceled_at) == ("canceled", HALFWAY, HALFWAY)
    final = client.v1.invoices.retrieve(str(canceled.latest_invoice))
    assert [(line.amount, line.period.start, line.period.end) for line in final.lines.data] == [
        (-1500, HALFWAY, NEXT_PERIOD)]
    assert final.lines.data[0].parent is not None
    assert final.lines.data[0].parent.subscription_item_details is not None
    assert final.lines.data[0].parent.subscription_item_details.proration is True
    assert (final.billing_reason, final.total, final.amount_due, final.status) == (
        "subscription_update", -1500, 0, "paid")
    assert (final.starting_balance, final.ending_balance) == (0, -1500)
    assert client.v1.customers.retrieve(scenario.customer.id).balance == -1500
    sent = event_types(client, subscription.id)
    assert sent[-5:] == ["invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_succeeded",
                         "customer.subscription.deleted"], "the final invoice before the subscription ends"


def test_cancel_with_prorate_alone_leaves_the_credit_pending(client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000))
    scenario.advance(HALFWAY)

    canceled = client.v1.subscriptions.cancel(subscription.id, {"prorate": True})

    assert scenario.pending_amounts() == [-1500]
    assert canceled.latest_invoice == subscription.latest_invoice


def test_cancel_with_invoice_now_alone_bills_pending_prorations_without_a_credit(
        client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    basic, pro = scenario.price(3000), scenario.price(6000)
    subscription = scenario.subscribe(basic)
    scenario.advance(HALFWAY)
    client.v1.subscriptions.update(subscription.id, {"items": [{"id": subscription["items"].data[0].id,
                                                                "price": pro}]})

    canceled = client.v1.subscriptions.cancel(subscription.id, {"invoice_now": True})

    final = client.v1.invoices.retrieve(str(canceled.latest_invoice))
    assert sorted(line.amount for line in final.lines.data) == [-1500, 3000]
    assert (final.amount_paid, final.status) == (1500, "paid")
    assert scenario.pending_amounts() == []


def test_cancel_without_options_invoices_nothing(client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000))
    scenario.advance(HALFWAY)

    canceled = client.v1.subscriptions.cancel(subscription.id)

    assert canceled.latest_invoice == subscription.latest_invoice
    assert scenario.pending_amounts() == []


def test_canceling_a_subscription_set_to_cancel_at_credits_only_what_was_not_yet_credited(
        client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    subscription = scenario.subscribe(scenario.price(3000))
    client.v1.subscriptions.update(subscription.id, {"cancel_at": unix(2031, 4, 21)})
    scenario.advance(unix(2031, 4, 11))

    client.v1.subscriptions.cancel(subscription.id, {"prorate": True})

    assert scenario.pending_amounts() == [-1000, -1000]


# ----------------------------------------------------------- proration_date


def test_proration_date_counts_prorations_from_that_moment(client: stripe.StripeClient) -> None:
    scenario = Scenario(client)
    basic, pro = scenario.price(3000), scenario.price(6000)
    subscription = scenario.subscribe(basic)
    item = subscription["items"].data[0]
    scenario.advance(HALFWAY)

    client.v1.subscriptions.update(subscription.id, {"items": [{"id": item.id, "price": pro}],
                                                     "proration_date": START + 10 * DAY})

    pending = client.v1.invoice_items.list({"customer": scenario.customer.id, "pending": True}).data
    assert sorted((entry.amount, entry.period.start) for entry in pending) == [
        (-2000, START + 10 * DAY), (4000, START + 10 * DAY)]
    assert all(entry.date == HALFWAY for entry in pending), "made now, counted from the proration_date"


@pytest.mark.parametrize("moment", [START - 1, HALFWAY + 1])
def test_a_proration_date_outside_the_period_or_in_the_future_is_refused(client: stripe.StripeClient,
                                                                        moment: int) -> None:
    scenario = Scenario(client)
    basic, pro = scenario.price(3000), scenario.price(6000)
    subscription = scenario.subscribe(basic)
    scenario.advance(HALFWAY)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.update(subscription.id, {
            "items": [{"id": subscription["items"].data[0].id, "price": pro}], "proration_date": moment})

    assert refused.value.param == "proration_date"
    assert scenario.pending_amounts() == []
