"""The invoice endpoints that change an invoice: finalize, pay, void, mark_uncollectible."""

from __future__ import annotations

from typing import Any

from local.stripe_emulator import invoices, payments, subscription_billing
from local.stripe_emulator.errors import card_declined, state_error
from local.stripe_emulator.store import Account, StripeObject


def finalize_invoice(account: Account, invoice_id: str, params: dict[str, Any]) -> StripeObject:
    invoice = account.get("invoice", invoice_id)
    if "auto_advance" in params:
        invoice["auto_advance"] = params["auto_advance"]
    invoices.finalize(account, invoice)
    if invoice["status"] == "paid":
        subscription_billing.settle_payment(account, invoice)
    return invoice


def pay_invoice(account: Account, invoice_id: str, params: dict[str, Any]) -> StripeObject:
    """Charge the invoice now, or record it as paid outside Stripe (`paid_out_of_band`)."""
    invoice = account.get("invoice", invoice_id)
    if invoice["status"] == "draft":
        invoices.finalize(account, invoice)
    if invoice["status"] == "paid":
        raise state_error("Invoice is already paid.")
    if invoice["status"] == "void":
        raise state_error("This invoice has been voided and can no longer be paid.")
    if params.get("paid_out_of_band"):
        invoices.mark_paid(account, invoice, out_of_band=True)
    else:
        _charge_now(account, invoice, params.get("payment_method"))
    subscription_billing.settle_payment(account, invoice)
    return invoice


def _charge_now(account: Account, invoice: StripeObject, method: str | None) -> None:
    if method is not None:
        payments.attached_method(account, method, invoice["customer"], "payment_method")
    method = method or invoices.payment_method_for(account, invoice)
    if method is None and invoice["amount_due"] > 0:
        raise state_error("This customer has no attached payment source or default payment method. Please "
                          "consider adding a default payment method.", param="payment_method")
    if not invoices.charge(account, invoice, method):
        raise card_declined(method or "")


def void_invoice(account: Account, invoice_id: str, params: dict[str, Any]) -> StripeObject:
    invoice = account.get("invoice", invoice_id)
    invoices.void(account, invoice)
    return invoice


def mark_uncollectible(account: Account, invoice_id: str, params: dict[str, Any]) -> StripeObject:
    """Written off; a paused subscription waiting on this resumption invoice resumes, as on Stripe."""
    invoice = account.get("invoice", invoice_id)
    invoices.mark_uncollectible(account, invoice)
    subscription_billing.resume_if_waiting(account, invoice)
    return invoice
