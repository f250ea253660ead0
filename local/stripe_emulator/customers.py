"""Customers. One created with `test_clock` lives in that clock's time (test_clocks.py)."""

from __future__ import annotations

import copy
import secrets
from typing import Any

from local.stripe_emulator import payments, subscriptions, test_clocks
from local.stripe_emulator.listing import equals, list_kind
from local.stripe_emulator.params import EXPAND, Metadata, Obj, Text, list_schema
from local.stripe_emulator.store import Account, StripeObject, merge_metadata

CUSTOMER_CREATE = Obj({
    "email": Text(max_length=512), "name": Text(max_length=256), "phone": Text(max_length=20),
    "description": Text(), "metadata": Metadata(), "payment_method": Text(),
    "invoice_settings": Obj({"default_payment_method": Text()}), "test_clock": Text(), "expand": EXPAND,
})
CUSTOMER_UPDATE = Obj({
    # Stripe's types offer no "" (unset) for these, so an empty string is refused.
    "email": Text(max_length=512), "name": Text(max_length=256), "phone": Text(max_length=20),
    "description": Text(), "metadata": Metadata(), "invoice_settings": Obj({"default_payment_method": Text()}),
    "expand": EXPAND,
})
CUSTOMER_LIST = list_schema(email=Text(max_length=512), test_clock=Text())


def deleted_stub(customer_id: str) -> StripeObject:
    return {"id": customer_id, "object": "customer", "deleted": True}


def create_customer(account: Account, params: dict[str, Any]) -> StripeObject:
    clock = test_clocks.attachable(account, params["test_clock"], "test_clock") if "test_clock" in params else None
    _check_methods(account, params)
    customer = account.new_object(
        "cus", "customer", email=params.get("email"), name=params.get("name"), phone=params.get("phone"),
        description=params.get("description"), metadata=params.get("metadata") or {}, address=None, balance=0,
        business_name=None, cash_balance=None, currency=None, customer_account=None, default_source=None,
        delinquent=False, discount=None, individual_name=None,
        invoice_prefix=secrets.token_hex(4).upper(), next_invoice_sequence=1, preferred_locales=[],
        shipping=None, tax_exempt="none", test_clock=clock["id"] if clock else None,
        invoice_settings={"custom_fields": None, "default_payment_method": None, "footer": None,
                          "rendering_options": None})
    # Inserted first: the payment methods below are attached to it.
    account.insert(customer)
    given = params.get("payment_method")
    attached = payments.attach(account, given, {"customer": customer["id"]})["id"] if given else None
    default = (params.get("invoice_settings") or {}).get("default_payment_method")
    if default is not None:
        # `payment_method=pm_card_visa&invoice_settings[default_payment_method]=pm_card_visa` names one card.
        customer["invoice_settings"]["default_payment_method"] = (
            attached if default == given else _default_method(account, customer, default))
    account.emit("customer.created", customer)
    return customer


def _check_methods(account: Account, params: dict[str, Any]) -> None:
    """Refuse unusable payment methods before anything is stored."""
    given = params.get("payment_method")
    if given is not None:
        payments.check_attachable(account, given, "payment_method")
    default = (params.get("invoice_settings") or {}).get("default_payment_method")
    if default is not None and default != given:
        param = "invoice_settings[default_payment_method]"
        if not payments.is_test_token(default):
            raise payments.not_attached(default, param)
        payments.check_attachable(account, default, param)


def _default_method(account: Account, customer: StripeObject, method: str) -> str:
    """A test token is attached on the way, as Stripe does for `invoice_settings[default_payment_method]`."""
    param = "invoice_settings[default_payment_method]"
    if payments.is_test_token(method):
        return str(payments.create_from_token(account, method, customer["id"], param)["id"])
    return payments.attached_method(account, method, customer["id"], param)


def retrieve_customer(account: Account, customer_id: str) -> StripeObject:
    customer = account.find("customer", customer_id)
    if customer is not None and customer.get("deleted"):
        return deleted_stub(customer_id)
    return account.get("customer", customer_id)


def update_customer(account: Account, customer_id: str, params: dict[str, Any]) -> StripeObject:
    customer = account.get("customer", customer_id)
    settings = params.get("invoice_settings") or {}
    new_default = settings.get("default_payment_method")
    if new_default is not None:
        new_default = _default_method(account, customer, new_default)
    before = copy.deepcopy(customer)
    for key in ("email", "name", "phone", "description"):
        if key in params:
            customer[key] = params[key]
    if "metadata" in params:
        customer["metadata"] = merge_metadata(customer["metadata"], params["metadata"])
    if "default_payment_method" in settings:
        customer["invoice_settings"]["default_payment_method"] = new_default
    account.emit_update("customer.updated", customer, before)
    return customer


def delete_customer(account: Account, customer_id: str) -> StripeObject:
    """Deleting a customer cancels its subscriptions at once, as on Stripe."""
    customer = account.get("customer", customer_id)
    for subscription in list(account.table("subscription").values()):
        if subscription["customer"] == customer_id and subscription["status"] not in subscriptions.ENDED:
            subscriptions.end_now(account, subscription)
    account.table("customer")[customer_id] = deleted_stub(customer_id)
    account.emit("customer.deleted", customer)
    return deleted_stub(customer_id)


def list_customers(account: Account, params: dict[str, Any]) -> StripeObject:
    """Stripe's email filter is exact and case-sensitive; customers on a test clock are
    listed only when that clock is asked for with `test_clock`."""
    clock = params.get("test_clock")
    return list_kind(account, "customer", params, "/v1/customers", lambda customer: (
        equals(params, customer, "email") and customer["test_clock"] == clock))
