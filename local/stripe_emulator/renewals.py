"""What happens as time passes: trials end, periods roll over and are
invoiced, subscription schedules move to their next phase, cancellations
(`cancel_at`, at period end) take effect, unpaid first invoices expire, sent
invoices fall overdue.

Time passes in two ways: wall time, for customers without a test clock (what
fell due is run at the next API request, `run_wall_time`), and a test clock's
advance, for that clock's customers only (test_clocks.py). Either way work is
done in time order, each step with the clock pinned at the moment it fell
due, so a year's worth of advances yields twelve monthly invoices dated as
Stripe would date them.
"""

from __future__ import annotations

import copy
import heapq
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from local.stripe_emulator import (
    invoices,
    payments,
    schedule_phases,
    subscription_billing,
    subscription_cancellation,
    subscription_pauses,
    subscriptions,
)
from local.stripe_emulator.clock import DAY
from local.stripe_emulator.store import Account, StripeObject

TRIAL_WILL_END_NOTICE = 3 * DAY
INCOMPLETE_EXPIRES_AFTER = 23 * 3600
RENEWING = ("active", "past_due", "unpaid")
_WALL_TIME = "wall time"  # the account's private bookkeeping of what wall time brings next

Step = Callable[[Account, StripeObject], None]


def run_wall_time(account: Account) -> None:
    """Everything due by now for subscriptions that are not on a test clock. Call under state.lock.

    This runs on every API request, so each subscription's next due moment is kept and
    worked out again only for subscriptions that changed: every change records an event
    about the subscription or its invoice, so the events recorded since the last request
    name them.
    """
    book = account.private_of(_WALL_TIME)
    due: dict[str, int] = book.setdefault("due", {})
    _note_changes(account, book, due)
    now = account.clock.wall_now()
    ready = [subscription for subscription_id, moment in due.items() if moment <= now
             and (subscription := account.find("subscription", subscription_id)) is not None]
    if ready:
        run_due(account, ready, until=now)
        for subscription in ready:  # a step changes only its own subscription
            _reschedule(account, due, subscription)
        book["events"] = len(account.table("event"))


def _note_changes(account: Account, book: dict[str, Any], due: dict[str, int]) -> None:
    events = account.table("event")
    if "events" not in book:
        for subscription in account.table("subscription").values():
            _reschedule(account, due, subscription)
    else:
        for event in itertools.islice(reversed(events.values()), len(events) - book["events"]):
            changed = _subscription_of_event(account, event)
            if changed is not None:
                _reschedule(account, due, changed)
    book["events"] = len(events)


def _subscription_of_event(account: Account, event: StripeObject) -> StripeObject | None:
    obj = event["data"]["object"]
    if obj.get("object") == "subscription":
        return account.find("subscription", obj["id"])
    if obj.get("object") == "subscription_schedule":
        return account.find("subscription", obj["subscription"] or obj["released_subscription"] or "")
    if obj.get("object") == "invoice":
        return account.find("subscription", invoices.subscription_of(obj) or "")
    return None


def _reschedule(account: Account, due: dict[str, int], subscription: StripeObject) -> None:
    step = _next_step(account, subscription) if subscription["test_clock"] is None else None
    if step is None:
        due.pop(subscription["id"], None)
    else:
        due[subscription["id"]] = step[0]


def run_due(account: Account, due_for: Iterable[StripeObject], *, until: int, not_before: int | None = None,
            stop: Callable[[], bool] | None = None) -> None:
    """Run what falls due for these subscriptions up to `until`, earliest first (or until a step
    makes `stop` true). Call under state.lock.

    Each step runs with the clock pinned at its moment, or at `not_before` (the time a
    test clock is leaving) for something that was already due then.
    """
    # A step changes only its own subscription (and that one's invoices), so after running
    # one only that subscription's next step needs working out again.
    queue = [due for subscription in due_for if (due := _scheduled(account, subscription)) is not None]
    heapq.heapify(queue)
    while queue and queue[0].moment <= until:
        due = heapq.heappop(queue)
        with account.clock.pinned_at(max(due.moment, not_before or due.moment)):
            due.step(due.account, due.subscription)
        if stop is not None and stop():
            return
        if (following := _scheduled(due.account, due.subscription)) is not None:
            heapq.heappush(queue, following)


@dataclass(order=True)
class _Due:
    moment: int
    sequence: int  # ties run in the order subscriptions were created
    account: Account = field(compare=False)
    subscription: StripeObject = field(compare=False)
    step: Step = field(compare=False)


_sequence = itertools.count()


def _scheduled(account: Account, subscription: StripeObject) -> _Due | None:
    step = _next_step(account, subscription)
    return None if step is None else _Due(step[0], next(_sequence), account, subscription, step[1])


def _next_step(account: Account, subscription: StripeObject) -> tuple[int, Step] | None:
    """The subscription's next scheduled change, if any. Each step changes what this returns."""
    status = subscription["status"]
    steps: list[tuple[int, Step]] = []
    # Listed before what else falls due at the same moment: a schedule's next phase begins before
    # the period it starts is invoiced, and a cancellation at period end ends the subscription
    # instead of renewing it.
    if status == "trialing" or status in RENEWING:
        steps += schedule_phases.due(account, subscription) + _cancellation_due(subscription)
    if status == "trialing":
        if not account.private_of(subscription["id"]).get("trial_will_end_sent"):
            steps.append((max(subscription["trial_end"] - TRIAL_WILL_END_NOTICE, subscription["trial_start"]),
                          _warn_trial_ending))
        steps.append((subscription["trial_end"], _end_trial))
    elif status == "incomplete":
        steps.append((subscription["created"] + INCOMPLETE_EXPIRES_AFTER, _expire))
    elif status == "paused":
        expires_at = subscription_pauses.resumption_expires_at(account, subscription)
        if expires_at is not None:
            steps.append((expires_at, subscription_pauses.expire_resumption))
    elif status in RENEWING:
        steps.append((subscriptions.current_period(subscription)[1], _renew))
        overdue_at = _overdue_at(account, subscription)
        if status == "active" and overdue_at is not None:
            steps.append((overdue_at, _fall_overdue))
    return min(steps, key=lambda step: step[0]) if steps else None


def _cancellation_due(subscription: StripeObject) -> list[tuple[int, Step]]:
    """`cancel_at` once the current period reaches it (a later one is prorated when its period is invoiced)."""
    cancel_at = subscription["cancel_at"]
    if cancel_at is None or cancel_at > subscriptions.current_period(subscription)[1]:
        return []
    return [(cancel_at, subscription_cancellation.end_as_requested)]


def _overdue_at(account: Account, subscription: StripeObject) -> int | None:
    """When a sent invoice that is still open passes its due date."""
    invoice = account.find("invoice", subscription["latest_invoice"] or "")
    if invoice is None or invoice["status"] != "open" or invoice["due_date"] is None:
        return None
    return int(invoice["due_date"])


def _warn_trial_ending(account: Account, subscription: StripeObject) -> None:
    account.private_of(subscription["id"])["trial_will_end_sent"] = True
    account.emit("customer.subscription.trial_will_end", subscription)


def _end_trial(account: Account, subscription: StripeObject) -> None:
    """The trial is over: a new period, invoiced. Without a payment method to charge, the subscription
    does what trial_settings.end_behavior.missing_payment_method says: `create_invoice` (the default)
    as with one, `pause` (status paused, no invoice) or `cancel` (it ends, no invoice)."""
    if _missing_payment_method(account, subscription):
        behavior = subscription["trial_settings"]["end_behavior"]["missing_payment_method"]
        if behavior == "cancel":
            subscriptions.end_now(account, subscription)
            return
        if behavior == "pause":
            _pause_at_trial_end(account, subscription)
            return
    before = copy.deepcopy(subscription)
    trial = (subscription["trial_start"], subscription["trial_end"])
    subscription["status"] = "active"
    subscriptions.set_period(subscription, subscriptions.next_period(subscription, trial[1]))
    _invoice_new_period(account, subscription, before, closes=trial)


def _missing_payment_method(account: Account, subscription: StripeObject) -> bool:
    return (subscription["collection_method"] == "charge_automatically"
            and invoices.charge_method(account, subscription) is None)


def _pause_at_trial_end(account: Account, subscription: StripeObject) -> None:
    """Stripe's only way into status=paused: no invoice, no new period, until subscriptions.resume."""
    before = copy.deepcopy(subscription)
    subscription["status"] = "paused"
    account.emit("customer.subscription.paused", subscription)
    account.emit_update("customer.subscription.updated", subscription, before)


def _renew(account: Account, subscription: StripeObject) -> None:
    ended = subscriptions.current_period(subscription)
    before = copy.deepcopy(subscription)
    subscriptions.set_period(subscription, subscriptions.next_period(subscription, ended[1]))
    _invoice_new_period(account, subscription, before, closes=ended)


def _invoice_new_period(account: Account, subscription: StripeObject, before: StripeObject, *,
                        closes: tuple[int, int]) -> None:
    """Invoice the period that just began, in Stripe's order: invoice.created, then
    customer.subscription.updated (the new period, latest_invoice), then the invoice is finalized
    and collected (invoice.finalized, invoice.paid, invoice.payment_succeeded).

    A payment that will fail makes the subscription past_due: that is announced once, after
    invoice.payment_failed, as one customer.subscription.updated from the old status to past_due.
    (Stripe finalizes a renewal invoice about an hour after making it, so it sends the new period
    and the past_due in two updates an hour apart; the emulator finalizes at once.)"""
    announced: list[StripeObject] = []

    def announce(invoice: StripeObject) -> None:
        subscription["latest_invoice"] = invoice["id"]
        if not _collection_will_fail(account, subscription, invoice):
            account.emit_update("customer.subscription.updated", subscription, before)
            announced.append(copy.deepcopy(subscription))

    subscription_billing.invoice_period(account, subscription, reason="subscription_cycle", charge=True,
                                        closes=closes, on_draft=announce)
    account.emit_update("customer.subscription.updated", subscription, announced[-1] if announced else before)


def _collection_will_fail(account: Account, subscription: StripeObject, invoice: StripeObject) -> bool:
    """Whether collecting this draft once it is finalized fails (what subscription_billing.finish_invoice
    turns into past_due): charged automatically, something left to pay, no card that pays."""
    if subscription["collection_method"] != "charge_automatically":
        return False
    customer = account.table("customer")[invoice["customer"]]
    if invoice["total"] + customer.get("balance", 0) <= 0:
        return False
    method = invoices.charge_method(account, subscription)
    return method is None or not payments.charge_succeeds(account, method)


def _expire(account: Account, subscription: StripeObject) -> None:
    """An unpaid first invoice after 23 hours: the subscription ends as incomplete_expired, the invoice is voided."""
    before = copy.deepcopy(subscription)
    invoice = account.find("invoice", subscription["latest_invoice"] or "")
    if invoice is not None and invoice["status"] == "open":
        invoices.void(account, invoice)
    now = account.now()
    subscription.update(status="incomplete_expired", ended_at=now, canceled_at=now)
    account.emit_update("customer.subscription.updated", subscription, before)


def _fall_overdue(account: Account, subscription: StripeObject) -> None:
    before = copy.deepcopy(subscription)
    subscription["status"] = "past_due"
    account.emit_update("customer.subscription.updated", subscription, before)
