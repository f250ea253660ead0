"""Changing a subscription: prices, quantities, items added and removed (with
prorations, optionally as of a `proration_date`), trials, collection, when it
is set to end (subscription_cancellation.py); and canceling one now."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from local.stripe_emulator import payments, schedule_links
from local.stripe_emulator.errors import (
    invalid_parameter,
    missing_parameter,
    no_such,
    state_error,
)
from local.stripe_emulator.params import (
    EXPAND,
    Array,
    Boolean,
    Choice,
    Integer,
    Metadata,
    Obj,
    Text,
    Timestamp,
)
from local.stripe_emulator.store import Account, StripeObject, merge_metadata
from local.stripe_emulator.subscription_billing import (
    billed_until,
    charge_remaining,
    credit_unused,
    credit_unused_time,
    invoice_period,
    invoice_prorations_now,
)
from local.stripe_emulator.subscription_cancellation import (
    CANCEL_AT,
    CancellationRequest,
    apply_cancellation,
    plan_cancellation,
)
from local.stripe_emulator.subscriptions import (
    COLLECTION_METHODS,
    ENDED,
    MAX_ITEMS,
    PAYMENT_BEHAVIORS,
    PRORATION_BEHAVIORS,
    TRIAL_SETTINGS,
    check_collection,
    check_prices_fit_together,
    check_trial_end,
    current_period,
    cycle_of,
    end_now,
    items_of,
    new_item,
    next_period,
    plan_of,
    refresh_cancel_at,
    refuse_pending_if_incomplete,
    require_payable,
    set_period,
    usable_price,
)

FEEDBACK = ("customer_service", "low_quality", "missing_features", "other", "switched_service", "too_complex",
            "too_expensive", "unused")
ITEM_UPDATE = Obj({"id": Text(), "price": Text(), "quantity": Integer(minimum=0), "metadata": Metadata(),
                   "deleted": Boolean()})
CANCELLATION_DETAILS = Obj({"comment": Text(unsettable=True), "feedback": Choice(FEEDBACK, unsettable=True)})
SUBSCRIPTION_UPDATE = Obj({
    "items": Array(ITEM_UPDATE, max_items=MAX_ITEMS), "metadata": Metadata(),
    "description": Text(unsettable=True, max_length=500), "cancel_at_period_end": Boolean(),
    "proration_behavior": Choice(PRORATION_BEHAVIORS), "trial_end": Timestamp(words=("now",)),
    "collection_method": Choice(COLLECTION_METHODS), "days_until_due": Integer(minimum=0, maximum=1095),
    "default_payment_method": Text(), "payment_behavior": Choice(PAYMENT_BEHAVIORS),
    # In this API version an object: billing_cycle_anchor[type]=now (or unchanged).
    "billing_cycle_anchor": Obj({"type": Choice(("now", "unchanged"))}, required=("type",)),
    "cancellation_details": CANCELLATION_DETAILS, "cancel_at": CANCEL_AT, "proration_date": Timestamp(),
    "trial_settings": TRIAL_SETTINGS, "expand": EXPAND,
})
SUBSCRIPTION_CANCEL = Obj({"invoice_now": Boolean(), "prorate": Boolean(),
                           "cancellation_details": CANCELLATION_DETAILS, "expand": EXPAND})
# What Stripe still lets a canceled subscription change.
ENDED_UPDATABLE = {"metadata", "cancellation_details", "expand"}


# ----------------------------------------------------------------- update


@dataclass
class ItemChange:
    """One `items[n]` entry of an update, checked but not yet applied."""

    item: StripeObject | None  # None: a new item
    price: StripeObject | None  # None: keeps its price
    quantity: int | None
    metadata: dict[str, str] | None
    has_metadata: bool
    deleted: bool


def _plan_item_changes(account: Account, subscription: StripeObject, specs: list[dict[str, Any]]) -> list[ItemChange]:
    existing = {item["id"]: item for item in items_of(subscription)}
    changes = [_plan_item_change(account, existing, index, spec) for index, spec in enumerate(specs)]
    check_prices_fit_together(_prices_after(subscription, changes))
    return changes


def _prices_after(subscription: StripeObject, changes: list[ItemChange]) -> list[StripeObject]:
    """The subscription's prices once `changes` apply, which must still fit together."""
    by_item = {change.item["id"]: change for change in changes if change.item is not None}
    prices = []
    for item in items_of(subscription):
        change = by_item.get(item["id"])
        if change is None or not change.deleted:
            prices.append(change.price if change and change.price else item["price"])
    prices += [change.price for change in changes if change.item is None and change.price is not None]
    if not prices:
        raise invalid_parameter("items", "A subscription must have at least one active item.")
    return prices


def _plan_item_change(account: Account, existing: dict[str, StripeObject], index: int,
                      spec: dict[str, Any]) -> ItemChange:
    item = None
    if "id" in spec:
        item = existing.get(spec["id"])
        if item is None:
            raise no_such("subscription item", spec["id"], f"items[{index}][id]")
    elif spec.get("deleted"):
        raise missing_parameter(f"items[{index}][id]")
    elif "price" not in spec:
        raise missing_parameter(f"items[{index}][price]")
    price = usable_price(account, spec["price"], f"items[{index}][price]") if "price" in spec else None
    if item is not None and price is not None and price["id"] == item["price"]["id"]:
        price = None
    return ItemChange(item=item, price=price, quantity=spec.get("quantity"), metadata=spec.get("metadata"),
                      has_metadata="metadata" in spec, deleted=bool(spec.get("deleted")))


def _changes_cycle(subscription: StripeObject, changes: list[ItemChange]) -> bool:
    new_prices = [change.price for change in changes if change.price is not None and not change.deleted]
    current = cycle_of(items_of(subscription)[0]["price"])
    return any(cycle_of(price) != current for price in new_prices)


@dataclass
class UpdatePlan:
    """An update, checked in full before anything changes (a refused update changes nothing)."""

    changes: list[ItemChange]
    collection: tuple[str, int | None]  # collection_method, days_until_due
    trial_end: int | None  # a new trial end in the future
    resets_cycle: bool  # interval change, billing_cycle_anchor=now or trial_end=now: invoice now
    proration: str
    charge: bool  # collect what gets invoiced now (not with payment_behavior=default_incomplete)
    cancellation: CancellationRequest | None
    at: int  # the moment prorations are counted from: now, or the proration_date asked for


def update_subscription(account: Account, subscription_id: str, params: dict[str, Any]) -> StripeObject:
    subscription = account.get("subscription", subscription_id)
    if subscription["status"] in ENDED:
        return _update_ended(account, subscription, params)
    plan = _plan_update(account, subscription, params)
    before = copy.deepcopy(subscription)
    _apply_fields(subscription, params, plan.collection)
    _apply_plan(account, subscription, plan)
    refresh_cancel_at(subscription, account.now())
    account.emit_update("customer.subscription.updated", subscription, before)
    schedule_links.mirror_subscription(account, subscription)
    return subscription


def phase_changes(account: Account, subscription: StripeObject, phase_items: list[dict[str, Any]]) -> list[ItemChange]:
    """What makes the subscription's items a schedule phase's: an item keeps its id while its price
    stays (its quantity and metadata follow), a new price is a new item, the other items go."""
    by_price = {item["price"]["id"]: item for item in items_of(subscription)}
    changes = []
    for spec in phase_items:
        item = by_price.pop(spec["price"], None)
        price = None if item is not None else account.table("price")[spec["price"]]
        changes.append(ItemChange(item=item, price=price, quantity=spec["quantity"], metadata=spec["metadata"],
                                  has_metadata=bool(spec["metadata"]), deleted=False))
    changes += [ItemChange(item=item, price=None, quantity=None, metadata=None, has_metadata=False, deleted=True)
                for item in by_price.values()]
    return changes


def apply_phase(account: Account, subscription: StripeObject, changes: list[ItemChange], proration: str) -> None:
    """A schedule's phase takes effect: its items, prorated as it says, a new cycle if the interval changes.
    (Its prices were checked when the phase was set; one archived since still applies.)"""
    plan = UpdatePlan(changes=changes, collection=(subscription["collection_method"], subscription["days_until_due"]),
                      trial_end=None, resets_cycle=_changes_cycle(subscription, changes), proration=proration,
                      charge=True, cancellation=None, at=account.now())
    _apply_plan(account, subscription, plan)
    refresh_cancel_at(subscription, account.now())


def _plan_update(account: Account, subscription: StripeObject, params: dict[str, Any]) -> UpdatePlan:
    changes = _plan_item_changes(account, subscription, params.get("items") or [])
    collection = _collection_after(subscription, params)
    refuse_pending_if_incomplete(params)
    if params.get("default_payment_method"):
        payments.attached_method(account, params["default_payment_method"], subscription["customer"],
                                 "default_payment_method")
    trial_end = params.get("trial_end")
    if isinstance(trial_end, int):
        check_trial_end(trial_end, account.now())
        _check_trial_within_phase(account, subscription, trial_end)
    ends_trial = trial_end == "now" and subscription["status"] == "trialing"
    new_trial = isinstance(trial_end, int)
    if new_trial and _anchor_now(params):
        raise invalid_parameter("billing_cycle_anchor", "The billing cycle anchor cannot be earlier than the "
                                "trial end.", code="subscription_update_trial_after_billing_cycle_anchor")
    plan = UpdatePlan(
        changes=changes, collection=collection, trial_end=trial_end if new_trial else None,
        # A trial until a future date anchors the new cycle there: an interval change then bills nothing now.
        resets_cycle=ends_trial or (_changes_cycle(subscription, changes) and not new_trial) or _anchor_now(params),
        proration=params.get("proration_behavior", "create_prorations"),
        charge=params.get("payment_behavior") != "default_incomplete",
        cancellation=plan_cancellation(account, subscription, params),
        at=_proration_date(account, subscription, params))
    invoices_now = plan.resets_cycle or plan.proration == "always_invoice"
    if params.get("payment_behavior") == "error_if_incomplete" and invoices_now and \
            collection[0] == "charge_automatically":
        require_payable(account, subscription)
    return plan


def _check_trial_within_phase(account: Account, subscription: StripeObject, trial_end: int) -> None:
    """A schedule's phase says when it ends; a trial of its subscription must end within it."""
    schedule = schedule_links.managing_schedule(account, subscription)
    if schedule is not None and schedule["current_phase"] and trial_end > schedule["current_phase"]["end_date"]:
        raise invalid_parameter("trial_end", f"The subscription is managed by the subscription schedule "
                                             f"`{schedule['id']}`: its trial must end within the schedule's current "
                                             f"phase (by {schedule['current_phase']['end_date']}). Update the schedule "
                                             "instead.")


def _proration_date(account: Account, subscription: StripeObject, params: dict[str, Any]) -> int:
    """Prorations as though the update happened then: a moment of the current period, never the future."""
    now = account.now()
    if "proration_date" not in params:
        return now
    start, end = current_period(subscription)
    if not start <= params["proration_date"] <= min(now, end):
        raise invalid_parameter("proration_date", "proration_date must be within the current period of the "
                                                  f"subscription ({start} to {end}) and not in the future.")
    return int(params["proration_date"])


def _anchor_now(params: dict[str, Any]) -> bool:
    return bool((params.get("billing_cycle_anchor") or {}).get("type") == "now")


def _apply_plan(account: Account, subscription: StripeObject, plan: UpdatePlan) -> None:
    prorate = plan.proration != "none" and subscription["status"] != "trialing"
    if prorate and (plan.resets_cycle or plan.trial_end is not None):
        # The old items' unused time is credited; the new cycle (or trial) is billed on its own terms.
        credit_unused_time(account, subscription, plan.at)
    _apply_item_changes(account, subscription, plan.changes, plan.at, prorate=prorate and not plan.resets_cycle)
    if plan.resets_cycle:
        _reset_cycle(account, subscription, charge=plan.charge)
    elif plan.trial_end is not None:
        _set_trial(account, subscription, plan.trial_end)
    apply_cancellation(account, subscription, plan.cancellation, prorate=prorate)
    if plan.proration == "always_invoice" and not plan.resets_cycle and plan.trial_end is None:
        invoice_prorations_now(account, subscription, charge=plan.charge)


def _update_ended(account: Account, subscription: StripeObject, params: dict[str, Any]) -> StripeObject:
    if set(params) - ENDED_UPDATABLE:
        raise state_error("A canceled subscription can only update its cancellation_details and metadata.")
    before = copy.deepcopy(subscription)
    _apply_fields(subscription, params, (subscription["collection_method"], subscription["days_until_due"]))
    account.emit_update("customer.subscription.updated", subscription, before)
    return subscription


def _collection_after(subscription: StripeObject, params: dict[str, Any]) -> tuple[str, int | None]:
    method = str(params.get("collection_method", subscription["collection_method"]))
    if "days_until_due" in params:
        days = params["days_until_due"]
    else:
        # Switching to charge_automatically drops days_until_due, as Stripe does.
        days = subscription["days_until_due"] if method == "send_invoice" else None
    check_collection(method, days)
    return method, days


def _apply_fields(subscription: StripeObject, params: dict[str, Any], collection: tuple[str, int | None]) -> None:
    subscription["collection_method"], subscription["days_until_due"] = collection
    if "metadata" in params:
        subscription["metadata"] = merge_metadata(subscription["metadata"], params["metadata"])
    for key in ("description", "default_payment_method"):
        if key in params:
            subscription[key] = params[key]
    details = params.get("cancellation_details") or {}
    subscription["cancellation_details"].update(details)
    if "trial_settings" in params:
        subscription["trial_settings"]["end_behavior"]["missing_payment_method"] = (
            params["trial_settings"]["end_behavior"]["missing_payment_method"])


def _apply_item_changes(account: Account, subscription: StripeObject, changes: list[ItemChange], at: int, *,
                        prorate: bool) -> None:
    """Prorations cover what is left of the period from `at` to what has been paid for."""
    items = items_of(subscription)
    period = current_period(subscription)
    span = (at, billed_until(account, subscription))
    for change in changes:
        if change.item is not None and change.deleted:
            items.remove(change.item)
            if prorate:
                credit_unused(account, subscription, change.item, period, span)
        elif change.item is not None:
            _change_item(account, subscription, change.item, change, period, span, prorate=prorate)
        elif change.price is not None:  # a new item (planning made sure it names a price)
            item = new_item(account, subscription["id"], change.price,
                            1 if change.quantity is None else change.quantity, change.metadata or {}, period)
            items.append(item)
            if prorate:
                charge_remaining(account, subscription, item, period, span)


def _change_item(account: Account, subscription: StripeObject, item: StripeObject, change: ItemChange,
                 period: tuple[int, int], span: tuple[int, int], *, prorate: bool) -> None:
    old = copy.copy(item)
    if change.price is not None:
        item["price"], item["plan"] = change.price, plan_of(change.price)
    if change.quantity is not None:
        item["quantity"] = change.quantity
    if change.has_metadata:
        item["metadata"] = merge_metadata(item["metadata"], change.metadata)
    if prorate and (item["price"] is not old["price"] or item["quantity"] != old["quantity"]):
        credit_unused(account, subscription, old, period, span)
        charge_remaining(account, subscription, item, period, span)


def _reset_cycle(account: Account, subscription: StripeObject, *, charge: bool) -> None:
    """A new cycle from now (interval change, trial_end=now, billing_cycle_anchor=now), invoiced at once."""
    at = account.now()
    if subscription["status"] == "trialing":
        subscription.update(status="active", trial_end=at)
    subscription["billing_cycle_anchor"] = at
    set_period(subscription, next_period(subscription, at))
    invoice_period(account, subscription, reason="subscription_update", charge=charge, closes=(at, at))


def _set_trial(account: Account, subscription: StripeObject, trial_end: int) -> None:
    """trial_end in the future: a trial until then (from now if there was none); the cycle restarts there."""
    at = account.now()
    if subscription["status"] != "trialing":
        subscription.update(status="trialing", trial_start=at)
        set_period(subscription, (at, trial_end))
    else:
        for item in items_of(subscription):
            item["current_period_end"] = trial_end
    subscription.update(trial_end=trial_end, billing_cycle_anchor=trial_end)


# ----------------------------------------------------------------- cancel


def cancel_subscription(account: Account, subscription_id: str, params: dict[str, Any]) -> StripeObject:
    subscription = account.find("subscription", subscription_id)
    if subscription is None or subscription["status"] in ENDED:
        # Stripe treats an ended subscription as gone for this call.
        raise no_such("subscription", subscription_id)
    end_subscription_now(account, subscription, prorate=bool(params.get("prorate")),
                         invoice_now=bool(params.get("invoice_now")), details=params.get("cancellation_details"))
    return subscription


def end_subscription_now(account: Account, subscription: StripeObject, *, prorate: bool, invoice_now: bool,
                         details: dict[str, Any] | None = None) -> None:
    """End it now: `prorate` credits its unused time, `invoice_now` invoices what is pending (a negative
    total becomes customer credit)."""
    if prorate and subscription["status"] != "trialing":
        credit_unused_time(account, subscription, account.now())
    if invoice_now:
        invoice_prorations_now(account, subscription, charge=True)
    end_now(account, subscription, details)
