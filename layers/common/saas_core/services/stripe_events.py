"""Applying Stripe's events to tenants, exactly once in effect, whatever the order.

An event only says *which* tenant to look at: the worker reads the customer's
billing from Stripe as it is now and brings the tenant in step with it
(`stripe_sync`), so a duplicate changes nothing the second time and an older
event delivered after a newer one finds Stripe's newer state. What an event
adds beyond state is written once by a conditional write: a paid invoice's
revenue ledger entry. Anything that fails (Stripe, DynamoDB, a tenant held by
an admin's change) raises, and the message comes back later from the queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools import Logger

from saas_core.repositories import plans, revenue, tenants
from saas_core.services import stripe_sync
from saas_core.stripe_state import paid_invoice
from saas_core.stripe_webhooks import FOLLOWED_EVENT_TYPES, QueuedEvent

logger = Logger(child=True)

# The events the product follows (template's webhook endpoint subscribes to these).


@dataclass(frozen=True)
class Outcome:
    event_id: str
    result: str  # applied | unchanged | ignored
    why: str = ""


def apply(event: QueuedEvent) -> Outcome:
    if event.type not in FOLLOWED_EVENT_TYPES:
        return _ignored(event, f"{event.type} is not followed")
    if event.customer_id is None:
        return _ignored(event, "the event names no customer")
    tenant_id = tenants.tenant_of_customer(event.customer_id)
    if tenant_id is None:
        return _ignored(event, "the customer is not one of ours")
    tenant = tenants.get(tenant_id)
    if tenant is None:
        return _ignored(event, "the tenant is deleted")
    if tenant.stripe_account != event.account or tenant.stripe_customer_id != event.customer_id:
        return _ignored(event, "the tenant bills through another Stripe account or customer")
    reason = f"Stripe event {event.type} {event.id}"
    comparison = stripe_sync.compare(tenant)
    changed = comparison is not None and stripe_sync.repair(comparison, reason=reason)
    if event.type == "invoice.paid":
        changed = _record_revenue(tenant_id, event, reason) or changed
    return Outcome(event.id, "applied" if changed else "unchanged")


def _ignored(event: QueuedEvent, why: str) -> Outcome:
    logger.info("Stripe event ignored", extra={"event_id": event.id, "type": event.type, "why": why,
                                               "customer_id": event.customer_id})
    return Outcome(event.id, "ignored", why)


def _record_revenue(tenant_id: str, event: QueuedEvent, reason: str) -> bool:
    """The paid invoice in the revenue ledger and aggregates, once (a conditional put)."""
    tenant = tenants.require(tenant_id)  # as just brought in step: its plan is the one paid for
    invoice = paid_invoice(tenant.stripe_account, event.object_id)
    if invoice is None or invoice.amount_paid == 0:
        return False  # not paid (yet), or nothing paid (a trial's first invoice): no revenue
    plan = plans.get(tenant.plan_id)
    payment = revenue.Payment(tenant_id=tenant_id, invoice_id=invoice.id, amount_minor=invoice.amount_paid,
                              currency=invoice.currency, plan_id=tenant.plan_id,
                              tier=plan.tier if plan else "unknown", paid_at=invoice.paid_at)
    return revenue.record(payment, stripe_sync.STRIPE, reason)
