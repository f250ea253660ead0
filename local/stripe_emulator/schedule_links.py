"""How a subscription schedule and the subscription it manages stay in step when the
subscription is changed or ended directly (not through the schedule):

- a change made to the subscription's items (or its trial) is what its current phase
  now says, so the phase follows it;
- a subscription that ends (canceled, its customer deleted) takes its schedule with it:
  the schedule is canceled, as Stripe cancels a schedule whose subscription is gone.

Only the store is imported here, so subscriptions.py and subscription_changes.py can
call in without an import cycle; the schedule endpoints are in subscription_schedules.py
and what a schedule does as time passes in schedule_phases.py.
"""

from __future__ import annotations

import copy
from typing import Any

from local.stripe_emulator.store import Account, StripeObject

KIND = "subscription_schedule"
LIVE = ("not_started", "active")


def managing_schedule(account: Account, subscription: StripeObject) -> StripeObject | None:
    """The schedule that manages the subscription now, if any."""
    schedule = account.find(KIND, subscription.get("schedule") or "")
    return schedule if schedule is not None and schedule["status"] in LIVE else None


def phase_item(price_id: str, quantity: int, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    return {"billing_thresholds": None, "discounts": [], "metadata": dict(metadata or {}), "plan": price_id,
            "price": price_id, "quantity": quantity, "tax_rates": []}


def phase_items_of(subscription: StripeObject) -> list[dict[str, Any]]:
    """The subscription's items as a phase lists them."""
    return [phase_item(item["price"]["id"], item["quantity"]) for item in subscription["items"]["data"]]


def current_phase_of(schedule: StripeObject) -> dict[str, Any] | None:
    current = schedule["current_phase"]
    if current is None:
        return None
    phase: dict[str, Any] = next(phase for phase in schedule["phases"]
                                 if phase["start_date"] == current["start_date"])
    return phase


def mirror_subscription(account: Account, subscription: StripeObject) -> None:
    """The current phase says what the subscription now has (items, trial end)."""
    schedule = managing_schedule(account, subscription)
    phase = current_phase_of(schedule) if schedule is not None else None
    if schedule is None or phase is None:
        return
    before = copy.deepcopy(schedule)
    kept_metadata = {item["price"]: item["metadata"] for item in phase["items"]}
    phase["items"] = [{**item, "metadata": kept_metadata.get(item["price"], {})}
                      for item in phase_items_of(subscription)]
    phase["trial_end"] = subscription["trial_end"] if subscription["status"] == "trialing" else None
    account.emit_update("subscription_schedule.updated", schedule, before)


def cancel_with_subscription(account: Account, subscription: StripeObject) -> None:
    """The subscription ended on its own: its live schedule is canceled with it."""
    schedule = managing_schedule(account, subscription)
    if schedule is None:
        return
    schedule.update(status="canceled", canceled_at=account.now(), current_phase=None)
    account.emit("subscription_schedule.canceled", schedule)
