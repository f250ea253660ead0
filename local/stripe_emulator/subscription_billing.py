"""What subscriptions bill beyond their first invoice: a period in advance
(with pending prorations), prorations for changes mid-period, and what a
payment does to the subscription's status."""

from __future__ import annotations

import copy
from collections.abc import Callable

from local.stripe_emulator import invoices
from local.stripe_emulator.store import Account, StripeObject
from local.stripe_emulator.subscriptions import (
    UNPAID,
    current_period,
    day_label,
    item_amount,
    items_of,
    period_charge,
    share,
)


def billed_until(account: Account, subscription: StripeObject) -> int:
    """How far the current period is paid for: its end, or the earlier `cancel_at` already credited."""
    end = current_period(subscription)[1]
    book = account.private_of(subscription["id"]).get("billed_until")
    return int(book[1]) if book and book[0] == end else end


def set_billed_until(account: Account, subscription: StripeObject, until: int) -> None:
    """Recorded against the current period's end, so a new period starts paid in full."""
    account.private_of(subscription["id"])["billed_until"] = (current_period(subscription)[1], until)


def _span_share(item: StripeObject, period: tuple[int, int], span: tuple[int, int]) -> int:
    """The item's share for `span` of `period`, to the second (Stripe's proration formula)."""
    start, end = period
    return share(item_amount(item), min(max(0, span[1] - span[0]), end - start), end - start)


def credit_unused(account: Account, subscription: StripeObject, item: StripeObject, period: tuple[int, int],
                  span: tuple[int, int]) -> None:
    """A credit for the part of `period` from span[0] to span[1] that the item no longer uses."""
    amount = _span_share(item, period, span)
    if amount:
        invoices.add_pending_item(account, subscription, item, amount=-amount, period=span,
                                  description=f"Unused time on {_item_label(account, item)} after "
                                              f"{day_label(span[0])}")


def charge_remaining(account: Account, subscription: StripeObject, item: StripeObject, period: tuple[int, int],
                     span: tuple[int, int]) -> None:
    """A debit for the part of `period` from span[0] to span[1] that the item now uses."""
    amount = _span_share(item, period, span)
    if amount:
        invoices.add_pending_item(account, subscription, item, amount=amount, period=span,
                                  description=f"Remaining time on {_item_label(account, item)} after "
                                              f"{day_label(span[0])}")


def _item_label(account: Account, item: StripeObject) -> str:
    return f"{item['quantity']} × {invoices.product_name(account, item['price'])}"


def credit_unused_time(account: Account, subscription: StripeObject, at: int) -> None:
    """Every item's unused time from `at` to what was paid for."""
    period = current_period(subscription)
    span = (at, billed_until(account, subscription))
    for item in items_of(subscription):
        credit_unused(account, subscription, item, period, span)
    set_billed_until(account, subscription, at)


def move_billed_until(account: Account, subscription: StripeObject, until: int) -> None:
    """A cancellation moved within the current period: credit the time given up, or charge the time added."""
    period, paid = current_period(subscription), billed_until(account, subscription)
    for item in items_of(subscription):
        if until < paid:
            credit_unused(account, subscription, item, period, (until, paid))
        elif until > paid:
            charge_remaining(account, subscription, item, period, (paid, until))
    set_billed_until(account, subscription, until)


def _credit_after_cancel_at(account: Account, subscription: StripeObject) -> None:
    """A period that `cancel_at` cuts short is billed in full with a credit for the rest: Stripe's
    "if set during a future period, this will always cause a proration for that period"."""
    cancel_at, period = subscription["cancel_at"], current_period(subscription)
    if cancel_at is not None and period[0] < cancel_at < period[1]:
        move_billed_until(account, subscription, cancel_at)


def invoice_period(account: Account, subscription: StripeObject, *, reason: str, charge: bool,
                   closes: tuple[int, int],
                   on_draft: Callable[[StripeObject], None] | None = None) -> StripeObject:
    """Invoice the current period in advance, with any pending prorations; `closes` is the
    span the invoice reports as its own period (the one just ended, as on Stripe). `on_draft`
    runs once the draft exists (invoice.created), before it is finalized and collected."""
    _credit_after_cancel_at(account, subscription)
    period = current_period(subscription)
    prorate_stub = account.private_of(subscription["id"]).get("prorate_stub", True)
    lines = [invoices.line(account, subscription_id=subscription["id"], item_id=item["id"], price=item["price"],
                           quantity=item["quantity"], period=period,
                           amount=period_charge(item, period, prorate_stub=prorate_stub),
                           description=invoices.describe_item(account, item["price"], item["quantity"]))
             for item in items_of(subscription)]
    lines += invoices.pending_lines(account, subscription["id"])
    invoice = invoices.create_draft(account, subscription, reason=reason, lines=lines, period=closes)
    if on_draft is not None:
        on_draft(invoice)
    finish_invoice(account, subscription, invoice, charge=charge)
    return invoice


def finish_invoice(account: Account, subscription: StripeObject, invoice: StripeObject, *, charge: bool) -> None:
    """Finalize, collect, and let the outcome set the subscription's status."""
    subscription["latest_invoice"] = invoice["id"]
    invoices.finalize(account, invoice)
    paid = invoices.collect(account, invoice) if charge else invoice["status"] == "paid"
    if paid and subscription["status"] in UNPAID:
        subscription["status"] = "active"
    elif not paid and subscription["collection_method"] == "charge_automatically" and charge:
        subscription["status"] = "past_due"


def invoice_prorations_now(account: Account, subscription: StripeObject, *, charge: bool,
                           reason: str = "subscription_update") -> None:
    """An invoice of the subscription's pending prorations, if it has any."""
    lines = invoices.pending_lines(account, subscription["id"])
    if lines:
        at = account.now()
        invoice = invoices.create_draft(account, subscription, reason=reason, lines=lines, period=(at, at))
        finish_invoice(account, subscription, invoice, charge=charge)


def settle_payment(account: Account, invoice: StripeObject) -> None:
    """An invoice paid later (pay endpoint, or marked uncollectible): its subscription recovers if this
    was the invoice it waited on; a paused one waiting on its resumption invoice resumes."""
    if resume_if_waiting(account, invoice):
        return
    subscription = account.find("subscription", invoices.subscription_of(invoice) or "")
    if subscription is None or subscription["latest_invoice"] != invoice["id"] or subscription["status"] not in UNPAID:
        return
    before = copy.deepcopy(subscription)
    subscription["status"] = "active"
    account.emit_update("customer.subscription.updated", subscription, before)


def resume_if_waiting(account: Account, invoice: StripeObject) -> bool:
    """A paused subscription whose resumption invoice this is becomes active (paid or marked
    uncollectible); True if it did."""
    subscription = account.find("subscription", invoices.subscription_of(invoice) or "")
    if subscription is None or subscription["latest_invoice"] != invoice["id"] or subscription["status"] != "paused":
        return False
    before = copy.deepcopy(subscription)
    subscription["status"] = "active"
    announce_resumed(account, subscription, before)
    return True


def announce_resumed(account: Account, subscription: StripeObject, before: StripeObject) -> None:
    """A subscription that was paused is no longer: customer.subscription.resumed, then .updated."""
    account.emit("customer.subscription.resumed", subscription)
    account.emit_update("customer.subscription.updated", subscription, before)
