"""How a subscription is set to end later: `cancel_at_period_end`, `cancel_at` (a moment, or the
period end by name), withdrawing either, and ending it when that moment comes. Canceling at once
(DELETE /v1/subscriptions/{id}) is in subscription_changes.py.

A `cancel_at` inside the current period gives up the time after it: with prorations that time is
credited (and charged again if the cancellation is withdrawn or moved later), and the credit is
invoiced when the subscription ends. A `cancel_at` in a later period is prorated when that period
is invoiced (subscription_billing.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local.stripe_emulator.errors import exclusive_parameters, invalid_parameter, state_error
from local.stripe_emulator.params import Timestamp
from local.stripe_emulator.store import Account, StripeObject
from local.stripe_emulator.subscription_billing import invoice_prorations_now, move_billed_until
from local.stripe_emulator.subscriptions import (
    current_period,
    end_now,
    schedule_cancellation,
    withdraw_cancellation,
)

# The period end by name; `max_billed_until` (billing schedules) is not emulated.
PERIOD_END_WORDS = ("max_period_end", "min_period_end")
CANCEL_AT = Timestamp(words=PERIOD_END_WORDS, unsettable=True)


def managed_by_schedule(subscription: StripeObject) -> Exception:
    return state_error(f"The subscription is managed by the subscription schedule `{subscription['schedule']}`, "
                       "and updating any cancelation behavior directly is not allowed. Please update the schedule "
                       "instead.")


@dataclass(frozen=True)
class CancellationRequest:
    """What an update asks for: end at `cancel_at` (None: do not end), following the period end or not."""

    cancel_at: int | None
    at_period_end: bool


def plan_cancellation(account: Account, subscription: StripeObject,
                      params: dict[str, Any]) -> CancellationRequest | None:
    """The cancellation an update asks for, checked; None when it asks for none or changes nothing."""
    asked = {"cancel_at", "cancel_at_period_end"} & set(params)
    if not asked:
        return None
    if len(asked) == 2:
        raise exclusive_parameters("cancel_at", "cancel_at_period_end")
    if subscription["schedule"] is not None:
        raise managed_by_schedule(subscription)
    period_end = current_period(subscription)[1]
    if "cancel_at_period_end" in params:
        if params["cancel_at_period_end"]:
            return CancellationRequest(period_end, at_period_end=True)
        # false withdraws a cancellation at period end; a cancel_at of another moment stays.
        return CancellationRequest(None, at_period_end=False) if subscription["cancel_at_period_end"] else None
    cancel_at = params["cancel_at"]
    if cancel_at in PERIOD_END_WORDS:
        # One interval per subscription here, so the earliest and the latest item period end are one.
        return CancellationRequest(period_end, at_period_end=False)
    if cancel_at is not None and cancel_at <= account.now():
        raise invalid_parameter("cancel_at", "Invalid timestamp: must be an integer Unix timestamp in the future.")
    return CancellationRequest(cancel_at, at_period_end=False)


def apply_cancellation(account: Account, subscription: StripeObject, request: CancellationRequest | None, *,
                       prorate: bool) -> None:
    """Set (or withdraw) the cancellation; with prorations, the time it gives up in this period is credited."""
    if request is None:
        return
    subscription["cancel_at_period_end"] = request.at_period_end
    if request.cancel_at is None:
        withdraw_cancellation(subscription)
    else:
        schedule_cancellation(subscription, request.cancel_at, account.now())
    if prorate:
        period_end = current_period(subscription)[1]
        move_billed_until(account, subscription, min(request.cancel_at or period_end, period_end))


def end_as_requested(account: Account, subscription: StripeObject) -> None:
    """`cancel_at` has come: prorations still pending are invoiced one last time, then the subscription ends."""
    invoice_prorations_now(account, subscription, charge=True, reason="subscription_cycle")
    end_now(account, subscription)
