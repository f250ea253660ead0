"""POST /v1/invoices/create_preview: the invoice Stripe would make next for a customer, a
subscription or a subscription schedule, with proposed changes applied, and nothing changed.

A preview runs the emulator's own code on a copy of the customer's objects: the proposed
change is made there as the real update makes it (and refused as the update would refuse
it), then time runs forward on the copy (renewals, phase changes, trial ends) until the
next invoice is made. That invoice, as it was made (a draft), is the preview; so a preview
equals, to the cent, what the update then invoices when nothing else changes meanwhile.

- `subscription_details` with `proration_behavior=always_invoice` (or a change that starts
  a new cycle) previews the invoice made at once: the prorations;
- with `create_prorations` or `none`, the next renewal's invoice: the pending prorations
  and the next period at the new prices;
- `subscription_details.items` without `subscription`: the first invoice of a new one;
- `schedule` (with `schedule_details`): the next invoice of the schedule's subscription.

The preview has an id prefixed `upcoming_in_` that retrieves nothing, `billing_reason`
`upcoming`, lines with `il_tmp_` ids, and the customer's credit balance applied.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from local.stripe_emulator import renewals, schedule_links
from local.stripe_emulator.clock import DAY
from local.stripe_emulator.errors import (
    StripeApiError,
    exclusive_parameters,
    invalid_parameter,
    missing_parameter,
)
from local.stripe_emulator.params import EXPAND, Array, Boolean, Choice, Obj, Text, Timestamp
from local.stripe_emulator.store import Account, RequestContext, StripeObject, new_id
from local.stripe_emulator.subscription_cancellation import CANCEL_AT
from local.stripe_emulator.subscription_changes import ITEM_UPDATE, update_subscription
from local.stripe_emulator.subscription_schedules import END_BEHAVIORS, PHASE, update_schedule
from local.stripe_emulator.subscriptions import ENDED, MAX_ITEMS, PRORATION_BEHAVIORS, create_subscription

SUBSCRIPTION_DETAILS = Obj({
    "items": Array(ITEM_UPDATE, max_items=MAX_ITEMS), "proration_behavior": Choice(PRORATION_BEHAVIORS),
    "proration_date": Timestamp(), "trial_end": Timestamp(words=("now",)), "cancel_at_period_end": Boolean(),
    "cancel_at": CANCEL_AT, "billing_cycle_anchor": Obj({"type": Choice(("now", "unchanged"))}, required=("type",)),
})
SCHEDULE_DETAILS = Obj({"phases": Array(PHASE), "end_behavior": Choice(END_BEHAVIORS),
                        "proration_behavior": Choice(PRORATION_BEHAVIORS)})
INVOICE_PREVIEW = Obj({
    "customer": Text(), "subscription": Text(), "subscription_details": SUBSCRIPTION_DETAILS, "schedule": Text(),
    "schedule_details": SCHEDULE_DETAILS, "expand": EXPAND,
})
SCHEDULE = schedule_links.KIND
# What a customer owns, copied with it; the catalog and test clocks are copied whole.
_OWNED = ("subscription", SCHEDULE, "invoice", "invoiceitem", "payment_method")
_SHARED = ("product", "price", "test_helpers.test_clock")
# How far ahead a preview looks for the next invoice: beyond the longest interval (three years).
_HORIZON = 4 * 366 * DAY
# What a new subscription's preview may propose (the rest needs an existing subscription).
_NEW_SUBSCRIPTION_DETAILS = {"items", "trial_end", "proration_behavior"}


def create_preview(account: Account, params: dict[str, Any]) -> StripeObject:
    _check_combination(params)
    customer_id, subscription_id = _whose(account, params)
    copied = _copy_of_customer(account, customer_id)
    watched = _propose(copied, customer_id, subscription_id, params)
    made = _invoice_made(copied) or _next_invoice(copied, watched)
    if made is None:
        raise StripeApiError(404, f"No upcoming invoices for customer: {customer_id}", code="invoice_upcoming_none")
    return _as_preview(account, made, params)


def _check_combination(params: dict[str, Any]) -> None:
    details = params.get("subscription_details") or {}
    if {"schedule", "schedule_details"} & set(params) and {"subscription", "subscription_details"} & set(params):
        raise exclusive_parameters("subscription", "schedule")
    if "schedule_details" in params and "schedule" not in params:
        raise invalid_parameter("schedule", "The emulator previews schedule_details for an existing schedule only.")
    if "proration_date" in details:
        if "subscription" not in params or not {"items", "trial_end"} & set(details):
            raise invalid_parameter("subscription_details[proration_date]", "proration_date needs a subscription "
                                                                            "and items or trial_end.")
        if details.get("proration_behavior") == "none":
            raise invalid_parameter("subscription_details[proration_date]", "proration_date cannot be used with "
                                                                            "proration_behavior=none.")


def _whose(account: Account, params: dict[str, Any]) -> tuple[str, str | None]:
    """The customer previewed, and the subscription (of the schedule) if one is named."""
    if "schedule" in params:
        schedule = account.get(SCHEDULE, params["schedule"], param="schedule", label="subscription schedule")
        managing = schedule["status"] in schedule_links.LIVE
        owner, subscription_id = schedule["customer"], schedule["subscription"] if managing else None
    elif "subscription" in params:
        subscription = account.get("subscription", params["subscription"], param="subscription")
        owner, subscription_id = subscription["customer"], subscription["id"]
    elif "customer" in params:
        owner, subscription_id = account.get("customer", params["customer"], param="customer")["id"], None
    else:
        raise missing_parameter("customer")
    if params.get("customer", owner) != owner:
        raise invalid_parameter("customer", f"The customer `{params['customer']}` does not own what is previewed "
                                            f"(its customer is `{owner}`).")
    return owner, subscription_id


def _propose(copied: Account, customer_id: str, subscription_id: str | None,
             params: dict[str, Any]) -> list[StripeObject]:
    """Make the proposed change on the copy; the subscriptions whose next invoice is looked for."""
    details = params.get("subscription_details")
    if subscription_id is None and "schedule" in params:
        return []  # a schedule that manages nothing any more
    if subscription_id is None and details and "items" in details:
        return [_within("subscription_details", lambda: _new_subscription(copied, customer_id, details))]
    if subscription_id is None:
        return [subscription for subscription in copied.table("subscription").values()
                if subscription["status"] not in ENDED]
    subscription = copied.table("subscription")[subscription_id]
    if subscription["status"] in ENDED:
        return []
    if details:
        _within("subscription_details", lambda: update_subscription(copied, subscription_id, details))
    if params.get("schedule_details"):
        _within("schedule_details", lambda: update_schedule(copied, params["schedule"], params["schedule_details"]))
    return [subscription]


def _new_subscription(copied: Account, customer_id: str, details: dict[str, Any]) -> StripeObject:
    unsupported = sorted(set(details) - _NEW_SUBSCRIPTION_DETAILS)
    if unsupported:
        raise invalid_parameter(unsupported[0], f"The emulator previews {unsupported[0]} for an existing "
                                                "subscription only.")
    for index, item in enumerate(details["items"]):
        if "id" in item or item.get("deleted"):
            raise invalid_parameter(f"items[{index}][id]", "A new subscription has no items to change yet.")
    create: dict[str, Any] = {name: details[name] for name in ("trial_end", "proration_behavior") if name in details}
    create.update(customer=customer_id, items=[
        {key: value for key, value in item.items() if key in ("price", "quantity", "metadata")}
        for item in details["items"]])
    return create_subscription(copied, create)


def _within(prefix: str, change: Callable[[], StripeObject]) -> StripeObject:
    """Run the real update; its errors name their parameter inside `prefix` (`subscription_details[items]`)."""
    try:
        return change()
    except StripeApiError as error:
        if error.param:
            head, bracket, rest = error.param.partition("[")
            error.param = f"{prefix}[{head}]{bracket}{rest}"
        raise


def _copy_of_customer(account: Account, customer_id: str) -> Account:
    """A throwaway account holding a copy of the customer, what it owns and the catalog: nothing done
    to it reaches the real objects, and its events go nowhere."""
    tables = {kind: dict(account.table(kind)) for kind in _SHARED}
    tables["customer"] = {customer_id: account.table("customer")[customer_id]}
    for kind in _OWNED:
        tables[kind] = {object_id: obj for object_id, obj in account.table(kind).items()
                        if obj.get("customer") == customer_id}
    ids = {object_id for table in tables.values() for object_id in table}
    private = {object_id: account.private[object_id] for object_id in ids if object_id in account.private}
    # One deepcopy, so what refers to a price (items, pending invoice items) refers to the copied one.
    copied_tables, copied_private = copy.deepcopy((tables, private))
    return Account(livemode=account.livemode, clock=account.clock, context=RequestContext(),
                   deliver=lambda target, event, redelivery: None, run_later=lambda seconds, job: None,
                   tables=copied_tables, private=copied_private)


def _invoice_made(copied: Account) -> StripeObject | None:
    """The first invoice made on the copy, as it was made (the snapshot its invoice.created event holds)."""
    for event in copied.table("event").values():
        if event["type"] == "invoice.created":
            invoice: StripeObject = event["data"]["object"]
            return invoice
    return None


def _next_invoice(copied: Account, watched: list[StripeObject]) -> StripeObject | None:
    now = copied.now()
    renewals.run_due(copied, watched, until=now + _HORIZON, not_before=now,
                     stop=lambda: _invoice_made(copied) is not None)
    return _invoice_made(copied)


def _as_preview(account: Account, made: StripeObject, params: dict[str, Any]) -> StripeObject:
    preview = copy.deepcopy(made)
    preview.update(id=new_id("upcoming_in"), billing_reason="upcoming")
    preview["lines"]["url"] = f"/v1/invoices/{preview['id']}/lines"
    for line in preview["lines"]["data"]:
        line.update(id=new_id("il_tmp"), invoice=preview["id"])
        details = line["parent"]["subscription_item_details"]
        if details["invoice_item"] and account.find("invoiceitem", details["invoice_item"]) is None:
            details["invoice_item"] = None  # a proration the preview proposes: no invoice item exists for it
    _apply_balance(preview, account.table("customer")[preview["customer"]].get("balance", 0))
    if params.get("subscription_details") and any(
            line["parent"]["subscription_item_details"]["proration"] for line in preview["lines"]["data"]):
        preview["parent"]["subscription_details"]["subscription_proration_date"] = (
            params["subscription_details"].get("proration_date", account.now()))
    return preview


def _apply_balance(preview: StripeObject, balance: int) -> None:
    """The customer's credit (a negative balance) is what the invoice would use first."""
    due = max(preview["total"] + balance, 0)
    preview.update(starting_balance=balance, amount_due=due, amount_remaining=due)
