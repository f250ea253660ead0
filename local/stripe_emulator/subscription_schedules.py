"""Subscription schedules: made from a subscription (`from_subscription`), read, listed,
their phases and end behavior changed, released or canceled. What a schedule does when
time crosses a phase boundary is in schedule_phases.py; how it follows changes made to
its subscription directly is in schedule_links.py.

A schedule made from a subscription has one phase, the subscription's current period with
its items, and releases the subscription when that phase ends. An update lists the phases
from the current one on (past phases are left out): the current phase keeps its start, each
later phase starts when the one before ends, and lasts its `end_date`, its `duration`, or
one interval of its prices. If the current phase's items change, the subscription changes
now, prorated as the request's `proration_behavior` says; a later phase's
`proration_behavior` is used when it begins. With `end_behavior=cancel` the subscription's
`cancel_at` is the end of the last phase.

Not emulated, and refused by name: schedules made for a customer from phases (they start a
subscription), trials set or moved through phases, default settings, invoice items added by
phases.
"""

from __future__ import annotations

import copy
from typing import Any

from local.stripe_emulator.clock import add_intervals
from local.stripe_emulator.errors import (
    exclusive_parameters,
    invalid_parameter,
    missing_parameter,
    state_error,
)
from local.stripe_emulator.listing import equals, list_kind, within
from local.stripe_emulator.params import (
    EXPAND,
    Array,
    Boolean,
    Choice,
    Integer,
    Metadata,
    Obj,
    Range,
    Text,
    Timestamp,
    list_schema,
)
from local.stripe_emulator.schedule_links import (
    KIND,
    LIVE,
    current_phase_of,
    phase_item,
    phase_items_of,
)
from local.stripe_emulator.store import Account, StripeObject, merge_metadata
from local.stripe_emulator.subscription_changes import apply_phase, end_subscription_now, phase_changes
from local.stripe_emulator.subscriptions import (
    ENDED,
    MAX_ITEMS,
    PRORATION_BEHAVIORS,
    check_prices_fit_together,
    current_period,
    cycle_of,
    schedule_cancellation,
    usable_price,
    withdraw_cancellation,
)

END_BEHAVIORS = ("cancel", "release")
INTERVALS = ("day", "week", "month", "year")
# A subscription in these states has nothing a schedule could manage.
NOT_MIGRATABLE = ("incomplete", "incomplete_expired", "canceled")

SCHEDULE_CREATE = Obj({"from_subscription": Text(), "expand": EXPAND}, required=("from_subscription",))
PHASE_ITEM = Obj({"price": Text(), "quantity": Integer(minimum=0), "metadata": Metadata()}, required=("price",))
PHASE = Obj({
    "items": Array(PHASE_ITEM, max_items=MAX_ITEMS), "start_date": Timestamp(), "end_date": Timestamp(),
    "duration": Obj({"interval": Choice(INTERVALS), "interval_count": Integer(minimum=1)}, required=("interval",)),
    "proration_behavior": Choice(PRORATION_BEHAVIORS), "metadata": Metadata(), "trial_end": Timestamp(),
}, required=("items",))
SCHEDULE_UPDATE = Obj({
    "phases": Array(PHASE), "end_behavior": Choice(END_BEHAVIORS), "proration_behavior": Choice(PRORATION_BEHAVIORS),
    "metadata": Metadata(), "expand": EXPAND,
})
SCHEDULE_RELEASE = Obj({"preserve_cancel_date": Boolean(), "expand": EXPAND})
SCHEDULE_CANCEL = Obj({"invoice_now": Boolean(), "prorate": Boolean(), "expand": EXPAND})
SCHEDULE_LIST = list_schema(customer=Text(), scheduled=Boolean(), canceled_at=Range(), completed_at=Range(),
                            released_at=Range())


# ----------------------------------------------------------------- shapes


def _phase(start: int, end: int, items: list[dict[str, Any]], currency: str, *, proration_behavior: str,
           metadata: dict[str, str], trial_end: int | None) -> StripeObject:
    return {
        "add_invoice_items": [], "application_fee_percent": None, "automatic_tax": None,
        "billing_cycle_anchor": None, "billing_thresholds": None, "collection_method": None, "currency": currency,
        "default_payment_method": None, "default_tax_rates": [], "description": None, "discounts": [],
        "end_date": end, "invoice_settings": None, "items": items, "metadata": metadata, "on_behalf_of": None,
        "proration_behavior": proration_behavior, "start_date": start, "transfer_data": None,
        "trial_end": trial_end,
    }


def _default_settings(subscription: StripeObject) -> StripeObject:
    return {
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": "automatic", "billing_thresholds": None,
        "collection_method": subscription["collection_method"],
        "default_payment_method": subscription["default_payment_method"], "description": None,
        "invoice_settings": {"account_tax_ids": None, "custom_fields": None,
                             "days_until_due": subscription["days_until_due"], "description": None, "footer": None,
                             "issuer": {"account": None, "type": "self"}},
        "on_behalf_of": None, "transfer_data": None,
    }


def _window(phase: StripeObject) -> StripeObject:
    return {"start_date": phase["start_date"], "end_date": phase["end_date"]}


# ----------------------------------------------------------------- create


def create_schedule(account: Account, params: dict[str, Any]) -> StripeObject:
    """A schedule managing an existing subscription: one phase, its current period and items."""
    subscription = account.get("subscription", params["from_subscription"], param="from_subscription")
    _check_migratable(subscription)
    start, end = current_period(subscription)
    trial_end = subscription["trial_end"] if subscription["status"] == "trialing" else None
    phase = _phase(start, end, phase_items_of(subscription), subscription["currency"],
                   proration_behavior="create_prorations", metadata={}, trial_end=trial_end)
    now = account.now()
    schedule = account.insert(account.new_object(
        "sub_sched", KIND, application=None,
        billing_mode={"flexible": {"proration_discounts": "included"}, "type": "flexible", "updated_at": now},
        canceled_at=None, completed_at=None, current_phase=_window(phase), customer=subscription["customer"],
        customer_account=None, default_settings=_default_settings(subscription), end_behavior="release",
        metadata={}, pause_schedules=[], phases=[phase], released_at=None, released_subscription=None,
        status="active", subscription=subscription["id"], test_clock=subscription["test_clock"]))
    before = copy.deepcopy(subscription)
    subscription["schedule"] = schedule["id"]
    account.emit("subscription_schedule.created", schedule)
    account.emit_update("customer.subscription.updated", subscription, before)
    return schedule


def _check_migratable(subscription: StripeObject) -> None:
    if subscription["status"] in NOT_MIGRATABLE:
        raise invalid_parameter("from_subscription", f"You cannot migrate a subscription that is "
                                                     f"{subscription['status']} to a subscription schedule.")
    if subscription["schedule"] is not None:
        raise invalid_parameter("from_subscription", f"The subscription `{subscription['id']}` is already attached "
                                                     f"to the subscription schedule `{subscription['schedule']}`.")
    if subscription["cancel_at"] is not None:
        # Stripe would carry the cancellation into the schedule's end; not emulated, so refused.
        raise invalid_parameter("from_subscription", f"The subscription `{subscription['id']}` is set to cancel; "
                                                     "the emulator does not move a cancellation into a schedule.")


# ----------------------------------------------------------------- update


def update_schedule(account: Account, schedule_id: str, params: dict[str, Any]) -> StripeObject:
    schedule = _live(account, schedule_id, "update")
    subscription = account.table("subscription")[schedule["subscription"]]
    phases = _planned_phases(account, schedule, subscription, params["phases"]) if "phases" in params else None
    before, subscription_before = copy.deepcopy(schedule), copy.deepcopy(subscription)
    if phases is not None:
        current = current_phase_of(schedule)
        past = schedule["phases"][:schedule["phases"].index(current)] if current is not None else []
        schedule["phases"] = past + phases
        schedule["current_phase"] = _window(phases[0])
        apply_phase(account, subscription, phase_changes(account, subscription, phases[0]["items"]),
                    params.get("proration_behavior", "create_prorations"))
    if "end_behavior" in params:
        schedule["end_behavior"] = params["end_behavior"]
    if "metadata" in params:
        schedule["metadata"] = merge_metadata(schedule["metadata"], params["metadata"])
    _cancel_at_schedule_end(account, schedule, subscription)
    account.emit_update("subscription_schedule.updated", schedule, before)
    account.emit_update("customer.subscription.updated", subscription, subscription_before)
    return schedule


def _planned_phases(account: Account, schedule: StripeObject, subscription: StripeObject,
                    specs: list[dict[str, Any]]) -> list[StripeObject]:
    """The phases from the current one on, checked in full before anything changes."""
    current = current_phase_of(schedule)
    if not specs:
        raise missing_parameter("phases")
    if current is None:
        raise state_error("The emulator updates the phases of an active schedule only.")
    if "start_date" not in specs[0]:
        raise missing_parameter("phases[0][start_date]")
    if specs[0]["start_date"] != current["start_date"]:
        raise invalid_parameter("phases[0][start_date]", "You can not modify the start date of the current phase "
                                                         f"({current['start_date']}); past phases are left out.")
    phases, start = [], current["start_date"]
    for index, spec in enumerate(specs):
        phases.append(_planned_phase(account, subscription, spec, index, start))
        start = phases[-1]["end_date"]
    if phases[0]["end_date"] <= account.now():
        raise invalid_parameter("phases[0][end_date]", "The current phase must end in the future.")
    _check_trials(subscription, phases)
    return phases


def _planned_phase(account: Account, subscription: StripeObject, spec: dict[str, Any], index: int,
                   start: int) -> StripeObject:
    name = f"phases[{index}]"
    if spec.get("start_date", start) != start:
        raise invalid_parameter(f"{name}[start_date]", f"A phase starts when the phase before it ends ({start}).")
    if not spec["items"]:
        raise missing_parameter(f"{name}[items]")
    prices = [usable_price(account, item["price"], f"{name}[items][{position}][price]")
              for position, item in enumerate(spec["items"])]
    check_prices_fit_together(prices)
    if prices[0]["currency"] != subscription["currency"]:
        raise invalid_parameter(f"{name}[items]", f"The phase's prices are in {prices[0]['currency']}, the "
                                                  f"subscription in {subscription['currency']}.")
    items = [phase_item(price["id"], item.get("quantity", 1), item.get("metadata"))
             for price, item in zip(prices, spec["items"], strict=True)]
    return _phase(start, _phase_end(spec, start, prices[0], name), items, subscription["currency"],
                  proration_behavior=spec.get("proration_behavior", "create_prorations"),
                  metadata=spec.get("metadata") or {}, trial_end=spec.get("trial_end"))


def _phase_end(spec: dict[str, Any], start: int, price: StripeObject, name: str) -> int:
    """Its end_date, or its duration, or one interval of its prices."""
    if "end_date" in spec and "duration" in spec:
        raise exclusive_parameters(f"{name}[end_date]", f"{name}[duration]")
    if "end_date" in spec:
        end = int(spec["end_date"])
    elif "duration" in spec:
        end = add_intervals(start, spec["duration"]["interval"], spec["duration"].get("interval_count", 1))
    else:
        end = add_intervals(start, *cycle_of(price))
    if end <= start:
        raise invalid_parameter(f"{name}[end_date]", f"A phase must end after it starts ({start}).")
    return end


def _check_trials(subscription: StripeObject, phases: list[StripeObject]) -> None:
    """The current phase carries the subscription's trial as it is; no phase starts or moves one here."""
    trial_end = subscription["trial_end"] if subscription["status"] == "trialing" else None
    if phases[0]["trial_end"] != trial_end:
        raise invalid_parameter("phases[0][trial_end]", (
            f"The subscription is trialing until {trial_end}: the current phase must say so with "
            f"trial_end={trial_end} (left out, the phase would end the trial now). The emulator does not "
            "move trials through a schedule.") if trial_end is not None else (
            "The emulator does not start a trial through a schedule's current phase."))
    for index, phase in enumerate(phases[1:], start=1):
        if phase["trial_end"] is not None:
            raise invalid_parameter(f"phases[{index}][trial_end]", "The emulator does not start trials through "
                                                                    "a schedule's later phases.")


def _cancel_at_schedule_end(account: Account, schedule: StripeObject, subscription: StripeObject) -> None:
    """end_behavior=cancel: the subscription is set to cancel when the last phase ends."""
    if schedule["end_behavior"] == "cancel":
        subscription["cancel_at_period_end"] = False
        schedule_cancellation(subscription, schedule["phases"][-1]["end_date"], account.now())
    elif subscription["cancel_at"] is not None:
        # Only a schedule sets a cancellation on a subscription it manages.
        withdraw_cancellation(subscription)


# ------------------------------------------------------- release and cancel


def release_schedule(account: Account, schedule_id: str, params: dict[str, Any]) -> StripeObject:
    """The schedule stops; its subscription goes on as it is (without the schedule's cancellation,
    unless `preserve_cancel_date`)."""
    schedule = _live(account, schedule_id, "release")
    subscription = account.find("subscription", schedule["subscription"] or "")
    schedule.update(status="released", released_at=account.now(), released_subscription=schedule["subscription"],
                    subscription=None, current_phase=None)
    account.emit("subscription_schedule.released", schedule)
    if subscription is not None:
        before = copy.deepcopy(subscription)
        subscription["schedule"] = None
        if subscription["cancel_at"] is not None and not params.get("preserve_cancel_date"):
            withdraw_cancellation(subscription)
        account.emit_update("customer.subscription.updated", subscription, before)
    return schedule


def cancel_schedule(account: Account, schedule_id: str, params: dict[str, Any]) -> StripeObject:
    """The schedule and its subscription end now; by default (unlike a subscription's own cancel) the
    unused time is credited and a final invoice made."""
    schedule = _live(account, schedule_id, "cancel")
    subscription = account.find("subscription", schedule["subscription"] or "")
    schedule.update(status="canceled", canceled_at=account.now(), current_phase=None)
    account.emit("subscription_schedule.canceled", schedule)
    if subscription is not None and subscription["status"] not in ENDED:
        end_subscription_now(account, subscription, prorate=params.get("prorate", True),
                             invoice_now=params.get("invoice_now", True))
    return schedule


def _live(account: Account, schedule_id: str, action: str) -> StripeObject:
    schedule = account.get(KIND, schedule_id)
    if schedule["status"] not in LIVE:
        raise state_error(f"You cannot {action} a subscription schedule that is currently in the "
                          f"`{schedule['status']}` status. It must be in one of the following statuses: "
                          "`not_started`, `active`.")
    return schedule


# ---------------------------------------------------------------- reading


def retrieve_schedule(account: Account, schedule_id: str) -> StripeObject:
    return account.get(KIND, schedule_id)


def list_schedules(account: Account, params: dict[str, Any]) -> StripeObject:
    """`scheduled` is a schedule that has not started; the `*_at` filters are ranges of when it ended."""
    def keep(schedule: StripeObject) -> bool:
        if "scheduled" in params and (schedule["status"] == "not_started") != params["scheduled"]:
            return False
        return equals(params, schedule, "customer") and all(
            name not in params or (schedule[name] is not None and within(params[name], schedule[name]))
            for name in ("canceled_at", "completed_at", "released_at"))

    return list_kind(account, KIND, params, "/v1/subscription_schedules", keep)
