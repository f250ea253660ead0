"""What subscriptions bill beyond their first invoice: a period in advance
(with pending prorations), prorations for changes mid-period, and what a
payment does to the subscription's status."""

from __future__ import annotations

import copy

from local.stripe_emulator import invoices
from local.stripe_emulator.store import Account, StripeObject
from local.stripe_emulator.subscriptions import (
    UNPAID,
    current_period,
    day_label,
    item_amount,
    items_of,
    period_charge,
    prorated,
)


def credit_unused(account: Account, subscription: StripeObject, item: StripeObject, period: tuple[int, int],
                  at: int) -> None:
    amount = prorated(item_amount(item), period, at)
    if amount:
        invoices.add_pending_item(account, subscription, item, amount=-amount, period=(at, period[1]),
                                  description=f"Unused time on {_item_label(account, item)} after {day_label(at)}")


def charge_remaining(account: Account, subscription: StripeObject, item: StripeObject, period: tuple[int, int],
                     at: int) -> None:
    amount = prorated(item_amount(item), period, at)
    if amount:
        invoices.add_pending_item(account, subscription, item, amount=amount, period=(at, period[1]),
                                  description=f"Remaining time on {_item_label(account, item)} after {day_label(at)}")


def _item_label(account: Account, item: StripeObject) -> str:
    return f"{item['quantity']} × {invoices.product_name(account, item['price'])}"


def credit_unused_time(account: Account, subscription: StripeObject) -> None:
    at, period = account.now(), current_period(subscription)
    for item in items_of(subscription):
        credit_unused(account, subscription, item, period, at)


def invoice_period(account: Account, subscription: StripeObject, *, reason: str, charge: bool,
                   closes: tuple[int, int]) -> StripeObject:
    """Invoice the current period in advance, with any pending prorations; `closes` is the
    span the invoice reports as its own period (the one just ended, as on Stripe)."""
    period = current_period(subscription)
    prorate_stub = account.private_of(subscription["id"]).get("prorate_stub", True)
    lines = [invoices.line(account, subscription_id=subscription["id"], item_id=item["id"], price=item["price"],
                           quantity=item["quantity"], period=period,
                           amount=period_charge(item, period, prorate_stub=prorate_stub),
                           description=invoices.describe_item(account, item["price"], item["quantity"]))
             for item in items_of(subscription)]
    lines += invoices.pending_lines(account, subscription["id"])
    invoice = invoices.create_draft(account, subscription, reason=reason, lines=lines, period=closes)
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


def invoice_prorations_now(account: Account, subscription: StripeObject, *, charge: bool) -> None:
    lines = invoices.pending_lines(account, subscription["id"])
    if lines:
        at = account.now()
        invoice = invoices.create_draft(account, subscription, reason="subscription_update", lines=lines,
                                        period=(at, at))
        finish_invoice(account, subscription, invoice, charge=charge)


def settle_payment(account: Account, invoice: StripeObject) -> None:
    """An invoice paid later (pay endpoint): its subscription recovers if this was the invoice it waited on."""
    subscription = account.find("subscription", invoices.subscription_of(invoice) or "")
    if subscription is None or subscription["latest_invoice"] != invoice["id"] or subscription["status"] not in UNPAID:
        return
    before = copy.deepcopy(subscription)
    subscription["status"] = "active"
    account.emit_update("customer.subscription.updated", subscription, before)
