"""Paused subscriptions and resuming them.

On Stripe a subscription enters status=paused one way only: its trial ends
without a payment method while trial_settings.end_behavior.missing_payment_method
is `pause` (renewals.py; customer.subscription.paused, then .updated). It then
makes no invoices and has no renewals until POST /v1/subscriptions/{id}/resume:

- billing_cycle_anchor[type]=now (the default): a new period from now, invoiced now
  (the resumption invoice, finalized at once);
- billing_cycle_anchor[type]=unchanged: the period around now on the old anchor, the
  rest of it prorated as proration_behavior says (create_prorations, the default:
  pending until the next invoice; always_invoice: a resumption invoice now; none).

Without a resumption invoice the subscription is active at once. With one, the
payment is attempted in the request: paid, it is active; declined, it is past_due
with payment_behavior=resume_on_payment_attempt (the default), and still paused
with resume_on_payment_success until the invoice is paid or marked uncollectible
(a voided one leaves it paused; one left unpaid for 23 hours is voided). Leaving
paused sends customer.subscription.resumed, then customer.subscription.updated.

Not emulated: the (preview) pause endpoint, POST /v1/subscriptions/{id}/pause.
"""

from __future__ import annotations

import copy
from typing import Any

from local.stripe_emulator import invoices, subscription_billing
from local.stripe_emulator.clock import add_intervals, next_period_end
from local.stripe_emulator.errors import invalid_parameter, state_error
from local.stripe_emulator.params import EXPAND, Choice, Obj, Timestamp
from local.stripe_emulator.store import Account, StripeObject
from local.stripe_emulator.subscriptions import PRORATION_BEHAVIORS, cycle_of, items_of, next_period, set_period

RESUME_PAYMENT_BEHAVIORS = ("resume_on_payment_attempt", "resume_on_payment_success")
SUBSCRIPTION_RESUME = Obj({
    "billing_cycle_anchor": Obj({"type": Choice(("now", "unchanged"))}, required=("type",)),
    "payment_behavior": Choice(RESUME_PAYMENT_BEHAVIORS), "proration_behavior": Choice(PRORATION_BEHAVIORS),
    "proration_date": Timestamp(), "expand": EXPAND,
})
# An unpaid resumption invoice is voided after this long, and the subscription stays paused.
RESUMPTION_INVOICE_EXPIRES_AFTER = 23 * 3600
_RESUMPTION = "resumption_invoice"  # the subscription's private bookkeeping


def resume_subscription(account: Account, subscription_id: str, params: dict[str, Any]) -> StripeObject:
    subscription = account.get("subscription", subscription_id)
    if subscription["status"] != "paused":
        raise state_error(f"Only a paused subscription can be resumed; subscription {subscription_id} is "
                          f"{subscription['status']}.")
    if subscription["collection_method"] != "charge_automatically":
        raise state_error("Resume is only available for subscriptions that use charge_automatically collection.")
    now = account.now()
    at = _proration_date(params, now)
    before = copy.deepcopy(subscription)
    anchor = (params.get("billing_cycle_anchor") or {}).get("type", "now")
    invoice = (_resume_now(account, subscription, now) if anchor == "now"
               else _resume_unchanged(account, subscription, now, at, params.get("proration_behavior",
                                                                                 "create_prorations")))
    if invoice is None or invoice["status"] == "paid":
        subscription["status"] = "active"
    elif params.get("payment_behavior", "resume_on_payment_attempt") == "resume_on_payment_success":
        subscription["status"] = "paused"
        account.private_of(subscription["id"])[_RESUMPTION] = invoice["id"]
    else:
        subscription["status"] = "past_due"
    if subscription["status"] != "paused":
        subscription_billing.announce_resumed(account, subscription, before)
    else:
        account.emit_update("customer.subscription.updated", subscription, before)
    return subscription


def _proration_date(params: dict[str, Any], now: int) -> int:
    at = int(params.get("proration_date", now))
    if at > now:
        raise invalid_parameter("proration_date", "proration_date cannot be in the future.")
    return at


def _resume_now(account: Account, subscription: StripeObject, now: int) -> StripeObject:
    """A new cycle from now, invoiced and charged now."""
    subscription["billing_cycle_anchor"] = now
    set_period(subscription, next_period(subscription, now))
    return subscription_billing.invoice_period(account, subscription, reason="subscription_update", charge=True,
                                               closes=(now, now))


def _resume_unchanged(account: Account, subscription: StripeObject, now: int, at: int,
                      proration: str) -> StripeObject | None:
    """The period around now on the old anchor; its rest prorated (an invoice now only with always_invoice)."""
    interval, count = cycle_of(items_of(subscription)[0]["price"])
    end = next_period_end(subscription["billing_cycle_anchor"], interval, count, now)
    start = _period_start(subscription["billing_cycle_anchor"], interval, count, end)
    set_period(subscription, (start, end))
    if proration == "none":
        return None
    for item in items_of(subscription):
        subscription_billing.charge_remaining(account, subscription, item, (start, end), (at, end))
    if proration != "always_invoice":
        return None
    latest = subscription["latest_invoice"]
    subscription_billing.invoice_prorations_now(account, subscription, charge=True)
    if subscription["latest_invoice"] == latest:
        return None  # nothing to prorate
    return account.table("invoice")[subscription["latest_invoice"]]


def _period_start(anchor: int, interval: str, count: int, end: int) -> int:
    """The billing date before `end` on the cycle anchored at `anchor` (counted from the anchor, as
    next_period_end counts)."""
    start, periods = anchor, 1
    while (following := add_intervals(anchor, interval, periods * count)) < end:
        start, periods = following, periods + 1
    return start


def resumption_expires_at(account: Account, subscription: StripeObject) -> int | None:
    """When the open resumption invoice of a paused subscription is voided, if it has one."""
    invoice = _open_resumption_invoice(account, subscription)
    return None if invoice is None else int(invoice["created"]) + RESUMPTION_INVOICE_EXPIRES_AFTER


def expire_resumption(account: Account, subscription: StripeObject) -> None:
    invoice = _open_resumption_invoice(account, subscription)
    account.private_of(subscription["id"]).pop(_RESUMPTION, None)
    if invoice is not None:
        invoices.void(account, invoice)


def _open_resumption_invoice(account: Account, subscription: StripeObject) -> StripeObject | None:
    invoice_id = account.private_of(subscription["id"]).get(_RESUMPTION)
    invoice = account.find("invoice", invoice_id) if invoice_id else None
    if invoice is None or invoice["status"] != "open" or subscription["latest_invoice"] != invoice["id"]:
        return None
    return invoice
