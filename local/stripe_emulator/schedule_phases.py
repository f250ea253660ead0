"""What a subscription schedule does as time passes (renewals.py runs it): when the
current phase ends, the next one begins and the subscription takes its items (prorated
as that phase says, a new cycle if the interval changes) and its metadata; after the
last phase the schedule completes, releasing the subscription or, with
`end_behavior=cancel`, ending it.

A phase boundary that falls on a period end is run before the renewal at that moment,
so the new period is invoiced at the new phase's prices.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from local.stripe_emulator.schedule_links import current_phase_of, managing_schedule
from local.stripe_emulator.store import Account, StripeObject, merge_metadata
from local.stripe_emulator.subscription_cancellation import end_as_requested
from local.stripe_emulator.subscription_changes import apply_phase, phase_changes

Step = Callable[[Account, StripeObject], None]


def due(account: Account, subscription: StripeObject) -> list[tuple[int, Step]]:
    """The end of the current phase of the schedule managing the subscription, if any."""
    schedule = managing_schedule(account, subscription)
    if schedule is None or schedule["current_phase"] is None:
        return []
    return [(schedule["current_phase"]["end_date"], end_phase)]


def end_phase(account: Account, subscription: StripeObject) -> None:
    schedule = managing_schedule(account, subscription)
    current = current_phase_of(schedule) if schedule is not None else None
    if schedule is None or current is None:
        return
    position = schedule["phases"].index(current)
    if position == len(schedule["phases"]) - 1:
        _complete(account, schedule, subscription)
    else:
        _begin(account, schedule, subscription, schedule["phases"][position + 1])


def _begin(account: Account, schedule: StripeObject, subscription: StripeObject, phase: StripeObject) -> None:
    before, subscription_before = copy.deepcopy(schedule), copy.deepcopy(subscription)
    apply_phase(account, subscription, phase_changes(account, subscription, phase["items"]),
                phase["proration_behavior"])
    if phase["metadata"]:
        subscription["metadata"] = merge_metadata(subscription["metadata"], phase["metadata"])
    schedule["current_phase"] = {"start_date": phase["start_date"], "end_date": phase["end_date"]}
    account.emit_update("customer.subscription.updated", subscription, subscription_before)
    account.emit_update("subscription_schedule.updated", schedule, before)


def _complete(account: Account, schedule: StripeObject, subscription: StripeObject) -> None:
    """The last phase is over: the schedule is completed and lets the subscription go (or ends it)."""
    subscription_before = copy.deepcopy(subscription)
    schedule.update(status="completed", completed_at=account.now(), current_phase=None)
    account.emit("subscription_schedule.completed", schedule)
    if schedule["end_behavior"] == "cancel":
        end_as_requested(account, subscription)
        return
    subscription["schedule"] = None
    account.emit_update("customer.subscription.updated", subscription, subscription_before)
