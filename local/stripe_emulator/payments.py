"""Payment methods, made from Stripe's test tokens, and what charging one does.

There are no card numbers here: `pm_card_visa` (and the other test tokens
below) become a new `pm_...` attached to the customer, as on Stripe.
`pm_card_chargeCustomerFail` attaches but declines every charge;
`pm_card_chargeDeclined` is declined when attached. A payment method once
detached can never be attached or charged again, as on Stripe.
"""

from __future__ import annotations

import copy
from typing import Any

from local.stripe_emulator.errors import card_declined, invalid_parameter, no_such, state_error
from local.stripe_emulator.listing import list_kind
from local.stripe_emulator.params import EXPAND, Choice, Obj, Text, list_schema
from local.stripe_emulator.store import Account, StripeObject

# token -> (brand, last4, declines charges)
TEST_CARDS = {
    "pm_card_visa": ("visa", "4242", False),
    "pm_card_mastercard": ("mastercard", "4444", False),
    "pm_card_amex": ("amex", "8431", False),
    "pm_card_chargeCustomerFail": ("visa", "0341", True),
    "pm_card_chargeDeclined": ("visa", "0002", True),
}
DECLINED_ON_ATTACH = "pm_card_chargeDeclined"

ATTACH = Obj({"customer": Text(), "expand": EXPAND}, required=("customer",))
DETACH = Obj({"expand": EXPAND})
PAYMENT_METHOD_LIST = list_schema(created=False, customer=Text(), type=Choice(("card",)))
CUSTOMER_PAYMENT_METHOD_LIST = list_schema(created=False, type=Choice(("card",)))


def is_test_token(value: str) -> bool:
    return value in TEST_CARDS


def create_from_token(account: Account, token: str, customer_id: str, param: str) -> StripeObject:
    if not is_test_token(token):
        raise no_such("PaymentMethod", token, param)
    if token == DECLINED_ON_ATTACH:
        raise card_declined(token)
    brand, last4, declines = TEST_CARDS[token]
    method = account.new_object(
        "pm", "payment_method", type="card", customer=customer_id, metadata={}, allow_redisplay="unspecified",
        billing_details={"address": None, "email": None, "name": None, "phone": None, "tax_id": None},
        card={"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034, "funding": "credit",
              "country": "US", "display_brand": brand, "wallet": None})
    account.private_of(method["id"])["declines"] = declines
    account.insert(method)
    account.emit("payment_method.attached", method)
    return method


def attach(account: Account, method_id: str, params: dict[str, Any]) -> StripeObject:
    customer = account.get("customer", params["customer"], param="customer")
    if is_test_token(method_id):
        return create_from_token(account, method_id, customer["id"], "payment_method")
    method = account.get("payment_method", method_id, label="PaymentMethod")
    _refuse_detached(account, method_id)
    if method["customer"] not in (None, customer["id"]):
        raise _already_attached()
    before = copy.deepcopy(method)
    method["customer"] = customer["id"]
    if method != before:
        account.emit("payment_method.attached", method)
    return method


def detach(account: Account, method_id: str, params: dict[str, Any]) -> StripeObject:
    method = account.get("payment_method", method_id, label="PaymentMethod")
    if method["customer"] is None:
        raise state_error("The payment method you provided is not attached to a customer so detachment is "
                          "impossible.", param="payment_method")
    customer = account.find("customer", method["customer"])
    if customer and customer["invoice_settings"]["default_payment_method"] == method_id:
        before = copy.deepcopy(customer)
        customer["invoice_settings"]["default_payment_method"] = None
        account.emit_update("customer.updated", customer, before)
    method["customer"] = None
    account.private_of(method_id)["detached"] = True
    account.emit("payment_method.detached", method)
    return method


def retrieve(account: Account, method_id: str) -> StripeObject:
    return account.get("payment_method", method_id, label="PaymentMethod")


def retrieve_of_customer(account: Account, customer_id: str, method_id: str) -> StripeObject:
    """A payment method through its customer: one attached to someone else is not found here."""
    account.get("customer", customer_id)
    method = account.find("payment_method", method_id)
    if method is None or method["customer"] != customer_id:
        raise no_such("PaymentMethod", method_id)
    return method


def list_methods(account: Account, params: dict[str, Any], customer_id: str | None = None) -> StripeObject:
    owner = customer_id or params.get("customer")
    if customer_id:
        account.get("customer", customer_id)
    url = f"/v1/customers/{customer_id}/payment_methods" if customer_id else "/v1/payment_methods"
    return list_kind(account, "payment_method", params, url,
                     lambda method: owner is None or method["customer"] == owner)


def check_attachable(account: Account, method_id: str, param: str) -> None:
    """What attaching `method_id` would refuse, checked before anything changes."""
    if method_id == DECLINED_ON_ATTACH:
        raise card_declined(method_id)
    if is_test_token(method_id):
        return
    method = account.get("payment_method", method_id, param=param, label="PaymentMethod")
    _refuse_detached(account, method_id)
    if method["customer"] is not None:
        raise _already_attached()


def _refuse_detached(account: Account, method_id: str) -> None:
    if account.private_of(method_id).get("detached"):
        raise state_error("This PaymentMethod was previously used without being attached to a Customer or was "
                          "detached from a Customer, and may not be used again.", param="payment_method")


def _already_attached() -> Exception:
    return state_error("The payment method you provided has already been attached to a customer.",
                       param="payment_method")


def not_attached(method_id: str, param: str) -> Exception:
    return invalid_parameter(param, f"The customer does not have a payment method with the ID {method_id}. "
                                    "The payment method must be attached to the customer.")


def attached_method(account: Account, method_id: str, customer_id: str, param: str) -> str:
    """A payment method id the customer may be charged with, or Stripe's 400."""
    method = account.find("payment_method", method_id)
    if method is None or method["customer"] != customer_id:
        raise not_attached(method_id, param)
    return method_id


def charge_succeeds(account: Account, method_id: str) -> bool:
    return not account.private_of(method_id).get("declines", False)
