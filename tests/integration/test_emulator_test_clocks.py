"""Stripe's test clocks, the only way time moves in the emulator, through the real SDK.

The tests advance as a test against Stripe test mode does (advance, then poll
until the clock is ready: local.stripe_emulator.testing.advance_test_clock).
"""

from __future__ import annotations

import time
import urllib.error
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from local.stripe_emulator import EmulatorHandle, test_clocks
from local.stripe_emulator.clock import add_months
from local.stripe_emulator.testing import advance_test_clock, client_for, wait_until
from tests.conftest import emulator_call

DAY = 86400


def unix(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, 12, tzinfo=UTC).timestamp())


FROZEN = unix(2031, 1, 15)


def a_price(client: stripe.StripeClient, amount: int = 1900, interval: str = "month") -> str:
    product = client.v1.products.create({"name": "Pro"})
    recurring: Any = {"interval": interval}
    return client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": amount,
                                    "recurring": recurring}).id


def a_clock(client: stripe.StripeClient, frozen_time: int = FROZEN) -> str:
    return client.v1.test_helpers.test_clocks.create({"frozen_time": frozen_time}).id


def customer_on(client: stripe.StripeClient, clock_id: str) -> stripe.Customer:
    return client.v1.customers.create({"test_clock": clock_id, "payment_method": "pm_card_visa",
                                       "invoice_settings": {"default_payment_method": "pm_card_visa"}})


def trial_subscription(client: stripe.StripeClient, customer_id: str, price_id: str,
                       days: int = 7) -> stripe.Subscription:
    return client.v1.subscriptions.create({"customer": customer_id, "items": [{"price": price_id}],
                                           "trial_period_days": days})


# ------------------------------------------------------------- the object


def test_a_test_clock_is_shaped_as_stripes(client: stripe.StripeClient) -> None:
    before = int(time.time())
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": FROZEN, "name": "renewals"})

    assert clock.id.startswith("clock_")
    assert (clock.object, clock.frozen_time, clock.name, clock.status) == (
        "test_helpers.test_clock", FROZEN, "renewals", "ready")
    assert clock.status_details.to_dict() == {}
    assert before <= clock.created <= int(time.time()), "created in wall time, not the clock's"
    assert clock.deletes_after == clock.created + 7 * DAY
    assert clock.livemode is False
    assert client.v1.test_helpers.test_clocks.retrieve(clock.id).to_dict() == clock.to_dict()
    assert [listed.id for listed in client.v1.test_helpers.test_clocks.list().data] == [clock.id]
    created = client.v1.events.list({"type": "test_helpers.test_clock.created"}).data
    assert [event.data.object["id"] for event in created] == [clock.id]


def test_objects_of_a_customer_on_a_clock_live_in_its_time(client: stripe.StripeClient) -> None:
    clock = a_clock(client)
    customer = customer_on(client, clock)
    subscription = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": a_price(client)}],
                                                   "expand": ["latest_invoice"]})

    assert (customer.created, customer.test_clock) == (FROZEN, clock)
    assert (subscription.created, subscription.start_date, subscription.test_clock) == (FROZEN, FROZEN, clock)
    assert subscription["items"].data[0].current_period_end == unix(2031, 2, 15)
    invoice = subscription.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.created, invoice.test_clock, invoice.status) == (FROZEN, clock, "paid")
    assert invoice.status_transitions.paid_at == FROZEN
    for event in client.v1.events.list({"types": ["customer.created", "customer.subscription.created",
                                                  "invoice.paid"]}).data:
        assert event.created == FROZEN, event.type
    plain = client.v1.customers.create({})
    assert plain.test_clock is None
    assert abs(plain.created - time.time()) < 5, "a customer without a clock lives in wall time"


# ------------------------------------------------------------- advancing


def test_an_advance_answers_advancing_then_the_clock_is_ready_with_stripes_events(
        client: stripe.StripeClient) -> None:
    clock = a_clock(client)
    customer = customer_on(client, clock)
    subscription = trial_subscription(client, customer.id, a_price(client, 4900))
    assert subscription.trial_end == FROZEN + 7 * DAY

    answer = client.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": FROZEN + 8 * DAY})

    assert (answer.status, answer.frozen_time) == ("advancing", FROZEN)
    assert answer.status_details.advancing is not None
    assert answer.status_details.advancing.target_frozen_time == FROZEN + 8 * DAY
    wait_until(lambda: client.v1.test_helpers.test_clocks.retrieve(clock).status == "ready")
    ready = advance_test_clock(client, clock, FROZEN + 9 * DAY)
    assert (ready.status, ready.frozen_time) == ("ready", FROZEN + 9 * DAY)
    assert ready.status_details.to_dict() == {}
    active = client.v1.subscriptions.retrieve(subscription.id)
    assert active.status == "active"
    invoice = client.v1.invoices.retrieve(str(active.latest_invoice))
    assert (invoice.created, invoice.amount_paid, invoice.billing_reason) == (FROZEN + 7 * DAY, 4900,
                                                                             "subscription_cycle")
    clock_events = [event.type for event in client.v1.events.list({"type": "test_helpers.test_clock.*"}).data]
    assert clock_events == ["test_helpers.test_clock.ready", "test_helpers.test_clock.advancing",
                            "test_helpers.test_clock.ready", "test_helpers.test_clock.advancing",
                            "test_helpers.test_clock.created"]
    ended = client.v1.events.list({"type": "customer.subscription.updated"}).data[0]
    assert ended.created == FROZEN + 7 * DAY, "work runs at the moment it fell due"
    reminder = client.v1.events.list({"type": "customer.subscription.trial_will_end"}).data[0]
    assert reminder.created == FROZEN + 4 * DAY


def test_while_a_clock_advances_its_objects_read_as_before_and_refuse_changes(
        client: stripe.StripeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_clocks, "ADVANCE_SECONDS", 60.0)  # an advance that does not finish in this test
    clock = a_clock(client)
    customer = customer_on(client, clock)
    subscription = trial_subscription(client, customer.id, a_price(client))

    client.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": FROZEN + 8 * DAY})

    assert client.v1.test_helpers.test_clocks.retrieve(clock).status == "advancing"
    assert client.v1.subscriptions.retrieve(subscription.id).status == "trialing"
    with pytest.raises(stripe.InvalidRequestError, match="advancing"):
        client.v1.subscriptions.update(subscription.id, {"metadata": {"k": "v"}})
    with pytest.raises(stripe.InvalidRequestError, match="advancing"):
        client.v1.customers.create({"test_clock": clock})
    with pytest.raises(stripe.InvalidRequestError, match="already advancing"):
        client.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": FROZEN + 9 * DAY})


def test_advancing_one_clock_moves_only_its_customers(client: stripe.StripeClient) -> None:
    price = a_price(client)
    moved, still = a_clock(client), a_clock(client)
    on_moved = trial_subscription(client, customer_on(client, moved).id, price)
    on_still = trial_subscription(client, customer_on(client, still).id, price)
    in_wall_time = trial_subscription(client, client.v1.customers.create({}).id, price)

    advance_test_clock(client, moved, FROZEN + 8 * DAY)

    assert client.v1.subscriptions.retrieve(on_moved.id).status == "active"
    assert client.v1.subscriptions.retrieve(on_still.id).status == "trialing"
    assert client.v1.subscriptions.retrieve(in_wall_time.id).status == "trialing"
    assert client.v1.test_helpers.test_clocks.retrieve(still).frozen_time == FROZEN


def test_a_year_of_advances_bills_twelve_months_dated_on_the_anchor_day(client: stripe.StripeClient) -> None:
    start = unix(2031, 1, 31)
    clock = a_clock(client, start)
    customer = customer_on(client, clock)
    subscription = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": a_price(client)}]})

    for month in range(1, 13):
        advance_test_clock(client, clock, add_months(start, month))

    invoices = client.v1.invoices.list({"subscription": subscription.id, "limit": 100}).data
    assert len(invoices) == 13
    assert [invoice.created for invoice in reversed(invoices)] == [add_months(start, n) for n in range(13)]
    assert datetime.fromtimestamp(invoices[-2].created, UTC).day == 28  # Feb 28, then back to the 31st
    assert datetime.fromtimestamp(invoices[-3].created, UTC).day == 31


def test_wall_time_customers_move_with_wall_time(client: stripe.StripeClient) -> None:
    """No clock: what falls due happens as real time passes (seen at the next request)."""
    customer = client.v1.customers.create({"payment_method": "pm_card_visa",
                                           "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    trial_end = int(time.time()) + 2
    subscription = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": a_price(client)}],
                                                   "trial_end": trial_end})
    assert subscription.status == "trialing"

    time.sleep(trial_end - time.time() + 1.1)

    active = client.v1.subscriptions.retrieve(subscription.id)
    assert active.status == "active"
    assert client.v1.invoices.retrieve(str(active.latest_invoice)).created == trial_end


def test_a_change_moves_what_wall_time_brings(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"payment_method": "pm_card_visa",
                                           "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    subscription = trial_subscription(client, customer.id, a_price(client), days=14)
    client.v1.subscriptions.retrieve(subscription.id)  # the emulator now knows its next step is days away
    trial_end = int(time.time()) + 2

    client.v1.subscriptions.update(subscription.id, {"trial_end": trial_end})
    time.sleep(trial_end - time.time() + 1.1)

    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"


# ----------------------------------------------------------------- limits


def test_a_clock_only_moves_forward(client: stripe.StripeClient) -> None:
    clock = a_clock(client)
    for frozen_time in (FROZEN, FROZEN - 1):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": frozen_time})
        assert refused.value.param == "frozen_time"


def test_an_advance_goes_at_most_two_intervals_of_the_shortest_subscription(client: stripe.StripeClient) -> None:
    clock = a_clock(client)
    with pytest.raises(stripe.InvalidRequestError, match="two years"):
        client.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": add_months(FROZEN, 24) + 1})
    first, second = customer_on(client, clock), customer_on(client, clock)
    client.v1.subscriptions.create({"customer": first.id, "items": [{"price": a_price(client, interval="year")}]})
    with pytest.raises(stripe.InvalidRequestError, match="two intervals"):
        client.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": add_months(FROZEN, 24) + 1})
    client.v1.subscriptions.create({"customer": second.id, "items": [{"price": a_price(client, interval="week")}]})

    with pytest.raises(stripe.InvalidRequestError, match="two intervals") as refused:
        client.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": FROZEN + 14 * DAY + 1})

    assert refused.value.param == "frozen_time"
    assert advance_test_clock(client, clock, FROZEN + 14 * DAY).frozen_time == FROZEN + 14 * DAY


def test_a_clock_takes_three_customers_and_each_three_subscriptions(client: stripe.StripeClient) -> None:
    clock = a_clock(client)
    customer = customer_on(client, clock)
    customer_on(client, clock)
    customer_on(client, clock)
    with pytest.raises(stripe.InvalidRequestError) as full:
        client.v1.customers.create({"test_clock": clock})
    assert full.value.param == "test_clock"
    prices = [a_price(client) for _ in range(4)]
    for price in prices[:3]:
        client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price}]})
    with pytest.raises(stripe.InvalidRequestError, match="3 subscriptions"):
        client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": prices[3]}]})


def test_an_unknown_clock_is_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.test_helpers.test_clocks.retrieve("clock_nope")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError) as as_parameter:
        client.v1.customers.create({"test_clock": "clock_nope"})
    assert (as_parameter.value.code, as_parameter.value.param) == ("resource_missing", "test_clock")


def test_test_clocks_are_test_mode_only(emulator: EmulatorHandle) -> None:
    live = client_for(emulator.url, "sk_live_emulator")
    with pytest.raises(stripe.InvalidRequestError, match="test mode"):
        live.v1.test_helpers.test_clocks.create({"frozen_time": FROZEN})


# ------------------------------------------------------- lists and deletes


def test_lists_leave_out_clock_customers_unless_their_clock_is_asked_for(client: stripe.StripeClient) -> None:
    clock = a_clock(client)
    on_clock = customer_on(client, clock)
    plain = client.v1.customers.create({})
    price = a_price(client)
    clocked = client.v1.subscriptions.create({"customer": on_clock.id, "items": [{"price": price}]})
    walled = client.v1.subscriptions.create({"customer": plain.id, "items": [{"price": price}],
                                             "collection_method": "send_invoice", "days_until_due": 30})

    assert [customer.id for customer in client.v1.customers.list().data] == [plain.id]
    assert [customer.id for customer in client.v1.customers.list({"test_clock": clock}).data] == [on_clock.id]
    assert [sub.id for sub in client.v1.subscriptions.list({"status": "all"}).data] == [walled.id]
    assert [sub.id for sub in client.v1.subscriptions.list({"test_clock": clock}).data] == [clocked.id]
    assert [sub.id for sub in client.v1.subscriptions.list({"customer": on_clock.id}).data] == [clocked.id]


def test_deleting_a_clock_deletes_its_customers_and_what_they_own(client: stripe.StripeClient) -> None:
    clock = a_clock(client)
    customer = customer_on(client, clock)
    subscription = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": a_price(client)}]})

    deleted = client.v1.test_helpers.test_clocks.delete(clock)

    assert (deleted.id, deleted.deleted) == (clock, True)
    for retrieve, object_id in ((client.v1.test_helpers.test_clocks.retrieve, clock),
                                (client.v1.customers.retrieve, customer.id),
                                (client.v1.subscriptions.retrieve, subscription.id),
                                (client.v1.invoices.retrieve, str(subscription.latest_invoice))):
        with pytest.raises(stripe.InvalidRequestError) as gone:
            retrieve(object_id)
        assert gone.value.code == "resource_missing"
    assert [event.type for event in client.v1.events.list({"type": "test_helpers.test_clock.deleted"}).data] == [
        "test_helpers.test_clock.deleted"]


def test_a_clock_deletes_itself_at_deletes_after(client: stripe.StripeClient,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_clocks, "LIFETIME", 0)
    clock = a_clock(client)

    with pytest.raises(stripe.InvalidRequestError) as gone:
        client.v1.test_helpers.test_clocks.retrieve(clock)

    assert gone.value.code == "resource_missing"


def test_an_existing_customer_without_subscriptions_can_join_a_new_clock(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"email": "joins@example.com"})

    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": FROZEN, "customer": customer.id})

    assert client.v1.customers.list({"test_clock": clock.id}).data[0].id == customer.id
    with pytest.raises(stripe.InvalidRequestError, match="already attached"):
        client.v1.test_helpers.test_clocks.create({"frozen_time": FROZEN, "customer": customer.id})


def test_the_emulators_own_clock_is_read_only_wall_time(emulator: EmulatorHandle) -> None:
    assert abs(emulator_call(emulator, "GET", "/_emulator/clock")["now"] - time.time()) < 5
    with pytest.raises(urllib.error.HTTPError) as gone:
        emulator_call(emulator, "POST", "/_emulator/clock/advance", {"seconds": 60})
    assert gone.value.code == 404
