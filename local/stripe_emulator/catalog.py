"""Products and prices."""

from __future__ import annotations

import copy
import re
from typing import Any

from local.stripe_emulator.errors import StripeApiError, invalid_parameter, state_error
from local.stripe_emulator.listing import equals, list_kind
from local.stripe_emulator.params import (
    EXPAND,
    Array,
    Boolean,
    Choice,
    Integer,
    Metadata,
    Obj,
    Text,
    list_schema,
)
from local.stripe_emulator.store import Account, StripeObject, merge_metadata

# Stripe allows at most three years between billings.
MAX_INTERVAL_COUNT = {"day": 1095, "week": 156, "month": 36, "year": 3}
MAX_UNIT_AMOUNT = 99_999_999
_CURRENCY = re.compile(r"[a-z]{3}")

PRODUCT_CREATE = Obj({
    "id": Text(), "name": Text(), "description": Text(), "metadata": Metadata(), "active": Boolean(),
    "expand": EXPAND,
}, required=("name",))
PRODUCT_UPDATE = Obj({
    "name": Text(), "description": Text(unsettable=True), "metadata": Metadata(), "active": Boolean(),
    "expand": EXPAND,
})
PRODUCT_LIST = list_schema(active=Boolean(), ids=Array(Text(), max_items=100))

PRICE_CREATE = Obj({
    "product": Text(), "currency": Text(), "unit_amount": Integer(minimum=0, maximum=MAX_UNIT_AMOUNT),
    "recurring": Obj({"interval": Choice(("day", "week", "month", "year")), "interval_count": Integer(minimum=1)},
                     required=("interval",)),
    "nickname": Text(), "lookup_key": Text(max_length=200), "transfer_lookup_key": Boolean(),
    "metadata": Metadata(), "active": Boolean(),
    "tax_behavior": Choice(("exclusive", "inclusive", "unspecified")), "expand": EXPAND,
}, required=("currency", "product", "unit_amount"))
PRICE_UPDATE = Obj({
    "active": Boolean(), "nickname": Text(), "metadata": Metadata(),
    "lookup_key": Text(max_length=200), "transfer_lookup_key": Boolean(), "expand": EXPAND,
})
PRICE_LIST = list_schema(product=Text(), active=Boolean(), type=Choice(("one_time", "recurring")),
                         currency=Text(), lookup_keys=Array(Text(), max_items=10))


# ---------------------------------------------------------------- products


def create_product(account: Account, params: dict[str, Any]) -> StripeObject:
    """A caller may choose the id; Stripe refuses one that is taken."""
    if "id" in params and account.find("product", params["id"]) is not None:
        raise StripeApiError(400, "Product already exists.", code="resource_already_exists", param="id")
    product = account.new_object(
        "prod", "product", name=params["name"], description=params.get("description"),
        active=params.get("active", True), metadata=params.get("metadata") or {}, default_price=None,
        images=[], marketing_features=[], package_dimensions=None, shippable=None, statement_descriptor=None,
        tax_code=None, tax_details=None, type="service", unit_label=None, url=None)
    product["updated"] = product["created"]
    product["id"] = params.get("id", product["id"])
    account.insert(product)
    account.emit("product.created", product)
    return product


def retrieve_product(account: Account, product_id: str) -> StripeObject:
    return account.get("product", product_id)


def update_product(account: Account, product_id: str, params: dict[str, Any]) -> StripeObject:
    product = account.get("product", product_id)
    before = copy.deepcopy(product)
    for key in ("name", "description", "active"):
        if key in params:
            product[key] = params[key]
    if "metadata" in params:
        product["metadata"] = merge_metadata(product["metadata"], params["metadata"])
    if product != before:
        product["updated"] = account.now()
    account.emit_update("product.updated", product, before)
    return product


def delete_product(account: Account, product_id: str) -> StripeObject:
    product = account.get("product", product_id)
    if any(price["product"] == product_id for price in account.table("price").values()):
        raise state_error("This product cannot be deleted because it has one or more user-created prices.")
    del account.table("product")[product_id]
    account.emit("product.deleted", product)
    return {"id": product_id, "object": "product", "deleted": True}


def list_products(account: Account, params: dict[str, Any]) -> StripeObject:
    ids = set(params.get("ids") or [])
    return list_kind(account, "product", params, "/v1/products", lambda product: equals(
        params, product, "active") and (not ids or product["id"] in ids))


# ------------------------------------------------------------------ prices


def create_price(account: Account, params: dict[str, Any]) -> StripeObject:
    product = account.get("product", params["product"], param="product")
    currency = _currency(params["currency"])
    recurring = _recurring(params.get("recurring"))
    lookup_key = params.get("lookup_key")
    holder = _lookup_key_holder(account, lookup_key, params.get("transfer_lookup_key", False))
    price = account.new_object(
        "price", "price", product=product["id"], active=params.get("active", True), currency=currency,
        unit_amount=params["unit_amount"], unit_amount_decimal=str(params["unit_amount"]), recurring=recurring,
        type="recurring" if recurring else "one_time", nickname=params.get("nickname"), lookup_key=lookup_key,
        metadata=params.get("metadata") or {}, billing_scheme="per_unit", currency_options=None,
        custom_unit_amount=None, tax_behavior=params.get("tax_behavior", "unspecified"), tiers_mode=None,
        transform_quantity=None)
    if holder is not None:
        _take_lookup_key(account, holder)
    account.insert(price)
    account.emit("price.created", price)
    return price


def _currency(value: str) -> str:
    currency = value.lower()
    if not _CURRENCY.fullmatch(currency):
        raise invalid_parameter("currency", f"Invalid currency: {value}. Stripe currencies are three-letter "
                                            "ISO codes.")
    return currency


def _recurring(params: dict[str, Any] | None) -> StripeObject | None:
    if params is None:
        return None
    interval, count = params["interval"], params.get("interval_count", 1)
    if count > MAX_INTERVAL_COUNT[interval]:
        raise invalid_parameter("recurring[interval_count]", "The maximum billing interval is three years "
                                                             "(3 years, 36 months, or 156 weeks).")
    return {"interval": interval, "interval_count": count, "meter": None, "trial_period_days": None,
            "usage_type": "licensed"}


def _lookup_key_holder(account: Account, lookup_key: str | None, transfer: bool) -> StripeObject | None:
    """The price already using `lookup_key`; Stripe moves the key only when asked to."""
    if lookup_key is None:
        return None
    for price in account.table("price").values():
        if price["lookup_key"] == lookup_key:
            if not transfer:
                raise invalid_parameter("lookup_key", f"A price (`{price['id']}`) already uses that lookup key.")
            return price
    return None


def _take_lookup_key(account: Account, holder: StripeObject) -> None:
    before = copy.deepcopy(holder)
    holder["lookup_key"] = None
    account.emit_update("price.updated", holder, before)


def retrieve_price(account: Account, price_id: str) -> StripeObject:
    return account.get("price", price_id)


def update_price(account: Account, price_id: str, params: dict[str, Any]) -> StripeObject:
    price = account.get("price", price_id)
    if "lookup_key" in params and params["lookup_key"] != price["lookup_key"]:
        holder = _lookup_key_holder(account, params["lookup_key"], params.get("transfer_lookup_key", False))
        if holder is not None:
            _take_lookup_key(account, holder)
    before = copy.deepcopy(price)
    for key in ("active", "nickname", "lookup_key"):
        if key in params:
            price[key] = params[key]
    if "metadata" in params:
        price["metadata"] = merge_metadata(price["metadata"], params["metadata"])
    account.emit_update("price.updated", price, before)
    return price


def list_prices(account: Account, params: dict[str, Any]) -> StripeObject:
    lookup_keys = set(params.get("lookup_keys") or [])
    currency = params.get("currency", "").lower() or None
    return list_kind(account, "price", params, "/v1/prices", lambda price: (
        equals(params, price, "product", "active", "type")
        and (currency is None or price["currency"] == currency)
        and (not lookup_keys or price["lookup_key"] in lookup_keys)))
