"""The webhook events the product's tests rely on, scenario by scenario, driven only through the
SDK and Stripe's test clocks, as delivered to a webhook endpoint: each delivery is verified with
its account's own secret (and fails with the other account's), and each scenario's events come in
the order Stripe sends them.

What the emulator sends (events of test_helpers.* left out; see local/stripe_emulator/renewals.py):

  trial ends (card on file)    trial_will_end 3 days before; then invoice.created,
                               customer.subscription.updated (trialing -> active), invoice.finalized,
                               invoice.paid, invoice.payment_succeeded
  trial ends (send_invoice)    invoice.created, customer.subscription.updated, invoice.finalized; the
                               invoice stays open until paid; past its due date the subscription is
                               past_due (customer.subscription.updated)
  renewal, paid                invoice.created, customer.subscription.updated (the new period on the
                               items, latest_invoice), invoice.finalized, invoice.paid,
                               invoice.payment_succeeded
  renewal, declined            invoice.created, invoice.finalized, invoice.payment_failed,
                               customer.subscription.updated (active -> past_due); paying again with a
                               declining card: invoice.payment_failed; with a good one: invoice.paid,
                               invoice.payment_succeeded, customer.subscription.updated (-> active)
  schedule, price at period end  subscription_schedule.created, customer.subscription.updated;
                               subscription_schedule.updated; at the period end
                               customer.subscription.updated (new price), subscription_schedule.updated,
                               then the renewal; after the last phase subscription_schedule.completed,
                               customer.subscription.updated (schedule released)
  cancel                       customer.subscription.deleted; cancel_at_period_end:
                               customer.subscription.updated now, customer.subscription.deleted at the
                               period end (no invoice)
  void, uncollectible          invoice.voided; invoice.marked_uncollectible
  customer deleted             customer.subscription.deleted (each live subscription), customer.deleted
  trial ends, no card, pause   customer.subscription.paused, customer.subscription.updated; resume:
                               invoice.created, invoice.finalized, invoice.paid,
                               invoice.payment_succeeded, customer.subscription.resumed,
                               customer.subscription.updated
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from local.stripe_emulator import EmulatorHandle, start_in_thread
from local.stripe_emulator.clock import add_months
from local.stripe_emulator.testing import RecordingReceiver, advance_test_clock, client_for
from tests.conftest import emulator_call

SECRETS = {"test": "whsec_scenarios_test", "live": "whsec_scenarios_live"}
DAY = 86400
START = int(datetime(2031, 1, 15, 12, tzinfo=UTC).timestamp())
NEXT_PERIOD = add_months(START, 1)
RENEWAL = ["invoice.created", "customer.subscription.updated", "invoice.finalized", "invoice.paid",
           "invoice.payment_succeeded"]


@pytest.fixture
def receiver() -> Iterator[RecordingReceiver]:
    made = RecordingReceiver()
    yield made
    made.close()


@pytest.fixture
def emulator(receiver: RecordingReceiver) -> Iterator[EmulatorHandle]:
    handle = start_in_thread(webhook_url=receiver.url, webhook_secrets=SECRETS)
    yield handle
    handle.stop()


class Story:
    """A customer on a test clock (with `card` as its default payment method, if any), two monthly
    prices, and what the webhook endpoint was sent since a mark."""

    def __init__(self, emulator: EmulatorHandle, receiver: RecordingReceiver, *, card: str | None = "pm_card_visa",
                 mode: str = "test") -> None:
        self.emulator, self.receiver, self.mode = emulator, receiver, mode
        self.client = client_for(emulator.url, "sk_live_emulator" if mode == "live" else "sk_test_emulator")
        self.clock = self.client.v1.test_helpers.test_clocks.create({"frozen_time": START}).id \
            if mode == "test" else None
        details: dict[str, Any] = {"test_clock": self.clock} if self.clock else {}
        if card:
            details |= {"payment_method": card, "invoice_settings": {"default_payment_method": card}}
        self.customer = self.client.v1.customers.create(details)  # type: ignore[arg-type]
        product = self.client.v1.products.create({"name": "Plan"})
        self.basic, self.pro = (self.client.v1.prices.create({
            "product": product.id, "currency": "usd", "unit_amount": amount, "recurring": {"interval": "month"}}).id
            for amount in (2000, 5000))

    def subscribe(self, **params: Any) -> stripe.Subscription:
        return self.client.v1.subscriptions.create({  # type: ignore[arg-type]
            "customer": self.customer.id, "items": [{"price": self.basic}], **params})

    def subscription(self, subscription_id: str) -> stripe.Subscription:
        return self.client.v1.subscriptions.retrieve(subscription_id)

    def advance(self, to: int) -> None:
        assert self.clock is not None
        advance_test_clock(self.client, self.clock, to)

    def _flushed(self) -> list[Any]:
        flushed = emulator_call(self.emulator, "POST", "/_emulator/deliveries/flush")
        assert flushed["drained"] is True
        return self.receiver.deliveries

    def mark(self) -> int:
        return len(self._flushed())

    def events_since(self, mark: int) -> list[stripe.Event]:
        """Every event delivered since the mark, oldest first, each verified with its account's secret."""
        own, other = SECRETS[self.mode], SECRETS["live" if self.mode == "test" else "test"]
        events = []
        for delivery in self._flushed()[mark:]:
            with pytest.raises(stripe.SignatureVerificationError):
                delivery.verified(other)
            event = delivery.verified(own)
            assert event.livemode is (self.mode == "live")
            if not event.type.startswith("test_helpers."):
                events.append(event)
        return events

    def types_since(self, mark: int) -> list[str]:
        return [event.type for event in self.events_since(mark)]


def only(events: list[stripe.Event], event_type: str) -> list[stripe.Event]:
    return [event for event in events if event.type == event_type]


def period_of(subscription: dict[str, Any]) -> tuple[int, int]:
    """This API version keeps the current period on each subscription item, not on the subscription."""
    assert "current_period_start" not in subscription
    item = subscription["items"]["data"][0]
    return item["current_period_start"], item["current_period_end"]


def previous(event: stripe.Event) -> dict[str, Any]:
    assert event.data.previous_attributes is not None
    return event.data.previous_attributes.to_dict()


# ------------------------------------------------------------ (a) trials


def test_a_trial_warns_three_days_before_and_ends_active_with_a_paid_invoice(
        emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    story = Story(emulator, receiver)
    subscription = story.subscribe(trial_period_days=14)
    trial_end = START + 14 * DAY
    mark = story.mark()

    story.advance(trial_end - 3 * DAY + 60)
    warned = story.events_since(mark)
    mark = story.mark()
    story.advance(trial_end + 60)
    ended = story.events_since(mark)

    assert [event.type for event in warned] == ["customer.subscription.trial_will_end"]
    assert (warned[0].created, warned[0].data.object["status"]) == (trial_end - 3 * DAY, "trialing")
    assert [event.type for event in ended] == RENEWAL
    assert {event.created for event in ended} == {trial_end}
    updated = ended[1].data.object.to_dict()
    assert (updated["status"], previous(ended[1])["status"]) == ("active", "trialing")
    assert period_of(updated) == (trial_end, add_months(trial_end, 1))
    invoice = ended[0].data.object
    assert updated["latest_invoice"] == invoice["id"]
    assert (invoice["status"], invoice["billing_reason"], invoice["amount_due"]) == ("draft", "subscription_cycle",
                                                                                     2000)
    assert ended[3].data.object["status"] == "paid", "each event holds the invoice as it was then"
    assert story.subscription(subscription.id).status == "active"


def test_a_send_invoice_trial_ends_with_an_open_invoice_that_stays_open_until_paid(
        emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    story = Story(emulator, receiver, card=None)
    subscription = story.subscribe(trial_period_days=14, collection_method="send_invoice", days_until_due=7)
    trial_end = START + 14 * DAY
    story.advance(trial_end - 3 * DAY + 60)
    mark = story.mark()

    story.advance(trial_end + 60)
    ended = story.events_since(mark)
    mark = story.mark()
    story.advance(trial_end + 6 * DAY)
    waiting = story.events_since(mark)
    mark = story.mark()
    story.advance(trial_end + 7 * DAY + 60)
    overdue = story.events_since(mark)
    invoice_id = ended[0].data.object["id"]
    mark = story.mark()
    story.client.v1.invoices.pay(invoice_id, {"paid_out_of_band": True})
    paid = story.events_since(mark)

    assert [event.type for event in ended] == ["invoice.created", "customer.subscription.updated",
                                               "invoice.finalized"]
    assert ended[1].data.object["status"] == "active"
    assert (ended[2].data.object["status"], ended[2].data.object["due_date"]) == ("open", trial_end + 7 * DAY)
    assert waiting == [], "an open send_invoice invoice waits for its customer"
    assert [event.type for event in overdue] == ["customer.subscription.updated"]
    assert (overdue[0].data.object["status"], previous(overdue[0])["status"]) == ("past_due", "active")
    assert [event.type for event in paid] == ["invoice.paid", "customer.subscription.updated"]
    assert paid[1].data.object["status"] == "active"
    assert story.subscription(subscription.id).status == "active"


# ----------------------------------------------------------- (b) renewal


def test_a_renewal_that_is_paid(emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    story = Story(emulator, receiver)
    subscription = story.subscribe()
    mark = story.mark()

    story.advance(NEXT_PERIOD + 60)
    renewed = story.events_since(mark)

    assert [event.type for event in renewed] == RENEWAL
    updated = renewed[1]
    assert period_of(updated.data.object.to_dict()) == (NEXT_PERIOD, add_months(START, 2))
    changed = previous(updated)
    assert changed["latest_invoice"] == subscription.latest_invoice
    assert (changed["items"]["data"][0]["current_period_start"],
            changed["items"]["data"][0]["current_period_end"]) == (START, NEXT_PERIOD)
    assert renewed[3].data.object["amount_paid"] == 2000


# ------------------------------------------------- (c) declined, then paid


def test_a_renewal_declined_then_paid_goes_past_due_and_back(emulator: EmulatorHandle,
                                                            receiver: RecordingReceiver) -> None:
    story = Story(emulator, receiver)
    subscription = story.subscribe()
    with pytest.raises(stripe.CardError):
        story.client.v1.payment_methods.attach("pm_card_chargeDeclined", {"customer": story.customer.id})
    declining = story.client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": story.customer.id})
    story.client.v1.customers.update(story.customer.id, {"invoice_settings": {"default_payment_method": declining.id}})
    mark = story.mark()

    story.advance(NEXT_PERIOD + 60)
    failed = story.events_since(mark)
    invoice_id = failed[0].data.object["id"]
    mark = story.mark()
    with pytest.raises(stripe.CardError):
        story.client.v1.invoices.pay(invoice_id, {"payment_method": declining.id})
    failed_again = story.events_since(mark)
    good = story.client.v1.payment_methods.attach("pm_card_visa", {"customer": story.customer.id})
    mark = story.mark()
    story.client.v1.invoices.pay(invoice_id, {"payment_method": good.id})
    paid = story.events_since(mark)

    assert [event.type for event in failed] == ["invoice.created", "invoice.finalized", "invoice.payment_failed",
                                                "customer.subscription.updated"]
    assert failed[2].data.object["attempt_count"] == 1
    assert (failed[3].data.object["status"], previous(failed[3])["status"]) == ("past_due", "active")
    assert period_of(failed[3].data.object.to_dict()) == (NEXT_PERIOD, add_months(START, 2))
    assert [event.type for event in failed_again] == ["invoice.payment_failed"]
    assert failed_again[0].data.object["attempt_count"] == 2
    assert [event.type for event in paid] == ["invoice.paid", "invoice.payment_succeeded",
                                              "customer.subscription.updated"]
    assert (paid[2].data.object["status"], previous(paid[2])) == ("active", {"status": "past_due"})
    assert story.subscription(subscription.id).status == "active"


def test_a_declined_payment_of_a_send_invoice_invoice_leaves_the_subscription_active(
        emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    story = Story(emulator, receiver, card="pm_card_chargeCustomerFail")
    subscription = story.subscribe(collection_method="send_invoice", days_until_due=30)
    mark = story.mark()

    with pytest.raises(stripe.CardError):
        story.client.v1.invoices.pay(str(subscription.latest_invoice))

    assert story.types_since(mark) == ["invoice.payment_failed"]
    assert story.subscription(subscription.id).status == "active", "send_invoice falls past_due by its due date"


# ------------------------------------------------------------ (d) schedule


def test_a_schedule_switches_the_price_at_the_period_end_and_then_releases_the_subscription(
        emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    story = Story(emulator, receiver)
    subscription = story.subscribe()
    mark = story.mark()
    schedule = story.client.v1.subscription_schedules.create({"from_subscription": subscription.id})
    made = story.events_since(mark)
    mark = story.mark()
    story.client.v1.subscription_schedules.update(schedule.id, {"end_behavior": "release", "phases": [
        {"items": [{"price": story.basic}], "start_date": START, "end_date": NEXT_PERIOD},
        {"items": [{"price": story.pro}], "duration": {"interval": "month"}}]})
    planned = story.events_since(mark)
    mark = story.mark()
    story.advance(NEXT_PERIOD + 60)
    switched = story.events_since(mark)
    mark = story.mark()
    story.advance(add_months(START, 2) + 60)
    completed = story.events_since(mark)

    assert [event.type for event in made] == ["subscription_schedule.created", "customer.subscription.updated"]
    assert (made[1].data.object["schedule"], previous(made[1])) == (schedule.id, {"schedule": None})
    assert [event.type for event in planned] == ["subscription_schedule.updated"]
    assert [event.type for event in switched] == ["customer.subscription.updated", "subscription_schedule.updated",
                                                  *RENEWAL]
    assert switched[0].data.object["items"]["data"][0]["price"]["id"] == story.pro
    assert switched[2].data.object["lines"]["data"][0]["amount"] == 5000, "the new period at the new price"
    assert [event.type for event in completed] == ["subscription_schedule.completed",
                                                   "customer.subscription.updated", *RENEWAL]
    assert completed[0].data.object["status"] == "completed"
    assert (completed[1].data.object["schedule"], previous(completed[1])) == (None, {"schedule": schedule.id})


# ------------------------------------------------------------- (e) cancel


def test_a_cancel_now_deletes_the_subscription(emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    story = Story(emulator, receiver)
    subscription = story.subscribe()
    mark = story.mark()

    story.client.v1.subscriptions.cancel(subscription.id)

    deleted = story.events_since(mark)
    assert [event.type for event in deleted] == ["customer.subscription.deleted"]
    assert (deleted[0].data.object["status"], deleted[0].data.object["ended_at"]) == ("canceled", START)


def test_a_cancel_at_period_end_updates_now_and_deletes_at_the_period_end(
        emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    story = Story(emulator, receiver)
    subscription = story.subscribe()
    mark = story.mark()
    story.client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    asked = story.events_since(mark)
    mark = story.mark()

    story.advance(NEXT_PERIOD + 60)
    ended = story.events_since(mark)

    assert [event.type for event in asked] == ["customer.subscription.updated"]
    assert (asked[0].data.object["cancel_at_period_end"], asked[0].data.object["cancel_at"]) == (True, NEXT_PERIOD)
    assert previous(asked[0])["cancel_at_period_end"] is False
    assert [event.type for event in ended] == ["customer.subscription.deleted"], "no renewal invoice"
    assert (ended[0].data.object["status"], ended[0].data.object["ended_at"]) == ("canceled", NEXT_PERIOD)


# ------------------------------------------------ (f) void, uncollectible


def test_invoices_voided_and_marked_uncollectible(emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    story = Story(emulator, receiver, card=None)
    subscription = story.subscribe(collection_method="send_invoice", days_until_due=30)
    mark = story.mark()
    story.client.v1.invoices.void_invoice(str(subscription.latest_invoice))
    voided = story.events_since(mark)
    story.advance(NEXT_PERIOD + 60)
    renewal = story.client.v1.invoices.retrieve(str(story.subscription(subscription.id).latest_invoice))
    mark = story.mark()
    story.client.v1.invoices.mark_uncollectible(renewal.id)
    written_off = story.events_since(mark)

    assert [event.type for event in voided] == ["invoice.voided"]
    assert (voided[0].data.object["id"], voided[0].data.object["status"]) == (subscription.latest_invoice, "void")
    assert [event.type for event in written_off] == ["invoice.marked_uncollectible"]
    assert (written_off[0].data.object["id"], written_off[0].data.object["status"]) == (renewal.id, "uncollectible")


# -------------------------------------------------- (g) customer deleted


def test_deleting_a_customer_deletes_its_subscriptions_first(emulator: EmulatorHandle,
                                                            receiver: RecordingReceiver) -> None:
    story = Story(emulator, receiver)
    first = story.subscribe()
    second = story.subscribe(items=[{"price": story.pro}])
    mark = story.mark()

    story.client.v1.customers.delete(story.customer.id)

    gone = story.events_since(mark)
    assert [event.type for event in gone] == ["customer.subscription.deleted", "customer.subscription.deleted",
                                              "customer.deleted"]
    assert [event.data.object["id"] for event in gone] == [first.id, second.id, story.customer.id]
    assert {event.data.object["status"] for event in gone[:2]} == {"canceled"}


# ------------------------------------------------- (h) paused and resumed


def paused_story(emulator: EmulatorHandle, receiver: RecordingReceiver) -> tuple[Story, stripe.Subscription]:
    story = Story(emulator, receiver, card=None)
    subscription = story.subscribe(trial_period_days=14,
                                   trial_settings={"end_behavior": {"missing_payment_method": "pause"}})
    return story, subscription


def test_a_trial_ending_without_a_payment_method_pauses_and_resume_bills_a_new_period(
        emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    story, subscription = paused_story(emulator, receiver)
    trial_end = START + 14 * DAY
    story.advance(trial_end - 3 * DAY + 60)
    mark = story.mark()

    story.advance(trial_end + 60)
    paused = story.events_since(mark)
    mark = story.mark()
    story.advance(trial_end + 40 * DAY)
    idle = story.events_since(mark)
    card = story.client.v1.payment_methods.attach("pm_card_visa", {"customer": story.customer.id})
    story.client.v1.customers.update(story.customer.id, {"invoice_settings": {"default_payment_method": card.id}})
    mark = story.mark()
    resumed = story.client.v1.subscriptions.resume(subscription.id)
    events = story.events_since(mark)

    assert [event.type for event in paused] == ["customer.subscription.paused", "customer.subscription.updated"]
    assert (paused[0].data.object["status"], previous(paused[1])) == ("paused", {"status": "trialing"})
    assert paused[0].created == trial_end
    assert idle == [], "a paused subscription makes no invoices"
    assert [event.type for event in events] == ["invoice.created", "invoice.finalized", "invoice.paid",
                                                "invoice.payment_succeeded", "customer.subscription.resumed",
                                                "customer.subscription.updated"]
    assert (events[4].data.object["status"], previous(events[5])["status"]) == ("active", "paused")
    resumed_at = trial_end + 40 * DAY
    assert period_of(events[5].data.object.to_dict()) == (resumed_at, add_months(resumed_at, 1))
    assert (resumed.status, resumed.billing_cycle_anchor) == ("active", resumed_at)
    assert events[2].data.object["amount_paid"] == 2000


def test_resuming_on_payment_success_stays_paused_until_the_invoice_is_paid(
        emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    story, subscription = paused_story(emulator, receiver)
    story.advance(START + 14 * DAY + 60)
    declining = story.client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": story.customer.id})
    story.client.v1.customers.update(story.customer.id, {"invoice_settings": {"default_payment_method": declining.id}})
    mark = story.mark()

    still = story.client.v1.subscriptions.resume(subscription.id, {"payment_behavior": "resume_on_payment_success"})
    declined = story.events_since(mark)
    good = story.client.v1.payment_methods.attach("pm_card_visa", {"customer": story.customer.id})
    mark = story.mark()
    story.client.v1.invoices.pay(str(still.latest_invoice), {"payment_method": good.id})
    paid = story.events_since(mark)

    assert still.status == "paused"
    assert [event.type for event in declined] == ["invoice.created", "invoice.finalized", "invoice.payment_failed",
                                                  "customer.subscription.updated"]
    assert declined[3].data.object["status"] == "paused"
    assert [event.type for event in paid] == ["invoice.paid", "invoice.payment_succeeded",
                                              "customer.subscription.resumed", "customer.subscription.updated"]
    assert story.subscription(subscription.id).status == "active"


def test_resuming_on_payment_attempt_with_a_declining_card_is_past_due(
        emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    story, subscription = paused_story(emulator, receiver)
    story.advance(START + 14 * DAY + 60)
    declining = story.client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": story.customer.id})
    story.client.v1.customers.update(story.customer.id, {"invoice_settings": {"default_payment_method": declining.id}})
    mark = story.mark()

    resumed = story.client.v1.subscriptions.resume(subscription.id)

    assert resumed.status == "past_due"
    assert story.types_since(mark) == ["invoice.created", "invoice.finalized", "invoice.payment_failed",
                                       "customer.subscription.resumed", "customer.subscription.updated"]


def test_an_unpaid_resumption_invoice_is_voided_after_23_hours_and_the_subscription_stays_paused(
        emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    story, subscription = paused_story(emulator, receiver)
    resumed_at = START + 14 * DAY + 60
    story.advance(resumed_at)
    declining = story.client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": story.customer.id})
    story.client.v1.customers.update(story.customer.id, {"invoice_settings": {"default_payment_method": declining.id}})
    still = story.client.v1.subscriptions.resume(subscription.id, {"payment_behavior": "resume_on_payment_success"})
    mark = story.mark()

    story.advance(resumed_at + 24 * 3600)

    voided = story.events_since(mark)
    assert [event.type for event in voided] == ["invoice.voided"]
    assert (voided[0].data.object["id"], voided[0].created) == (still.latest_invoice, resumed_at + 23 * 3600)
    assert story.subscription(subscription.id).status == "paused"


def test_resume_without_a_new_cycle_prorates_the_rest_of_the_period(emulator: EmulatorHandle,
                                                                   receiver: RecordingReceiver) -> None:
    story, subscription = paused_story(emulator, receiver)
    trial_end = START + 14 * DAY
    story.advance(trial_end + 60)
    story.advance(trial_end + 10 * DAY)
    card = story.client.v1.payment_methods.attach("pm_card_visa", {"customer": story.customer.id})
    story.client.v1.customers.update(story.customer.id, {"invoice_settings": {"default_payment_method": card.id}})
    mark = story.mark()

    resumed = story.client.v1.subscriptions.resume(subscription.id, {"billing_cycle_anchor": {"type": "unchanged"}})

    assert resumed.status == "active"
    assert period_of(resumed.to_dict()) == (trial_end, add_months(trial_end, 1))
    assert story.types_since(mark) == ["invoiceitem.created", "customer.subscription.resumed",
                                       "customer.subscription.updated"], "prorations wait for the next invoice"


def test_a_trial_ending_without_a_payment_method_can_cancel_instead(emulator: EmulatorHandle,
                                                                   receiver: RecordingReceiver) -> None:
    story = Story(emulator, receiver, card=None)
    story.subscribe(trial_period_days=14, trial_settings={"end_behavior": {"missing_payment_method": "cancel"}})
    story.advance(START + 14 * DAY - 3 * DAY + 60)
    mark = story.mark()

    story.advance(START + 14 * DAY + 60)

    assert story.types_since(mark) == ["customer.subscription.deleted"]


def test_only_a_paused_subscription_resumes(emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    story = Story(emulator, receiver)
    subscription = story.subscribe()
    with pytest.raises(stripe.InvalidRequestError, match="paused"):
        story.client.v1.subscriptions.resume(subscription.id)


# --------------------------------------------------------------- live mode


def test_a_live_subscription_sends_live_events_signed_with_the_live_secret(
        emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    story = Story(emulator, receiver, mode="live")
    mark = story.mark()
    subscription = story.subscribe()
    story.client.v1.subscriptions.cancel(subscription.id)

    assert story.types_since(mark) == ["customer.subscription.created", "invoice.created", "invoice.finalized",
                                       "invoice.paid", "invoice.payment_succeeded", "customer.subscription.deleted"]


def test_the_resume_and_trial_settings_parameters_are_stripes() -> None:
    from local.stripe_emulator import routes
    from tests.unit.test_emulator_params import Comparison, sdk_params

    calls = {("POST", "/v1/subscriptions/{id}/resume"): "subscription_resume",
             ("POST", "/v1/subscriptions"): "subscription_create", ("POST", "/v1/subscriptions/{id}"):
                 "subscription_update"}
    for route in routes.ROUTES:
        if (route.method, route.path) in calls:
            comparison = Comparison()
            comparison.object(route.schema, sdk_params(calls[(route.method, route.path)]), "")
            assert comparison.problems == [], route.path
