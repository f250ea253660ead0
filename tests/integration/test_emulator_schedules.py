"""Subscription schedules through the real SDK: made from a subscription, a next phase with
another price from the end of the current period (what the product's plan change at period
end does), phases crossed by a test clock with the events Stripe sends, completion with
release or cancel, release, cancel, list filters, and what a subscription managed by a
schedule refuses or passes on to its schedule.

Subscriptions live on a test clock frozen at noon on 1 April 2031 (April's period is 30 days).
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.integration.test_emulator_billing import HALFWAY, NEXT_PERIOD, START, Scenario, unix

DAY = 86400
JUNE = unix(2031, 6, 1)


def types_since(client: stripe.StripeClient, moment_event: str | None, *kinds: str) -> list[str]:
    """Event types of these kinds (prefixes), oldest first, after the event `moment_event` (None: all)."""
    listed = list(reversed(client.v1.events.list({"limit": 100}).data))
    if moment_event is not None:
        listed = listed[[event.id for event in listed].index(moment_event) + 1:]
    return [event.type for event in listed if event.type.startswith(kinds)]


def last_event_id(client: stripe.StripeClient) -> str:
    return client.v1.events.list({"limit": 1}).data[0].id


def price_of(subscription: stripe.Subscription) -> list[str]:
    return [item.price.id for item in subscription["items"].data]


def next_phase(price: str, **phase: Any) -> Any:
    return {"items": [{"price": price, "quantity": 1}], **phase}


def current(schedule: stripe.SubscriptionSchedule, price: str, **phase: Any) -> Any:
    first = schedule.phases[0]
    return {"items": [{"price": price, "quantity": 1}], "start_date": first.start_date,
            "end_date": first.end_date, **phase}


class Plans:
    """A customer on a test clock, a monthly basic and pro price, and an active basic subscription."""

    def __init__(self, client: stripe.StripeClient, **subscribe: Any) -> None:
        self.client = client
        self.scenario = Scenario(client)
        self.basic, self.pro = self.scenario.price(3000), self.scenario.price(6000)
        self.subscription = self.scenario.subscribe(self.basic, **subscribe)

    def schedule(self) -> stripe.SubscriptionSchedule:
        return self.client.v1.subscription_schedules.create({"from_subscription": self.subscription.id})

    def scheduled_change(self, **update: Any) -> stripe.SubscriptionSchedule:
        """Pro from the end of the current period, for one interval, then released: the product's plan change."""
        schedule = self.schedule()
        params: Any = {"end_behavior": "release", "phases": [
            current(schedule, self.basic, proration_behavior="none"),
            next_phase(self.pro, duration={"interval": "month"}, proration_behavior="none",
                       metadata={"plan": "pro"})], **update}
        return self.client.v1.subscription_schedules.update(schedule.id, params)

    def subscription_now(self) -> stripe.Subscription:
        return self.client.v1.subscriptions.retrieve(self.subscription.id)


# ------------------------------------------------------------------ create


def test_a_schedule_from_a_subscription_has_its_current_period_as_one_phase(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    before = last_event_id(client)

    schedule = plans.schedule()

    assert schedule.id.startswith("sub_sched_")
    assert (schedule.status, schedule.end_behavior, schedule.subscription, schedule.customer) == (
        "active", "release", plans.subscription.id, plans.scenario.customer.id)
    assert schedule.test_clock == plans.scenario.clock
    assert schedule.current_phase is not None
    assert (schedule.current_phase.start_date, schedule.current_phase.end_date) == (START, NEXT_PERIOD)
    [phase] = schedule.phases
    assert (phase.start_date, phase.end_date, phase.currency, phase.proration_behavior, phase.trial_end) == (
        START, NEXT_PERIOD, "usd", "create_prorations", None)
    assert [(item.price, item.quantity) for item in phase.items] == [(plans.basic, 1)]
    assert schedule.default_settings.collection_method == "charge_automatically"
    assert (schedule.created, schedule.released_at, schedule.completed_at, schedule.canceled_at) == (
        START, None, None, None)
    assert plans.subscription_now().schedule == schedule.id
    assert types_since(client, before, "subscription_schedule.", "customer.subscription.") == [
        "subscription_schedule.created", "customer.subscription.updated"]
    updated = client.v1.events.list({"type": "customer.subscription.updated"}).data[0]
    assert updated.data.previous_attributes is not None
    assert updated.data.previous_attributes["schedule"] is None
    assert client.v1.subscription_schedules.retrieve(schedule.id).to_dict() == schedule.to_dict()
    expanded = client.v1.subscriptions.retrieve(plans.subscription.id, {"expand": ["schedule"]})
    assert isinstance(expanded.schedule, stripe.SubscriptionSchedule)
    with_subscription = client.v1.subscription_schedules.retrieve(schedule.id, {"expand": ["subscription"]})
    assert isinstance(with_subscription.subscription, stripe.Subscription)


def test_a_subscription_is_scheduled_once_and_only_while_it_runs(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    plans.schedule()

    with pytest.raises(stripe.InvalidRequestError) as twice:
        plans.schedule()
    assert (twice.value.param, "already attached") == ("from_subscription", "already attached")
    client.v1.subscriptions.cancel(plans.subscription.id)
    with pytest.raises(stripe.InvalidRequestError) as canceled:
        plans.schedule()
    assert canceled.value.param == "from_subscription"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.subscription_schedules.create({"from_subscription": "sub_nope"})
    assert (unknown.value.http_status, unknown.value.code) == (400, "resource_missing")
    other: Any = {"from_subscription": plans.subscription.id, "end_behavior": "cancel"}
    with pytest.raises(stripe.InvalidRequestError) as with_more:
        client.v1.subscription_schedules.create(other)
    assert with_more.value.code == "parameter_unknown", "from_subscription takes no other parameters"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.subscription_schedules.retrieve("sub_sched_nope")
    assert missing.value.http_status == 404


# ---------------------------------------------------- phases crossed in time


def test_the_next_phase_changes_the_price_when_the_clock_crosses_the_period_end(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    schedule = plans.scheduled_change()
    assert [(phase.start_date, phase.end_date) for phase in schedule.phases] == [
        (START, NEXT_PERIOD), (NEXT_PERIOD, JUNE)]
    assert price_of(plans.subscription_now()) == [plans.basic], "nothing changes before the phase begins"
    assert plans.scenario.pending_amounts() == []
    before = last_event_id(client)

    plans.scenario.advance(NEXT_PERIOD + DAY)

    subscription = plans.subscription_now()
    assert price_of(subscription) == [plans.pro]
    assert subscription["items"].data[0].id != plans.subscription["items"].data[0].id, "a new price is a new item"
    assert subscription.schedule == schedule.id
    assert subscription.metadata is not None
    assert subscription.metadata.to_dict() == {"plan": "pro"}, "the phase's metadata joins the subscription's"
    moved = client.v1.subscription_schedules.retrieve(schedule.id)
    assert moved.status == "active"
    assert moved.current_phase is not None
    assert (moved.current_phase.start_date, moved.current_phase.end_date) == (NEXT_PERIOD, JUNE)
    renewal = plans.scenario.latest_invoice(plans.subscription.id)
    assert (renewal.created, renewal.billing_reason, renewal.amount_paid) == (NEXT_PERIOD, "subscription_cycle", 6000)
    assert [line.amount for line in renewal.lines.data] == [6000], "no prorations at a period boundary"
    assert types_since(client, before, "subscription_schedule.", "customer.subscription.") == [
        "customer.subscription.updated", "subscription_schedule.updated", "customer.subscription.updated"]
    phase_change = client.v1.events.list({"type": "subscription_schedule.updated"}).data[0]
    assert phase_change.created == NEXT_PERIOD
    assert phase_change.data.previous_attributes is not None
    assert phase_change.data.previous_attributes["current_phase"].to_dict() == {
        "start_date": START, "end_date": NEXT_PERIOD}


def test_after_the_last_phase_a_release_schedule_completes_and_the_subscription_goes_on(
        client: stripe.StripeClient) -> None:
    plans = Plans(client)
    schedule = plans.scheduled_change()
    plans.scenario.advance(NEXT_PERIOD + DAY)
    before = last_event_id(client)

    plans.scenario.advance(JUNE + DAY)

    completed = client.v1.subscription_schedules.retrieve(schedule.id)
    assert (completed.status, completed.completed_at, completed.current_phase) == ("completed", JUNE, None)
    assert (completed.released_at, completed.subscription) == (None, plans.subscription.id)
    subscription = plans.subscription_now()
    assert (subscription.status, subscription.schedule, price_of(subscription)) == ("active", None, [plans.pro])
    assert plans.scenario.latest_invoice(plans.subscription.id).amount_paid == 6000
    assert types_since(client, before, "subscription_schedule.", "customer.subscription.") == [
        "subscription_schedule.completed", "customer.subscription.updated", "customer.subscription.updated"]


def test_end_behavior_cancel_sets_cancel_at_and_ends_the_subscription_with_the_last_phase(
        client: stripe.StripeClient) -> None:
    plans = Plans(client)
    schedule = plans.scheduled_change(end_behavior="cancel")
    assert schedule.end_behavior == "cancel"
    leaving = plans.subscription_now()
    assert (leaving.cancel_at, leaving.cancel_at_period_end) == (JUNE, False)
    plans.scenario.advance(NEXT_PERIOD + DAY)
    before = last_event_id(client)

    plans.scenario.advance(JUNE + DAY)

    ended = plans.subscription_now()
    assert (ended.status, ended.ended_at) == ("canceled", JUNE)
    assert client.v1.subscription_schedules.retrieve(schedule.id).status == "completed"
    assert types_since(client, before, "subscription_schedule.", "customer.subscription.") == [
        "subscription_schedule.completed", "customer.subscription.deleted"]
    back: Any = {"end_behavior": "release"}
    with pytest.raises(stripe.InvalidRequestError) as done:
        client.v1.subscription_schedules.update(schedule.id, back)
    assert "`completed` status" in str(done.value)


def test_a_phase_ending_mid_period_prorates_as_the_next_phase_says(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    schedule = plans.schedule()
    client.v1.subscription_schedules.update(schedule.id, {"phases": [
        current(schedule, plans.basic, end_date=HALFWAY), next_phase(plans.pro)]})

    plans.scenario.advance(HALFWAY + DAY)

    assert price_of(plans.subscription_now()) == [plans.pro]
    pending = client.v1.invoice_items.list({"customer": plans.scenario.customer.id, "pending": True}).data
    assert sorted((item.amount, item.period.start, item.period.end) for item in pending) == [
        (-1500, HALFWAY, NEXT_PERIOD), (3000, HALFWAY, NEXT_PERIOD)]
    plans.scenario.advance(NEXT_PERIOD + 1)
    assert plans.scenario.latest_invoice(plans.subscription.id).amount_paid == 7500


def test_a_next_phase_with_always_invoice_bills_its_prorations_when_it_begins(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    schedule = plans.schedule()
    client.v1.subscription_schedules.update(schedule.id, {"phases": [
        current(schedule, plans.basic, end_date=HALFWAY), next_phase(plans.pro, proration_behavior="always_invoice")]})

    plans.scenario.advance(HALFWAY + DAY)

    invoice = plans.scenario.latest_invoice(plans.subscription.id)
    assert (invoice.created, invoice.billing_reason, invoice.amount_paid) == (HALFWAY, "subscription_update", 1500)


def test_a_next_phase_of_another_interval_starts_a_new_cycle(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    annual = plans.scenario.price(30000, "year")
    schedule = plans.schedule()
    client.v1.subscription_schedules.update(schedule.id, {"phases": [
        current(schedule, plans.basic), next_phase(annual, proration_behavior="none")]})

    plans.scenario.advance(NEXT_PERIOD + DAY)

    subscription = plans.subscription_now()
    item = subscription["items"].data[0]
    assert (subscription.billing_cycle_anchor, item.current_period_start, item.current_period_end) == (
        NEXT_PERIOD, NEXT_PERIOD, unix(2032, 5, 1))
    assert plans.scenario.latest_invoice(plans.subscription.id).amount_paid == 30000
    moved = client.v1.subscription_schedules.retrieve(schedule.id)
    assert moved.phases[1].end_date == unix(2032, 5, 1), "without an end, a phase lasts one interval of its price"


def test_a_trialing_subscriptions_next_phase_begins_with_the_first_invoice(client: stripe.StripeClient) -> None:
    plans = Plans(client, trial_period_days=14)
    trial_end = START + 14 * DAY
    schedule = plans.schedule()
    assert (schedule.phases[0].end_date, schedule.phases[0].trial_end) == (trial_end, trial_end)
    without_trial: Any = {"phases": [current(schedule, plans.basic), next_phase(plans.pro)]}
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscription_schedules.update(schedule.id, without_trial)
    assert refused.value.param == "phases[0][trial_end]"

    client.v1.subscription_schedules.update(schedule.id, {"phases": [
        current(schedule, plans.basic, trial_end=trial_end), next_phase(plans.pro)]})
    plans.scenario.advance(trial_end + DAY)

    subscription = plans.subscription_now()
    assert (subscription.status, price_of(subscription)) == ("active", [plans.pro])
    invoice = plans.scenario.latest_invoice(plans.subscription.id)
    assert (invoice.created, invoice.amount_paid) == (trial_end, 6000)


# ----------------------------------------------------- the current phase


def test_changing_the_current_phases_items_changes_the_subscription_now_with_prorations(
        client: stripe.StripeClient) -> None:
    plans = Plans(client)
    schedule = plans.schedule()
    plans.scenario.advance(HALFWAY)

    updated = client.v1.subscription_schedules.update(schedule.id, {"phases": [current(schedule, plans.pro)]})

    assert [item.price for item in updated.phases[0].items] == [plans.pro]
    assert price_of(plans.subscription_now()) == [plans.pro]
    assert plans.scenario.pending_amounts() == [-1500, 3000]
    unprorated = client.v1.subscription_schedules.update(schedule.id, {
        "phases": [current(schedule, plans.basic)], "proration_behavior": "none"})
    assert [item.price for item in unprorated.phases[0].items] == [plans.basic]
    assert plans.scenario.pending_amounts() == [-1500, 3000]


@pytest.mark.parametrize(("phases", "param"), [
    (lambda schedule, plans: [current(schedule, plans.basic, start_date=START + 1)], "phases[0][start_date]"),
    (lambda schedule, plans: [next_phase(plans.basic)], "phases[0][start_date]"),
    (lambda schedule, plans: [current(schedule, plans.basic), next_phase(plans.pro, start_date=NEXT_PERIOD + 1)],
     "phases[1][start_date]"),
    (lambda schedule, plans: [current(schedule, plans.basic),
                              next_phase(plans.pro, end_date=JUNE, duration={"interval": "month"})],
     "phases[1][duration]"),
    (lambda schedule, plans: [current(schedule, plans.basic), next_phase(plans.pro, end_date=NEXT_PERIOD)],
     "phases[1][end_date]"),
    (lambda schedule, plans: [current(schedule, plans.basic), next_phase("price_nope")],
     "phases[1][items][0][price]"),
])
def test_phases_that_do_not_follow_on_are_refused_and_change_nothing(client: stripe.StripeClient, phases: Any,
                                                                     param: str) -> None:
    plans = Plans(client)
    schedule = plans.schedule()

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscription_schedules.update(schedule.id, {"phases": phases(schedule, plans)})

    assert refused.value.param == param
    assert client.v1.subscription_schedules.retrieve(schedule.id).to_dict() == schedule.to_dict()


def test_an_archived_price_cannot_be_scheduled(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    schedule = plans.schedule()
    client.v1.prices.update(plans.pro, {"active": False})

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscription_schedules.update(schedule.id, {"phases": [current(schedule, plans.basic),
                                                                         next_phase(plans.pro)]})

    assert "inactive" in str(refused.value)


# ------------------------------------------- a subscription with a schedule


def test_a_managed_subscription_refuses_its_own_cancellation(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    schedule = plans.schedule()

    for change in ({"cancel_at_period_end": True}, {"cancel_at": JUNE}):
        params: Any = change
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.subscriptions.update(plans.subscription.id, params)
        assert str(refused.value.user_message).startswith(
            f"The subscription is managed by the subscription schedule `{schedule.id}`, and updating any "
            "cancelation behavior directly is not allowed.")
    assert plans.subscription_now().cancel_at is None


def test_a_direct_change_to_a_managed_subscription_becomes_its_current_phase(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    schedule = plans.scheduled_change()
    item = plans.subscription["items"].data[0]
    before = last_event_id(client)

    client.v1.subscriptions.update(plans.subscription.id, {"items": [{"id": item.id, "quantity": 2}],
                                                           "proration_behavior": "none"})

    followed = client.v1.subscription_schedules.retrieve(schedule.id)
    assert [(item.price, item.quantity) for item in followed.phases[0].items] == [(plans.basic, 2)]
    assert [(item.price, item.quantity) for item in followed.phases[1].items] == [(plans.pro, 1)]
    assert types_since(client, before, "subscription_schedule.", "customer.subscription.") == [
        "customer.subscription.updated", "subscription_schedule.updated"]
    with pytest.raises(stripe.InvalidRequestError) as beyond:
        client.v1.subscriptions.update(plans.subscription.id, {"trial_end": NEXT_PERIOD + DAY})
    assert beyond.value.param == "trial_end"


def test_canceling_a_managed_subscription_cancels_its_schedule(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    schedule = plans.scheduled_change()
    before = last_event_id(client)

    client.v1.subscriptions.cancel(plans.subscription.id)

    canceled = client.v1.subscription_schedules.retrieve(schedule.id)
    assert (canceled.status, canceled.canceled_at, canceled.current_phase) == ("canceled", START, None)
    assert types_since(client, before, "subscription_schedule.", "customer.subscription.") == [
        "customer.subscription.deleted", "subscription_schedule.canceled"]


def test_deleting_the_customer_cancels_the_schedule(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    schedule = plans.schedule()

    client.v1.customers.delete(plans.scenario.customer.id)

    assert client.v1.subscription_schedules.retrieve(schedule.id).status == "canceled"


# ------------------------------------------------------- release and cancel


def test_release_lets_the_subscription_go_on_unchanged(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    schedule = plans.scheduled_change()
    plans.scenario.advance(HALFWAY)
    before = last_event_id(client)

    released = client.v1.subscription_schedules.release(schedule.id)

    assert (released.status, released.released_at, released.released_subscription, released.subscription) == (
        "released", HALFWAY, plans.subscription.id, None)
    assert released.current_phase is None
    subscription = plans.subscription_now()
    assert (subscription.schedule, price_of(subscription)) == (None, [plans.basic])
    assert types_since(client, before, "subscription_schedule.", "customer.subscription.") == [
        "subscription_schedule.released", "customer.subscription.updated"]
    plans.scenario.advance(NEXT_PERIOD + DAY)
    assert price_of(plans.subscription_now()) == [plans.basic], "the released phases never happen"
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.subscription_schedules.release(schedule.id)
    assert "`released` status" in str(again.value)


@pytest.mark.parametrize(("preserve", "cancel_at"), [(False, None), (True, JUNE)])
def test_release_drops_the_schedules_cancellation_unless_asked_to_keep_it(client: stripe.StripeClient,
                                                                          preserve: bool,
                                                                          cancel_at: int | None) -> None:
    plans = Plans(client)
    schedule = plans.scheduled_change(end_behavior="cancel")

    client.v1.subscription_schedules.release(schedule.id, {"preserve_cancel_date": preserve})

    assert plans.subscription_now().cancel_at == cancel_at


def test_cancel_ends_schedule_and_subscription_crediting_unused_time_by_default(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    schedule = plans.scheduled_change()
    plans.scenario.advance(HALFWAY)
    before = last_event_id(client)

    canceled = client.v1.subscription_schedules.cancel(schedule.id)

    assert (canceled.status, canceled.canceled_at, canceled.subscription) == (
        "canceled", HALFWAY, plans.subscription.id)
    subscription = plans.subscription_now()
    assert (subscription.status, subscription.ended_at) == ("canceled", HALFWAY)
    final = client.v1.invoices.retrieve(str(subscription.latest_invoice))
    assert (final.total, final.amount_due, final.created) == (-1500, 0, HALFWAY)
    assert types_since(client, before, "subscription_schedule.", "customer.subscription.") == [
        "subscription_schedule.canceled", "customer.subscription.deleted"]


def test_cancel_without_prorating_or_invoicing(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    schedule = plans.schedule()
    plans.scenario.advance(HALFWAY)

    client.v1.subscription_schedules.cancel(schedule.id, {"prorate": False, "invoice_now": False})

    subscription = plans.subscription_now()
    assert (subscription.status, subscription.latest_invoice) == ("canceled", plans.subscription.latest_invoice)
    assert plans.scenario.pending_amounts() == []


# -------------------------------------------------------------------- list


def test_list_by_customer_and_by_how_schedules_ended(client: stripe.StripeClient) -> None:
    plans = Plans(client)
    released = plans.schedule()
    client.v1.subscription_schedules.release(released.id)
    second = plans.scenario.subscribe(plans.pro)
    canceled = client.v1.subscription_schedules.create({"from_subscription": second.id})
    client.v1.subscription_schedules.cancel(canceled.id, {"invoice_now": False, "prorate": False})
    third = plans.scenario.subscribe(plans.scenario.price(1000))
    active = client.v1.subscription_schedules.create({"from_subscription": third.id})
    elsewhere = Plans(client)
    other = elsewhere.schedule()

    def listed(**params: Any) -> list[str]:
        query: Any = params
        return [schedule.id for schedule in client.v1.subscription_schedules.list(query).data]

    mine = plans.scenario.customer.id
    assert listed(customer=mine) == [active.id, canceled.id, released.id]
    assert listed() == [other.id, active.id, canceled.id, released.id]
    assert listed(customer=mine, scheduled=True) == []
    assert listed(customer=mine, scheduled=False) == [active.id, canceled.id, released.id]
    assert listed(released_at={"gte": START}) == [released.id]
    assert listed(canceled_at=START) == [canceled.id]
    assert listed(completed_at={"gte": START}) == []
    assert listed(customer=mine, limit=1, starting_after=active.id) == [canceled.id]
