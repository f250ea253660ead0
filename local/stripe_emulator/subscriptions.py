"""Subscriptions with several items: their shape, creating them, how they end,
reading them. Changing them is in subscription_changes.py, what they bill in
subscription_billing.py, and what happens as time passes in renewals.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from local.stripe_emulator import invoices, payments, schedule_links
from local.stripe_emulator.clock import DAY, add_intervals, next_period_end
from local.stripe_emulator.errors import (
    card_declined,
    exclusive_parameters,
    invalid_parameter,
    missing_parameter,
    no_such,
    state_error,
)
from local.stripe_emulator.listing import list_kind, list_object, paginate
from local.stripe_emulator.params import (
    EXPAND,
    PAGINATION,
    Array,
    Boolean,
    Choice,
    Integer,
    Metadata,
    Obj,
    Text,
    Timestamp,
    list_schema,
)
from local.stripe_emulator.store import Account, StripeObject, new_id

ENDED = ("canceled", "incomplete_expired")
UNPAID = ("incomplete", "past_due", "unpaid")
STATUSES = ("active", "past_due", "unpaid", "canceled", "incomplete", "incomplete_expired", "trialing", "paused")
COLLECTION_METHODS = ("charge_automatically", "send_invoice")
PAYMENT_BEHAVIORS = ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete")
PRORATION_BEHAVIORS = ("always_invoice", "create_prorations", "none")
MAX_ITEMS = 20
MAX_TRIAL_DAYS = 730
# What a trial that ends without a payment method does (renewals.py): invoice anyway, pause, or cancel.
MISSING_PAYMENT_METHOD_BEHAVIORS = ("cancel", "create_invoice", "pause")
TRIAL_SETTINGS = Obj({"end_behavior": Obj({"missing_payment_method": Choice(MISSING_PAYMENT_METHOD_BEHAVIORS)},
                                          required=("missing_payment_method",))}, required=("end_behavior",))
# Stripe's test clocks simulate customers with at most three subscriptions.
MAX_SUBSCRIPTIONS_ON_A_TEST_CLOCK = 3
ITEM_CREATE = Obj({"price": Text(), "quantity": Integer(minimum=0), "metadata": Metadata()}, required=("price",))
SUBSCRIPTION_CREATE = Obj({
    "customer": Text(), "items": Array(ITEM_CREATE, max_items=MAX_ITEMS), "metadata": Metadata(),
    "description": Text(max_length=500), "trial_period_days": Integer(minimum=0, maximum=MAX_TRIAL_DAYS),
    "trial_end": Timestamp(words=("now",)), "collection_method": Choice(COLLECTION_METHODS),
    "days_until_due": Integer(minimum=0, maximum=1095), "payment_behavior": Choice(PAYMENT_BEHAVIORS),
    "proration_behavior": Choice(PRORATION_BEHAVIORS), "default_payment_method": Text(),
    "cancel_at_period_end": Boolean(), "billing_cycle_anchor": Timestamp(), "trial_settings": TRIAL_SETTINGS,
    "expand": EXPAND,
}, required=("customer", "items"))
SUBSCRIPTION_LIST = list_schema(customer=Text(), status=Choice((*STATUSES, "all", "ended")), price=Text(),
                                collection_method=Choice(COLLECTION_METHODS), test_clock=Text())
SUBSCRIPTION_ITEM_LIST = Obj({name: spec for name, spec in PAGINATION.items() if name != "created"}
                             | {"subscription": Text()}, required=("subscription",))


# ------------------------------------------------------------------ money


def item_amount(item: StripeObject) -> int:
    return int(item["price"]["unit_amount"]) * int(item["quantity"])


def share(amount: int, part: int, whole: int) -> int:
    """amount * part / whole in integers, rounded half up (amounts here are never negative)."""
    return (amount * part + whole // 2) // whole if whole > 0 else 0


def period_charge(item: StripeObject, period: tuple[int, int], *, prorate_stub: bool = True) -> int:
    """A full cycle costs the item's amount. A shorter one (a first period cut short by a
    billing_cycle_anchor) costs its prorated share, or nothing with proration_behavior=none."""
    start, end = period
    natural_end = add_intervals(start, *cycle_of(item["price"]))
    if natural_end <= end:
        return item_amount(item)
    return share(item_amount(item), end - start, natural_end - start) if prorate_stub else 0


def day_label(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%d %b %Y").lstrip("0")


# ----------------------------------------------------------------- shapes


def plan_of(price: StripeObject) -> StripeObject:
    """The legacy `plan` every subscription item still carries, mirrored from its price."""
    recurring = price["recurring"]
    return {"id": price["id"], "object": "plan", "active": price["active"], "amount": price["unit_amount"],
            "amount_decimal": price["unit_amount_decimal"], "billing_scheme": "per_unit",
            "created": price["created"], "currency": price["currency"], "interval": recurring["interval"],
            "interval_count": recurring["interval_count"], "livemode": price["livemode"],
            "metadata": dict(price["metadata"]), "meter": None, "nickname": price["nickname"],
            "product": price["product"], "tiers_mode": None, "transform_usage": None, "trial_period_days": None,
            "usage_type": "licensed"}


def new_item(account: Account, subscription_id: str, price: StripeObject, quantity: int,
             metadata: dict[str, str], period: tuple[int, int]) -> StripeObject:
    # `price` is the price table's own dict, not a copy: an item shows its price as it is now
    # (archived or renamed), as Stripe's does; responses and events are deep copies.
    item = account.new_object(
        "si", "subscription_item", price=price, plan=plan_of(price), quantity=quantity, metadata=metadata,
        subscription=subscription_id, current_period_start=period[0], current_period_end=period[1],
        billed_until=None, billing_thresholds=None, current_trial=None, discounts=[], tax_rates=[])
    del item["livemode"]  # a subscription item is the one object without it
    return item


def items_of(subscription: StripeObject) -> list[StripeObject]:
    items: list[StripeObject] = subscription["items"]["data"]
    return items


def current_period(subscription: StripeObject) -> tuple[int, int]:
    """Every item shares one cycle (prices must match in interval), so the first item's period is everyone's."""
    first = items_of(subscription)[0]
    return first["current_period_start"], first["current_period_end"]


def cycle_of(price: StripeObject) -> tuple[str, int]:
    return price["recurring"]["interval"], price["recurring"]["interval_count"]


def set_period(subscription: StripeObject, period: tuple[int, int]) -> None:
    for item in items_of(subscription):
        item["current_period_start"], item["current_period_end"] = period


def next_period(subscription: StripeObject, start: int) -> tuple[int, int]:
    interval, count = cycle_of(items_of(subscription)[0]["price"])
    return start, next_period_end(subscription["billing_cycle_anchor"], interval, count, start)


def _new_subscription(account: Account, customer: StripeObject, params: dict[str, Any], currency: str) -> StripeObject:
    now = account.now()
    return account.new_object(
        "sub", "subscription", customer=customer["id"], currency=currency, status="incomplete",
        metadata=params.get("metadata") or {}, description=params.get("description"),
        collection_method=params.get("collection_method", "charge_automatically"),
        days_until_due=params.get("days_until_due"), default_payment_method=params.get("default_payment_method"),
        cancel_at_period_end=False, cancel_at=None, canceled_at=None, ended_at=None, start_date=now,
        billing_cycle_anchor=now, trial_start=None, trial_end=None, latest_invoice=None,
        application=None, application_fee_percent=None, billing_cycle_anchor_config=None,
        automatic_tax={"disabled_reason": None, "enabled": False, "liability": None},
        billing_mode={"flexible": {"proration_discounts": "included"}, "type": "flexible", "updated_at": now},
        billing_schedules=[], billing_thresholds=None,
        cancellation_details={"comment": None, "feedback": None, "reason": None}, customer_account=None,
        default_source=None, default_tax_rates=[], discounts=[],
        invoice_settings={"account_tax_ids": None, "custom_fields": None, "description": None, "footer": None,
                          "issuer": {"account": None, "type": "self"}},
        managed_payments=None, next_pending_invoice_item_invoice=None, on_behalf_of=None, pause_collection=None,
        payment_settings={"payment_method_options": None, "payment_method_types": None,
                          "save_default_payment_method": "off"},
        pending_invoice_item_interval=None, pending_setup_intent=None, pending_update=None,
        presentment_details=None, schedule=None, status_details=None, test_clock=customer["test_clock"],
        transfer_data=None,
        trial_settings={"end_behavior": {"billing_cycle_anchor": None, "missing_payment_method": (
            (params.get("trial_settings") or {}).get("end_behavior") or {}).get(
            "missing_payment_method", "create_invoice")}})


# ------------------------------------------------------------- validation


def usable_price(account: Account, price_id: str, param: str) -> StripeObject:
    price = account.get("price", price_id, param=param)
    if not price["active"]:
        raise invalid_parameter(param, f"The price specified ({price_id}) is inactive. This field only accepts "
                                       "active prices.")
    if price["recurring"] is None:
        raise invalid_parameter(param, f"The price specified ({price_id}) is set to `type=one_time` but this "
                                       "field only accepts prices with `type=recurring`.")
    return price


def check_prices_fit_together(prices: list[StripeObject]) -> None:
    first, seen = prices[0], set()
    for price in prices:
        if price["currency"] != first["currency"] or cycle_of(price) != cycle_of(first):
            field = "currency" if price["currency"] != first["currency"] else "interval"
            raise invalid_parameter("items", "Currency and interval fields must match across all plans on this "
                                             f"subscription. Found mismatch in {field} field.")
        if price["id"] in seen:
            raise invalid_parameter("items", f"Cannot add multiple subscription items with the same plan: "
                                             f"{price['id']}")
        seen.add(price["id"])


def check_collection(method: str, days: int | None) -> None:
    if method == "send_invoice" and days is None:
        raise missing_parameter("days_until_due")
    if method == "charge_automatically" and days is not None:
        raise invalid_parameter("days_until_due", "Invalid days_until_due: you can only set it when "
                                                  "collection_method is send_invoice.")


def check_trial_end(trial_end: int, now: int) -> None:
    if trial_end <= now:
        raise invalid_parameter("trial_end", "Invalid timestamp: must be an integer Unix timestamp in the future.")
    if trial_end > now + MAX_TRIAL_DAYS * DAY:
        raise invalid_parameter("trial_end", "Invalid timestamp: can be no more than two years in the future.")


def _trial_end_on_create(params: dict[str, Any], now: int) -> int | None:
    if "trial_end" in params and "trial_period_days" in params:
        raise exclusive_parameters("trial_end", "trial_period_days")
    trial_end = params.get("trial_end")
    if trial_end == "now":
        return None
    if trial_end is not None:
        check_trial_end(trial_end, now)
        return int(trial_end)
    days = params.get("trial_period_days")
    return now + days * DAY if days else None


def _anchor_on_create(params: dict[str, Any], now: int, trial_end: int | None, price: StripeObject) -> int | None:
    """A billing_cycle_anchor ends the first period early; it must fall within one cycle of its start."""
    anchor = params.get("billing_cycle_anchor")
    if anchor is None:
        return None
    start = trial_end or now
    natural = add_intervals(start, *cycle_of(price))
    if anchor < start:
        raise invalid_parameter("billing_cycle_anchor", "billing_cycle_anchor cannot be earlier than the start "
                                                        "of the first billing period (now, or the trial end).")
    if anchor > natural:
        raise invalid_parameter("billing_cycle_anchor", f"billing_cycle_anchor cannot be later than next natural "
                                                        f"billing date ({natural}) for plan")
    return int(anchor)


def _no_payment_method() -> Exception:
    return state_error("This customer has no attached payment source or default payment method. Please consider "
                       "adding a default payment method.", param="default_payment_method")


def refuse_pending_if_incomplete(params: dict[str, Any]) -> None:
    if params.get("payment_behavior") == "pending_if_incomplete":
        raise invalid_parameter("payment_behavior", "The emulator does not support "
                                                    "payment_behavior=pending_if_incomplete (pending updates).")


def require_payable(account: Account, subscription: StripeObject) -> None:
    """payment_behavior=error_if_incomplete: a payment that would fail refuses the whole request."""
    method = invoices.charge_method(account, subscription)
    if method is None:
        raise _no_payment_method()
    if not payments.charge_succeeds(account, method):
        raise card_declined(method)


# ----------------------------------------------------------------- create


def create_subscription(account: Account, params: dict[str, Any]) -> StripeObject:
    customer, prices = _check_create(account, params)
    now = account.now()
    trial_end = _trial_end_on_create(params, now)
    anchor = _anchor_on_create(params, now, trial_end, prices[0])
    subscription = _new_subscription(account, customer, params, prices[0]["currency"])
    subscription.update(trial_start=now if trial_end else None, trial_end=trial_end,
                        billing_cycle_anchor=anchor or trial_end or now,
                        cancel_at_period_end=params.get("cancel_at_period_end", False))
    first_period = (now, trial_end or anchor or add_intervals(now, *cycle_of(prices[0])))
    items = [new_item(account, subscription["id"], price, spec.get("quantity", 1), spec.get("metadata") or {},
                      first_period) for spec, price in zip(params["items"], prices, strict=True)]
    subscription["items"] = list_object(items, f"/v1/subscription_items?subscription={subscription['id']}")
    prorate_stub = params.get("proration_behavior", "create_prorations") != "none"
    account.private_of(subscription["id"])["prorate_stub"] = prorate_stub
    lines = _first_lines(account, subscription, prorate_stub)
    behavior = params.get("payment_behavior", "allow_incomplete")
    subscription["status"] = _status_at_creation(account, subscription, lines, behavior)
    refresh_cancel_at(subscription, now)
    return _start(account, subscription, lines, charge=behavior != "default_incomplete")


def _check_create(account: Account, params: dict[str, Any]) -> tuple[StripeObject, list[StripeObject]]:
    """The customer and the items' prices, once everything that does not depend on time checks out."""
    customer = account.get("customer", params["customer"], param="customer")
    if not params["items"]:
        raise missing_parameter("items")
    _check_room_on_test_clock(account, customer)
    prices = [usable_price(account, spec["price"], f"items[{index}][price]")
              for index, spec in enumerate(params["items"])]
    check_prices_fit_together(prices)
    check_collection(params.get("collection_method", "charge_automatically"), params.get("days_until_due"))
    refuse_pending_if_incomplete(params)
    if params.get("default_payment_method"):
        payments.attached_method(account, params["default_payment_method"], customer["id"], "default_payment_method")
    return customer, prices


def _check_room_on_test_clock(account: Account, customer: StripeObject) -> None:
    if customer["test_clock"] is None:
        return
    running = [subscription for subscription in account.table("subscription").values()
               if subscription["customer"] == customer["id"] and subscription["status"] not in ENDED]
    if len(running) >= MAX_SUBSCRIPTIONS_ON_A_TEST_CLOCK:
        raise invalid_parameter("customer", f"Customer {customer['id']} is on test clock {customer['test_clock']} "
                                            f"and already has {MAX_SUBSCRIPTIONS_ON_A_TEST_CLOCK} subscriptions, "
                                            "the most a test clock simulates for one customer.")


def _first_lines(account: Account, subscription: StripeObject, prorate_stub: bool) -> list[StripeObject]:
    period = current_period(subscription)
    lines = []
    for item in items_of(subscription):
        if subscription["trial_end"]:
            amount, description = 0, f"Trial period for {invoices.product_name(account, item['price'])}"
        else:
            amount = period_charge(item, period, prorate_stub=prorate_stub)
            description = invoices.describe_item(account, item["price"], item["quantity"])
        lines.append(invoices.line(account, subscription_id=subscription["id"], item_id=item["id"],
                                   price=item["price"], quantity=item["quantity"], amount=amount,
                                   description=description, period=period))
    return lines


def _status_at_creation(account: Account, subscription: StripeObject, lines: list[StripeObject],
                        behavior: str) -> str:
    """Decided before anything is stored, so customer.subscription.created already carries it."""
    if subscription["trial_end"]:
        return "trialing"
    customer = account.table("customer")[subscription["customer"]]
    amount_due = max(0, sum(entry["amount"] for entry in lines) + customer["balance"])
    if amount_due == 0 or subscription["collection_method"] == "send_invoice":
        return "active"
    if behavior == "error_if_incomplete":
        require_payable(account, subscription)
    if behavior == "default_incomplete":
        return "incomplete"
    method = invoices.charge_method(account, subscription)
    return "active" if method and payments.charge_succeeds(account, method) else "incomplete"


def _start(account: Account, subscription: StripeObject, lines: list[StripeObject], *, charge: bool) -> StripeObject:
    """Store the subscription, announce it, then its first invoice (whose id it already names)."""
    invoice_id = new_id("in")
    subscription["latest_invoice"] = invoice_id
    account.insert(subscription)
    account.emit("customer.subscription.created", subscription)
    now = account.now()
    invoice = invoices.create_draft(account, subscription, reason="subscription_create", lines=lines,
                                    period=(now, now), invoice_id=invoice_id)
    invoices.finalize(account, invoice)
    if charge:
        invoices.collect(account, invoice)
    return subscription


def refresh_cancel_at(subscription: StripeObject, at: int) -> None:
    """cancel_at_period_end keeps cancel_at on the end of the (possibly new) current period."""
    if subscription["cancel_at_period_end"]:
        schedule_cancellation(subscription, current_period(subscription)[1], at)


def schedule_cancellation(subscription: StripeObject, cancel_at: int, at: int) -> None:
    """The subscription will end at `cancel_at`; canceled_at records when that was first asked for."""
    subscription["cancel_at"] = cancel_at
    subscription["canceled_at"] = subscription["canceled_at"] or at
    subscription["cancellation_details"]["reason"] = "cancellation_requested"


def withdraw_cancellation(subscription: StripeObject) -> None:
    subscription.update(cancel_at=None, canceled_at=None, cancel_at_period_end=False)
    subscription["cancellation_details"]["reason"] = None


# ----------------------------------------------------------------- ending


def end_now(account: Account, subscription: StripeObject, details: dict[str, Any] | None = None) -> None:
    """The subscription ends; a schedule still managing it is canceled with it."""
    at = account.now()
    subscription.update(status="canceled", ended_at=at, canceled_at=subscription["canceled_at"] or at)
    subscription["cancellation_details"].update({"reason": "cancellation_requested", **(details or {})})
    account.emit("customer.subscription.deleted", subscription)
    schedule_links.cancel_with_subscription(account, subscription)


# ---------------------------------------------------------------- reading


def retrieve_subscription(account: Account, subscription_id: str) -> StripeObject:
    return account.get("subscription", subscription_id)


def list_subscriptions(account: Account, params: dict[str, Any]) -> StripeObject:
    """Subscriptions on a test clock are listed only when asked for by `test_clock` or `customer`."""
    status = params.get("status")

    def keep(subscription: StripeObject) -> bool:
        if subscription["test_clock"] != params.get("test_clock") and "customer" not in params:
            return False
        if status is None and subscription["status"] == "canceled":
            return False  # by default Stripe lists every subscription that has not been canceled
        if status == "ended":
            return subscription["status"] in ENDED
        if status not in (None, "all") and subscription["status"] != status:
            return False
        if "price" in params and all(item["price"]["id"] != params["price"] for item in items_of(subscription)):
            return False
        return all(key not in params or subscription[key] == params[key]
                   for key in ("customer", "collection_method"))

    return list_kind(account, "subscription", params, "/v1/subscriptions", keep)


def list_items(account: Account, params: dict[str, Any]) -> StripeObject:
    subscription = account.get("subscription", params["subscription"], param="subscription")
    return paginate(items_of(subscription), params, "/v1/subscription_items", label="subscription item")


def retrieve_item(account: Account, item_id: str) -> StripeObject:
    for subscription in account.table("subscription").values():
        for item in items_of(subscription):
            if item["id"] == item_id:
                return item
    raise no_such("subscription item", item_id)
