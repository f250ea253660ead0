"""Invoices and their lines, and collecting them.

Subscriptions make every invoice here (subscriptions.py, subscription_billing.py); this
module knows how an invoice is built, finalized, charged, paid, voided or
written off, and nothing about what a payment means to a subscription.
"""

from __future__ import annotations

import copy
from typing import Any

from local.stripe_emulator import payments
from local.stripe_emulator.clock import DAY
from local.stripe_emulator.errors import state_error
from local.stripe_emulator.listing import equals, list_kind, list_object, paginate, within
from local.stripe_emulator.params import EXPAND, PAGINATION, Boolean, Choice, Obj, Range, Text, list_schema
from local.stripe_emulator.store import Account, StripeObject, new_id

STATUSES = ("draft", "open", "paid", "uncollectible", "void")
ZERO_DECIMAL_CURRENCIES = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
                           "vuv", "xaf", "xof", "xpf"}

INVOICE_LIST = list_schema(customer=Text(), subscription=Text(), status=Choice(STATUSES),
                           collection_method=Choice(("charge_automatically", "send_invoice")), due_date=Range())
INVOICE_LINES_LIST = Obj({name: spec for name, spec in PAGINATION.items() if name != "created"})
INVOICE_FINALIZE = Obj({"auto_advance": Boolean(), "expand": EXPAND})
INVOICE_PAY = Obj({"paid_out_of_band": Boolean(), "payment_method": Text(), "expand": EXPAND})
INVOICE_ITEM_LIST = list_schema(customer=Text(), invoice=Text(), pending=Boolean())


def format_money(amount: int, currency: str) -> str:
    """`$49.00`, `€9.50`, `¥500`: integer minor units only, never floats."""
    symbol = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}.get(currency, "")
    sign, amount = ("-" if amount < 0 else ""), abs(amount)
    major = str(amount) if currency in ZERO_DECIMAL_CURRENCIES else f"{amount // 100}.{amount % 100:02d}"
    return f"{sign}{symbol}{major}" if symbol else f"{sign}{major} {currency.upper()}"


# ------------------------------------------------------------------- lines


def product_name(account: Account, price: StripeObject) -> str:
    product = account.find("product", price["product"])
    return str(product["name"]) if product else str(price["product"])


def describe_item(account: Account, price: StripeObject, quantity: int) -> str:
    recurring = price["recurring"] or {}
    interval = recurring.get("interval", "")
    every = interval if recurring.get("interval_count", 1) == 1 else f"{recurring['interval_count']} {interval}s"
    return (f"{quantity} × {product_name(account, price)} "
            f"(at {format_money(price['unit_amount'], price['currency'])} / {every})")


def line(account: Account, *, subscription_id: str, item_id: str, price: StripeObject, quantity: int, amount: int,
         description: str, period: tuple[int, int], invoice_item: str | None = None) -> StripeObject:
    """An invoice line for a subscription item; `invoice_item` marks a proration."""
    return {
        "id": new_id("il"), "object": "line_item", "amount": amount, "currency": price["currency"],
        "description": description, "discount_amounts": [], "discountable": invoice_item is None, "discounts": [],
        "invoice": None, "livemode": account.livemode, "metadata": {},
        "parent": {"type": "subscription_item_details", "invoice_item_details": None,
                   "subscription_item_details": {
                       "invoice_item": invoice_item, "proration": invoice_item is not None,
                       "proration_details": {"credited_items": None}, "subscription": subscription_id,
                       "subscription_item": item_id}},
        "period": {"start": period[0], "end": period[1]}, "pretax_credit_amounts": [],
        "pricing": {"type": "price_details", "unit_amount_decimal": price["unit_amount_decimal"],
                    "price_details": {"price": price["id"], "product": price["product"]}},
        "quantity": quantity, "subscription": subscription_id, "subtotal": amount, "taxes": [],
    }


def add_pending_item(account: Account, subscription: StripeObject, item: StripeObject, *, amount: int,
                     description: str, period: tuple[int, int]) -> StripeObject:
    """A proration waiting for the subscription's next invoice, as Stripe's invoice items do."""
    price = item["price"]
    pending = account.insert(account.new_object(
        "ii", "invoiceitem", amount=amount, currency=price["currency"], customer=subscription["customer"],
        customer_account=None, date=account.now(), description=description, discountable=False, discounts=[],
        invoice=None, metadata={}, net_amount=amount, proration=True, quantity=item["quantity"],
        quantity_decimal=str(item["quantity"]), tax_rates=[], test_clock=subscription["test_clock"],
        parent={"type": "subscription_details",
                "subscription_details": {"subscription": subscription["id"], "subscription_item": item["id"]}},
        period={"start": period[0], "end": period[1]},
        pricing={"type": "price_details", "unit_amount_decimal": price["unit_amount_decimal"],
                 "price_details": {"price": price["id"], "product": price["product"]}},
        proration_details={"credited_items": None, "discount_amounts": []}))
    del pending["created"]  # an invoice item tells its time by `date`
    account.private_of(pending["id"])["price"] = price
    account.emit("invoiceitem.created", pending)
    return pending


def pending_lines(account: Account, subscription_id: str) -> list[StripeObject]:
    """Lines for the subscription's invoice items not yet on an invoice (create_draft claims them)."""
    lines = []
    for pending in account.table("invoiceitem").values():
        details = pending["parent"]["subscription_details"]
        if pending["invoice"] is None and details["subscription"] == subscription_id:
            lines.append(line(account, subscription_id=subscription_id, item_id=details["subscription_item"],
                              price=account.private_of(pending["id"])["price"], quantity=pending["quantity"],
                              amount=pending["amount"], description=pending["description"],
                              period=(pending["period"]["start"], pending["period"]["end"]),
                              invoice_item=pending["id"]))
    return lines


# ---------------------------------------------------------------- invoices


def create_draft(account: Account, subscription: StripeObject, *, reason: str, lines: list[StripeObject],
                 period: tuple[int, int], invoice_id: str | None = None) -> StripeObject:
    customer = account.table("customer")[subscription["customer"]]
    total = sum(entry["amount"] for entry in lines)
    invoice = account.new_object(
        "in", "invoice", **_empty_invoice_fields(), billing_reason=reason, customer=customer["id"],
        customer_email=customer.get("email"), customer_name=customer.get("name"),
        customer_phone=customer.get("phone"), collection_method=subscription["collection_method"],
        currency=subscription["currency"], subtotal=total, subtotal_excluding_tax=total, total=total,
        total_excluding_tax=total, amount_due=max(total, 0), amount_remaining=max(total, 0),
        period_start=period[0], period_end=period[1], test_clock=subscription["test_clock"],
        parent={"type": "subscription_details", "quote_details": None,
                "subscription_details": {"metadata": dict(subscription["metadata"]),
                                         "subscription": subscription["id"], "subscription_proration_date": None}})
    if invoice_id:
        invoice["id"] = invoice_id
    if subscription["collection_method"] == "send_invoice":
        invoice["due_date"] = invoice["created"] + subscription["days_until_due"] * DAY
    invoice["lines"] = list_object(lines, f"/v1/invoices/{invoice['id']}/lines")
    for entry in lines:
        entry["invoice"] = invoice["id"]
        _claim_invoice_item(account, entry, invoice["id"])
    account.insert(invoice)
    account.emit("invoice.created", invoice)
    return invoice


def _claim_invoice_item(account: Account, entry: StripeObject, invoice_id: str) -> None:
    invoice_item = entry["parent"]["subscription_item_details"]["invoice_item"]
    if invoice_item:
        account.table("invoiceitem")[invoice_item]["invoice"] = invoice_id


def _empty_invoice_fields() -> StripeObject:
    return {
        "account_country": "US", "account_name": "Stripe Emulator", "account_tax_ids": None, "amount_overpaid": 0,
        "amount_paid": 0, "amount_paid_off_stripe": 0, "amount_shipping": 0, "application": None,
        "attempt_count": 0, "attempted": False, "auto_advance": True,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None, "provider": None,
                          "status": None},
        "automatically_finalizes_at": None, "confirmation_secret": None, "custom_fields": None,
        "customer_account": None, "customer_address": None, "customer_shipping": None,
        "customer_tax_exempt": "none", "customer_tax_ids": [], "default_payment_method": None,
        "default_source": None, "default_tax_rates": [], "description": None, "discounts": [], "due_date": None,
        "effective_at": None, "ending_balance": None, "footer": None, "from_invoice": None,
        "hosted_invoice_url": None, "invoice_pdf": None, "issuer": {"account": None, "type": "self"},
        "last_finalization_error": None, "latest_revision": None, "metadata": {}, "next_payment_attempt": None,
        "number": None, "on_behalf_of": None,
        "payment_settings": {"default_mandate": None, "payment_method_options": None,
                             "payment_method_types": None},
        "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0, "receipt_number": None,
        "rendering": None, "shipping_cost": None, "shipping_details": None, "starting_balance": 0,
        "statement_descriptor": None, "status": "draft", "status_details": None,
        "status_transitions": {"finalized_at": None, "marked_uncollectible_at": None, "paid_at": None,
                               "voided_at": None},
        "threshold_reason": None, "total_discount_amounts": [],
        "total_pretax_credit_amounts": [], "total_taxes": [], "webhooks_delivered_at": None,
    }


def subscription_of(invoice: StripeObject) -> str | None:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    subscription_id = details.get("subscription")
    return str(subscription_id) if subscription_id else None


def finalize(account: Account, invoice: StripeObject) -> None:
    """Draft to open: the customer's balance applies, the invoice gets its number; $0 is paid at once."""
    if invoice["status"] != "draft":
        raise state_error(f"This invoice is already finalized, you can't re-finalize a non-draft invoice "
                          f"({invoice['id']}).", code="invoice_not_editable")
    _apply_customer_balance(account, invoice)
    customer = account.table("customer")[invoice["customer"]]
    if "invoice_prefix" in customer:
        invoice["number"] = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
        customer["next_invoice_sequence"] += 1
    now = account.now()
    invoice.update(status="open", effective_at=now)
    invoice["status_transitions"]["finalized_at"] = now
    account.emit("invoice.finalized", invoice)
    if invoice["amount_due"] == 0:
        mark_paid(account, invoice, out_of_band=False)


def _apply_customer_balance(account: Account, invoice: StripeObject) -> None:
    """A credit balance (negative) pays part of the invoice; a negative total becomes credit."""
    customer = account.table("customer")[invoice["customer"]]
    starting = customer.get("balance", 0)
    applied = invoice["total"] + starting
    invoice.update(starting_balance=starting, ending_balance=min(applied, 0), amount_due=max(applied, 0),
                   amount_remaining=max(applied, 0))
    if min(applied, 0) != starting and not customer.get("deleted"):
        before = copy.deepcopy(customer)
        customer["balance"] = min(applied, 0)
        account.emit_update("customer.updated", customer, before)


def charge_method(account: Account, subscription: StripeObject) -> str | None:
    """The subscription's default payment method, else its customer's: what Stripe charges."""
    if subscription.get("default_payment_method"):
        return str(subscription["default_payment_method"])
    customer = account.table("customer")[subscription["customer"]]
    default = (customer.get("invoice_settings") or {}).get("default_payment_method")
    return str(default) if default else None


def payment_method_for(account: Account, invoice: StripeObject) -> str | None:
    subscription = account.find("subscription", subscription_of(invoice) or "")
    if subscription is not None:
        return charge_method(account, subscription)
    return charge_method(account, {"customer": invoice["customer"]})


def charge(account: Account, invoice: StripeObject, method_id: str | None) -> bool:
    """Try to collect an open invoice from a card: paid, or a recorded failed attempt."""
    if invoice["amount_due"] == 0 and invoice["status"] == "open":
        mark_paid(account, invoice, out_of_band=False)
        return True
    if method_id is None:
        return False
    invoice.update(attempted=True, attempt_count=invoice["attempt_count"] + 1)
    if payments.charge_succeeds(account, method_id):
        mark_paid(account, invoice, out_of_band=False)
        return True
    account.emit("invoice.payment_failed", invoice)
    return False


def collect(account: Account, invoice: StripeObject) -> bool:
    """What Stripe does once an invoice is finalized: charge it if it is charged automatically."""
    if invoice["status"] == "paid":
        return True
    if invoice["collection_method"] == "send_invoice":
        return False
    return charge(account, invoice, payment_method_for(account, invoice))


def mark_paid(account: Account, invoice: StripeObject, *, out_of_band: bool) -> None:
    now = account.now()
    invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0,
                   amount_paid_off_stripe=invoice["amount_due"] if out_of_band else 0)
    invoice["status_transitions"]["paid_at"] = now
    account.emit("invoice.paid", invoice)
    if not out_of_band:
        account.emit("invoice.payment_succeeded", invoice)


def void(account: Account, invoice: StripeObject) -> None:
    if invoice["status"] not in ("open", "uncollectible"):
        raise state_error(f"You can only void an open or uncollectible invoice; this one is {invoice['status']}.")
    invoice.update(status="void", amount_remaining=0)
    invoice["status_transitions"]["voided_at"] = account.now()
    account.emit("invoice.voided", invoice)


def mark_uncollectible(account: Account, invoice: StripeObject) -> None:
    if invoice["status"] != "open":
        raise state_error(f"You can only mark an open invoice as uncollectible; this one is {invoice['status']}.")
    invoice["status"] = "uncollectible"
    invoice["status_transitions"]["marked_uncollectible_at"] = account.now()
    account.emit("invoice.marked_uncollectible", invoice)


# ---------------------------------------------------------------- reading


def retrieve_invoice(account: Account, invoice_id: str) -> StripeObject:
    return account.get("invoice", invoice_id)


def list_invoices(account: Account, params: dict[str, Any]) -> StripeObject:
    due = params.get("due_date")
    return list_kind(account, "invoice", params, "/v1/invoices", lambda invoice: (
        equals(params, invoice, "customer", "status", "collection_method")
        and params.get("subscription", subscription_of(invoice)) == subscription_of(invoice)
        and (due is None or (invoice["due_date"] is not None and within(due, invoice["due_date"])))))


def retrieve_invoice_item(account: Account, item_id: str) -> StripeObject:
    return account.get("invoiceitem", item_id)


def list_invoice_items(account: Account, params: dict[str, Any]) -> StripeObject:
    """`pending=true`: the items no invoice has claimed yet (prorations waiting for the next one)."""
    pending = params.get("pending")
    return list_kind(account, "invoiceitem", params, "/v1/invoiceitems", lambda item: (
        equals(params, item, "customer", "invoice") and (pending is None or (item["invoice"] is None) == pending)),
        created_field="date")


def list_lines(account: Account, invoice_id: str, params: dict[str, Any]) -> StripeObject:
    invoice = account.get("invoice", invoice_id)
    return paginate(invoice["lines"]["data"], params, f"/v1/invoices/{invoice_id}/lines", label="line item")
