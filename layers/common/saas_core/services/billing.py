"""The owner's billing details (seed 003 §9): the Stripe customer and subscription the tenant
bills through, the email Stripe sends invoices to, and the currency.

A Stripe id given must name an object of the tenant's own Stripe account that carries this
tenant's id in its metadata (a customer of another tenant, or of nobody, is refused: an
owner cannot attach someone else's billing). The email is written to the Stripe customer;
the currency must be one Stripe charges in and the one the plan is priced in. Anything
refused changes nothing; a new customer or subscription is then read from Stripe, as an
event would (`stripe_sync`).
"""

from __future__ import annotations

from saas_core import stripe_gateway
from saas_core.access import Principal
from saas_core.errors import BadRequest, InvalidInput
from saas_core.models.plans import Plan
from saas_core.models.tenants import BillingIn, BillingInfoOut, Tenant
from saas_core.money import STRIPE_CURRENCIES
from saas_core.repositories import plans, tenants
from saas_core.services import stripe_sync


def _check_currency(currency: str, plan: Plan) -> None:
    if currency not in STRIPE_CURRENCIES:
        raise BadRequest(f"{currency.upper()} is not a currency Stripe charges in")
    if currency != plan.currency:
        raise BadRequest(f"The {plan.name} plan is priced in {plan.currency.upper()}, not {currency.upper()}")


def _owned(found: stripe_gateway.OwnedObject | None, kind: str, given: str, tenant: Tenant) -> str:
    if found is None:
        raise BadRequest(f"No {kind} {given} in this tenant's Stripe account ({tenant.stripe_account})")
    if found.ended:
        raise BadRequest(f"The {kind} {given} is {'deleted' if kind == 'customer' else 'canceled'} in Stripe")
    if found.tenant_id != tenant.id:
        raise BadRequest(f"The {kind} {given} does not carry this tenant's id in its Stripe metadata")
    return found.id


def _customer(tenant: Tenant, given: str | None) -> str | None:
    if given is None or given == tenant.stripe_customer_id:
        return tenant.stripe_customer_id
    return _owned(stripe_gateway.find_customer_by_id(tenant.stripe_account, given), "customer", given, tenant)


def _subscription(tenant: Tenant, given: str | None, customer_id: str | None) -> str | None:
    current = tenant.subscription.id if tenant.subscription else None
    if given is None or given == current:
        return current
    found = stripe_gateway.find_subscription_by_id(tenant.stripe_account, given)
    subscription_id = _owned(found, "subscription", given, tenant)
    if found is not None and found.customer_id != customer_id:
        raise BadRequest(f"The subscription {given} bills customer {found.customer_id}, not {customer_id}")
    return subscription_id


def update_billing(tenant_id: str, data: BillingIn, actor: Principal) -> BillingInfoOut:
    if not any(value is not None for value in data.model_dump().values()):
        raise InvalidInput("The given data was invalid", {"body": ["give at least one billing field"]})
    before = tenants.require(tenant_id)
    if data.billing_currency is not None:
        _check_currency(data.billing_currency, plans.require(before.plan_id))
    customer_id = _customer(before, data.stripe_customer_id)
    subscription_id = _subscription(before, data.stripe_subscription_id, customer_id)
    if data.billing_email is not None and customer_id is not None:
        stripe_gateway.set_customer_email(before.stripe_account, customer_id, data.billing_email)
    after = before.changed(
        stripe_customer_id=customer_id,
        billing_email=data.billing_email if data.billing_email is not None else before.billing_email,
        billing_currency=data.billing_currency or before.billing_currency)
    moved = customer_id != before.stripe_customer_id
    pointers = tenants.customer_pointer_writes(tenant_id, before.stripe_customer_id, customer_id) \
        if moved and customer_id is not None else []
    tenants.save(tenants.TenantChange(before, after, actor, "tenant.billing_updated", extra=tuple(pointers)))
    current = before.subscription.id if before.subscription else None
    if moved or subscription_id != current:
        _follow_stripe(tenant_id)
    return _answer(tenants.require(tenant_id))


def _follow_stripe(tenant_id: str) -> None:
    """A newly given customer or subscription: the tenant as Stripe has it, as an event would bring it."""
    comparison = stripe_sync.compare(tenants.require(tenant_id))
    if comparison is not None:
        stripe_sync.repair(comparison, reason="billing details given by the owner")


def _answer(tenant: Tenant) -> BillingInfoOut:
    plan = plans.get(tenant.plan_id)
    return BillingInfoOut(tenant_id=tenant.id, stripe_customer_id=tenant.stripe_customer_id,
                          stripe_subscription_id=tenant.subscription.id if tenant.subscription else None,
                          billing_email=tenant.billing_email or tenant.email,
                          billing_currency=(tenant.billing_currency or (plan.currency if plan else "usd")).upper())
