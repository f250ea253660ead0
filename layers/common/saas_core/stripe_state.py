"""What Stripe says of one customer's billing *now*, read in a few calls and reduced to plain data.

The Stripe events worker, the drift report and the daily reconciliation all start
here: whatever event arrived, in whatever order, the tenant is brought to the
state Stripe has at the moment of reading, so an older event can never win.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from saas_core.stripe_gateway import LIST_LIMIT, call, call_unless, client

if TYPE_CHECKING:
    from stripe.params import InvoiceListParams, SubscriptionListParams

# Stripe statuses of a subscription that has ended for good.
ENDED = frozenset({"canceled", "incomplete_expired"})


@dataclass(frozen=True)
class SubscriptionState:
    id: str
    status: str
    price_id: str
    price_metadata: dict[str, str]
    interval: str  # "month" or "year"
    created: int
    start_date: int
    trial_end: int | None
    current_period_start: int
    current_period_end: int
    cancel_at_period_end: bool
    cancel_at: int | None
    canceled_at: int | None
    schedule_id: str | None

    @property
    def has_ended(self) -> bool:
        return self.status in ENDED


@dataclass(frozen=True)
class ScheduledPrice:
    """The price a subscription schedule moves the subscription to, and when."""

    schedule_id: str
    price_id: str
    price_metadata: dict[str, str]
    interval: str
    starts_at: int


@dataclass(frozen=True)
class UnpaidInvoice:
    id: str
    amount_remaining: int
    currency: str
    # When it became overdue: its due date (sent invoices), else when it was finalized.
    overdue_since: int | None


@dataclass(frozen=True)
class CustomerBilling:
    customer_id: str
    customer_deleted: bool
    now: int  # Stripe's time for this customer: its test clock's frozen time, else the wall clock
    subscription: SubscriptionState | None
    next_price: ScheduledPrice | None
    unpaid: list[UnpaidInvoice] = field(default_factory=list)

    @property
    def unpaid_minor(self) -> int:
        return sum(invoice.amount_remaining for invoice in self.unpaid)

    @property
    def overdue_since(self) -> int | None:
        times = [invoice.overdue_since for invoice in self.unpaid
                 if invoice.overdue_since is not None and invoice.overdue_since <= self.now]
        return min(times) if times else None


def _metadata(value: Any) -> dict[str, str]:
    # The SDK's StripeObject is not a dict (its `items` is a field's name): read it as one.
    plain = value.to_dict() if hasattr(value, "to_dict") else (value or {})
    return {str(key): str(item) for key, item in plain.items()}


def _id_of(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value.id)


def subscription_state(found: Any) -> SubscriptionState:
    item = found.items.data[0]
    price = item.price
    return SubscriptionState(
        id=str(found.id), status=str(found.status), price_id=str(price.id), price_metadata=_metadata(price.metadata),
        interval=str(price.recurring.interval) if price.recurring else "month", created=int(found.created),
        start_date=int(found.start_date), trial_end=found.trial_end,
        current_period_start=int(item.current_period_start), current_period_end=int(item.current_period_end),
        cancel_at_period_end=bool(found.cancel_at_period_end), cancel_at=found.cancel_at,
        canceled_at=found.canceled_at, schedule_id=_id_of(found.schedule))


def read_customer_billing(account: str, customer_id: str, *, known_subscription_id: str | None) -> CustomerBilling:
    """The customer's billing as Stripe has it: 3 calls (customer, subscriptions, open invoices),
    one more for a test clock and two more for a pending schedule."""
    stripe_client = client(account).v1
    customer = call("read the customer", lambda: stripe_client.customers.retrieve(customer_id))
    deleted = bool(getattr(customer, "deleted", False))
    now = _customer_time(account, customer)
    if deleted:
        # Deleting a customer cancels its subscriptions; what is left to read is the one we know.
        subscription = _retrieve_subscription(account, known_subscription_id)
        return CustomerBilling(customer_id, True, now, subscription, None)
    subscription = _current_subscription(account, customer_id, known_subscription_id)
    next_price = _scheduled_price(account, subscription) if subscription and not subscription.has_ended else None
    return CustomerBilling(customer_id, False, now, subscription, next_price, _unpaid_invoices(account, customer_id))


def _customer_time(account: str, customer: Any) -> int:
    clock_id = getattr(customer, "test_clock", None)
    if not clock_id:
        return int(time.time())
    clock_id = clock_id if isinstance(clock_id, str) else str(clock_id.id)
    clock = call("read the test clock", lambda: client(account).v1.test_helpers.test_clocks.retrieve(clock_id))
    return int(clock.frozen_time)


def _retrieve_subscription(account: str, subscription_id: str | None) -> SubscriptionState | None:
    if subscription_id is None:
        return None
    found = call_unless("resource_missing", "read the subscription",
                        lambda: client(account).v1.subscriptions.retrieve(subscription_id))
    return subscription_state(found) if found is not None else None


def _current_subscription(account: str, customer_id: str, known_id: str | None) -> SubscriptionState | None:
    """The customer's live subscription (the known one first, else the newest live one); when none
    is live, the known one as it ended, else the newest."""
    params: SubscriptionListParams = {"customer": customer_id, "status": "all", "limit": LIST_LIMIT}
    listed = call("list the subscriptions", lambda: client(account).v1.subscriptions.list(params).data)
    states = sorted((subscription_state(found) for found in listed), key=lambda state: state.created, reverse=True)
    live = [state for state in states if not state.has_ended]
    known = [state for state in states if state.id == known_id]
    if live:
        return next((state for state in live if state.id == known_id), live[0])
    if known:
        return known[0]
    return states[0] if states else None


def _scheduled_price(account: str, subscription: SubscriptionState) -> ScheduledPrice | None:
    """The next phase of the subscription's schedule, when it moves to another price."""
    if subscription.schedule_id is None:
        return None
    stripe_client = client(account).v1
    schedule_id = subscription.schedule_id
    schedule = call("read the schedule", lambda: stripe_client.subscription_schedules.retrieve(schedule_id))
    if schedule.status not in ("not_started", "active"):
        return None
    upcoming = [phase for phase in schedule.phases if phase.start_date >= subscription.current_period_end]
    if not upcoming:
        return None
    phase = upcoming[0]
    price_ref = phase.items[0].price
    price_id = price_ref if isinstance(price_ref, str) else str(price_ref.id)
    if price_id == subscription.price_id:
        return None
    price = call("read the price", lambda: stripe_client.prices.retrieve(price_id))
    return ScheduledPrice(schedule_id=schedule_id, price_id=price_id, price_metadata=_metadata(price.metadata),
                          interval=str(price.recurring.interval) if price.recurring else "month",
                          starts_at=int(phase.start_date))


def _unpaid_invoices(account: str, customer_id: str) -> list[UnpaidInvoice]:
    params: InvoiceListParams = {"customer": customer_id, "status": "open", "limit": LIST_LIMIT}
    listed = call("list the open invoices", lambda: client(account).v1.invoices.list(params).data)
    return [UnpaidInvoice(id=str(invoice.id), amount_remaining=int(invoice.amount_remaining),
                          currency=str(invoice.currency), overdue_since=_overdue_since(invoice))
            for invoice in listed if invoice.amount_remaining > 0]


def _overdue_since(invoice: Any) -> int | None:
    """Past due from its due date (a sent invoice), or from when a payment of it first failed."""
    times = [int(invoice.due_date)] if invoice.due_date is not None else []
    transitions = invoice.status_transitions
    if invoice.attempt_count and transitions and transitions.finalized_at:
        times.append(int(transitions.finalized_at))
    return min(times) if times else None


@dataclass(frozen=True)
class PaidInvoice:
    id: str
    customer_id: str
    subscription_id: str | None
    amount_paid: int
    currency: str
    paid_at: int
    billing_reason: str | None


def paid_invoice(account: str, invoice_id: str) -> PaidInvoice | None:
    """The invoice if Stripe has it paid (a paid invoice's amounts never change again)."""
    invoice = call("read the invoice", lambda: client(account).v1.invoices.retrieve(invoice_id))
    if invoice.status != "paid":
        return None
    transitions = invoice.status_transitions
    paid_at = transitions.paid_at if transitions and transitions.paid_at else invoice.created
    parent = getattr(invoice, "parent", None)
    details = getattr(parent, "subscription_details", None) if parent else None
    subscription = getattr(details, "subscription", None) if details else None
    return PaidInvoice(id=str(invoice.id), customer_id=str(invoice.customer), subscription_id=_id_of(subscription),
                       amount_paid=int(invoice.amount_paid), currency=str(invoice.currency), paid_at=int(paid_at),
                       billing_reason=invoice.billing_reason)
