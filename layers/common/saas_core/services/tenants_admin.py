"""Tenant administration (seed 002 tenant management, seed 000 workspaces)."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger

from saas_core import stripe_gateway, telemetry
from saas_core.access import Principal, Role
from saas_core.clock import from_unix, iso, utc_now
from saas_core.errors import AppError, Conflict, InvalidInput, NotEligible, StripeUnavailable
from saas_core.ids import new_id
from saas_core.models.plans import Plan
from saas_core.models.tenants import Member, Subscription, Tenant, TenantIn, TenantOut, TenantStatus
from saas_core.repositories import plans, tenants
from saas_core.services import tenant_views
from saas_core.services.catalog import plan_ref

logger = Logger(child=True)


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput("The given data was invalid", {field: [message]})


def _plan_for(data: TenantIn) -> Plan:
    plan = plans.get(data.plan_id)
    if plan is None:
        raise _invalid("plan_id", "no plan has this id")
    if plan.type is not data.type:
        raise _invalid("plan_id", f"this plan is for {plan.type.value} tenants")
    if not plan.is_active:
        raise NotEligible(f"Plan {plan.id} is not active")
    return plan


def create_tenant(data: TenantIn, actor: Principal, idempotency_key: str | None) -> TenantOut:
    """The tenant, its owner, its Stripe customer and its subscription (with the plan's trial)."""
    plan = _plan_for(data)
    if data.subdomain_preference and tenants.subdomain_taken(data.subdomain_preference):
        raise Conflict(f"Subdomain '{data.subdomain_preference}' is already taken")
    now = iso(utc_now())
    tenant = Tenant(
        id=new_id("tnt", principal=actor, idempotency_key=idempotency_key), name=data.name, email=data.email,
        phone=data.phone, type=data.type, status=TenantStatus.ACTIVE,
        subdomain_preference=data.subdomain_preference, plan_id=plan.id, billing_cycle=data.billing_cycle,
        chargeable=data.chargeable, members_count=1, subscriptions_count=1, created_at=now, updated_at=now,
    )
    existing = tenants.get(tenant.id)
    if existing is not None:
        # A retry of a create that already landed.
        return tenant_views.tenant_details(existing.id)
    owner = Member(tenant_id=tenant.id, email=data.owner_email or data.email, user_id=data.owner_user_id,
                   role=Role.OWNER, joined_at=now)
    # With an Idempotency-Key the caller will retry with the same key, which
    # replays the Stripe calls onto the same customer: keep it. Without one,
    # nothing could ever find it again, so a failure deletes it.
    undo = _undo_customer if idempotency_key is None else _keep_for_retry
    tenant = _subscribe_in_stripe(tenant, plan, undo)
    try:
        tenants.create(tenant, owner, actor, plans.count_subscription(plan.id, +1))
    except Conflict:
        if _already_landed(tenant):
            return tenant_views.tenant_details(tenant.id)
        undo(tenant)
        raise
    except AppError:
        undo(tenant)
        raise
    telemetry.count("TenantCreated", tenant_type=tenant.type.value, stripe_account=tenant.stripe_account)
    history = [tenant.subscription] if tenant.subscription else []
    return tenant_views.details_of(tenant, [owner], history, {plan.id: plan_ref(plan)})


def _already_landed(tenant: Tenant) -> bool:
    """A retried write whose first attempt committed (say, a timeout after
    success) conflicts with itself: the stored tenant is this very one."""
    stored = tenants.get(tenant.id)
    return stored is not None and stored.stripe_customer_id == tenant.stripe_customer_id


def _subscribe_in_stripe(tenant: Tenant, plan: Plan, undo: Callable[[Tenant], None]) -> Tenant:
    if tenant.stripe_account not in plan.stripe:
        raise NotEligible(f"Plan {plan.id} has no prices in the {tenant.stripe_account} Stripe account")
    tenant = tenant.model_copy(update={"stripe_customer_id": stripe_gateway.create_customer(tenant)})
    try:
        created = stripe_gateway.create_subscription(tenant, plan, tenant.billing_cycle)
    except StripeUnavailable:
        undo(tenant)
        raise
    subscription = Subscription(
        id=created.id, plan_id=plan.id, plan_version=plan.plan_version, price_id=created.price_id,
        billing_cycle=tenant.billing_cycle, status=created.status, starts_at=iso(from_unix(created.start_date)),
        trial_ends_at=iso(from_unix(created.trial_end)) if created.trial_end else None,
        current_period_start=iso(from_unix(created.current_period_start)),
        current_period_end=iso(from_unix(created.current_period_end)), created_at=tenant.created_at,
    )
    return tenant.model_copy(update={"subscription": subscription})


def _keep_for_retry(tenant: Tenant) -> None:
    logger.info("kept Stripe customer for a retry with the same Idempotency-Key",
                extra={"tenant_id": tenant.id, "customer": tenant.stripe_customer_id})


def _undo_customer(tenant: Tenant) -> None:
    """Best effort: deleting the customer also cancels its subscriptions."""
    if tenant.stripe_customer_id is None:
        return
    try:
        stripe_gateway.delete_customer(tenant.stripe_account, tenant.stripe_customer_id)
    except StripeUnavailable:
        logger.warning("could not delete Stripe customer after a failed create",
                       extra={"tenant_id": tenant.id, "customer": tenant.stripe_customer_id})
