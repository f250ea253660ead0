"""Tenant administration (seed 002 tenant management, seed 000 workspaces).

Creating a tenant touches Stripe and DynamoDB, so it runs in three steps
(`repositories.tenants`): reserve locally, then Stripe, then activate. No
outcome leaves a Stripe customer that no local record points to: a failure
deletes the customer (which cancels its subscription) and releases the
reservation; if Stripe cannot be reached for that, the reservation stays,
marked failed, naming the customer, until a retry of the same request
resumes it or a create that needs its subdomain clears it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from saas_core import deadline, stripe_gateway, telemetry
from saas_core.access import Principal, Role
from saas_core.clock import from_unix, iso, utc_now
from saas_core.errors import Conflict, InvalidInput, NotEligible, StripeUnavailable
from saas_core.ids import attempt_id, new_id
from saas_core.models.plans import Plan
from saas_core.models.tenants import Member, SubscribedPlan, Subscription, Tenant, TenantIn, TenantOut, TenantStatus
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
    if plan.is_archived:
        raise NotEligible(f"Plan {plan.id} is archived and takes no new tenants")
    return plan


def _new_tenant(tenant_id: str, data: TenantIn, plan: Plan) -> Tenant:
    now = iso(utc_now())
    return Tenant(
        id=tenant_id, name=data.name, email=data.email,
        phone=data.phone, type=data.type, status=TenantStatus.ACTIVE,
        subdomain_preference=data.subdomain_preference, plan_id=plan.id, billing_cycle=data.billing_cycle,
        chargeable=data.chargeable, members_count=1, subscriptions_count=1, created_at=now, updated_at=now,
    )


@dataclass
class _Attempt:
    """One attempt at creating a tenant, and how far into Stripe it got."""

    id: str
    resumed: bool  # an earlier attempt may have made Stripe objects: look before creating
    customer_id: str | None = None
    customer_may_exist: bool = False  # a create was sent; its outcome may be unknown


def create_tenant(data: TenantIn, actor: Principal, request_key: str | None) -> TenantOut:
    """The tenant, its owner, its Stripe customer and its subscription (with the plan's trial)."""
    tenant_id = new_id("tnt", request_key=request_key)
    if tenants.get(tenant_id) is not None:
        return tenant_views.tenant_details(tenant_id)  # a retry of a create that landed, whatever its plan is now
    plan = _plan_for(data)
    if plan.stripe.get("live" if data.chargeable else "test") is None:
        raise NotEligible(f"Plan {plan.id} has no prices in the {'live' if data.chargeable else 'test'} account")
    tenant = _new_tenant(tenant_id, data, plan)
    owner = Member(tenant_id=tenant.id, email=data.owner_email or data.email, user_id=data.owner_user_id,
                   role=Role.OWNER, joined_at=tenant.created_at)
    attempt = _reserve(tenant)
    try:
        tenant = _subscribe_in_stripe(tenant, plan, attempt)
        tenants.activate(tenant, owner, actor, attempt.id)
    except Exception as failure:
        landed = _landed(tenant.id)
        if landed:
            # The activation committed although its answer was lost: the tenant exists.
            return tenant_views.tenant_details(tenant.id)
        if landed is None:
            raise  # DynamoDB cannot say: the reservation stays for a retry to resume or clear
        _undo(tenant, attempt, failure)
        raise
    telemetry.count("TenantCreated", tenant_type=tenant.type.value, stripe_account=tenant.stripe_account)
    history = [tenant.subscription] if tenant.subscription else []
    return tenant_views.details_of(tenant, [owner], history, {plan.id: plan_ref(plan)})


def _landed(tenant_id: str) -> bool | None:
    """Whether the tenant exists now; None when DynamoDB cannot be read either."""
    try:
        return tenants.get(tenant_id) is not None
    except Exception:
        logger.exception("cannot tell whether the tenant was created", extra={"tenant_id": tenant_id})
        return None


# ------------------------------------------------------------ reserving

def _reserve(tenant: Tenant) -> _Attempt:
    """Reserve the tenant, or take over the reservation an earlier attempt at this request left."""
    attempt = attempt_id()
    try:
        _reserve_clearing_abandoned_subdomain(tenant, attempt)
        return _Attempt(attempt, resumed=False)
    except tenants.ReservationExists:
        held = tenants.reservation(tenant.id)
        if held is None:
            raise Conflict("This tenant was created meanwhile; retry to read it") from None
        if held.in_progress(utc_now()):
            raise Conflict("This tenant is being created by another request; retry shortly") from None
        tenants.take_over(tenant.id, held.attempt, attempt)
        return _Attempt(attempt, resumed=True, customer_id=held.stripe_customer_id, customer_may_exist=True)


def _reserve_clearing_abandoned_subdomain(tenant: Tenant, attempt: str) -> None:
    try:
        tenants.reserve(tenant, attempt, plans.take_place(tenant.plan_id))
    except Conflict as taken:
        if isinstance(taken, tenants.ReservationExists) or not tenant.subdomain_preference:
            raise
        # The subdomain may be held by a create that failed and could not clean up after itself.
        if not _clear_abandoned(tenant.subdomain_preference):
            raise
        tenants.reserve(tenant, attempt, plans.take_place(tenant.plan_id))


def _clear_abandoned(subdomain: str) -> bool:
    """Clear an abandoned reservation holding `subdomain`; True when the subdomain is free now."""
    holder = tenants.subdomain_holder(subdomain)
    return holder is not None and clear_abandoned(holder)


def clear_abandoned(tenant_id: str) -> bool:
    """Finish what a create that died (or could not undo Stripe) left: its Stripe customer is
    deleted and its reservation released. True when the reservation is gone; False while it
    is still another request's, or when Stripe cannot be reached (it stays for the next try).
    The reservation sweeper calls this, and so does a create that needs the subdomain."""
    held = tenants.reservation(tenant_id)
    if held is None or held.in_progress(utc_now()):
        return False
    logger.info("clearing an abandoned tenant reservation", extra={"tenant_id": held.tenant_id})
    cleanup = attempt_id()
    tenants.take_over(held.tenant_id, held.attempt, cleanup)
    return _give_up(dataclasses.replace(held, attempt=cleanup), held.stripe_customer_id, look_for_customer=True,
                    reason="abandoned by an earlier create")


# ------------------------------------------------------------ Stripe

def _subscribe_in_stripe(tenant: Tenant, plan: Plan, attempt: _Attempt) -> Tenant:
    if attempt.customer_id is None and attempt.resumed:
        attempt.customer_id = stripe_gateway.find_customer(tenant.stripe_account, tenant.email, tenant.id)
    customer_id = attempt.customer_id
    if customer_id is None:
        attempt.customer_may_exist = True
        customer_id = stripe_gateway.create_customer(tenant, attempt.id)
    attempt.customer_id = customer_id
    tenants.record_customer(tenant.id, attempt.id, customer_id)
    tenant = tenant.model_copy(update={"stripe_customer_id": customer_id})
    created = stripe_gateway.find_subscription(tenant) if attempt.resumed else None
    if created is None:
        created, plan = _create_subscription(tenant, plan, attempt)
    subscription = Subscription(
        id=created.id, plan_id=plan.id, plan_version=plan.plan_version, price_id=created.price_id,
        billing_cycle=tenant.billing_cycle, status=created.status, starts_at=iso(from_unix(created.start_date)),
        trial_ends_at=iso(from_unix(created.trial_end)) if created.trial_end else None,
        current_period_start=iso(from_unix(created.current_period_start)),
        current_period_end=iso(from_unix(created.current_period_end)), created_at=tenant.created_at,
        plan=SubscribedPlan.of(plan),
    )
    return tenant.model_copy(update={"subscription": subscription})


def _create_subscription(tenant: Tenant, plan: Plan, attempt: _Attempt) -> tuple[
        stripe_gateway.CreatedSubscription, Plan]:
    """The subscription to the plan's price; when Stripe refuses that price because the plan was
    repriced meanwhile (its old prices retired), once more with the prices the plan has now."""
    try:
        return stripe_gateway.create_subscription(tenant, plan, tenant.billing_cycle, attempt.id), plan
    except StripeUnavailable as refused:
        current = plans.get(plan.id)
        if refused.outcome_unknown or current is None or \
                current.stripe.get(tenant.stripe_account) == plan.stripe.get(tenant.stripe_account):
            raise
    return stripe_gateway.create_subscription(tenant, current, tenant.billing_cycle, attempt.id), current


# ------------------------------------------------------------ undoing

def _undo(tenant: Tenant, attempt: _Attempt, failure: Exception) -> None:
    reason = getattr(failure, "message", None) or type(failure).__name__
    held = tenants.reservation(tenant.id)
    if held is None or held.attempt != attempt.id:
        return  # another attempt took over: the reservation is its to finish
    _give_up(held, attempt.customer_id, look_for_customer=attempt.customer_may_exist, reason=reason)


def _give_up(held: tenants.Reservation, customer_id: str | None, *, look_for_customer: bool, reason: str) -> bool:
    """Delete what Stripe holds for a reservation (the customer; that cancels its subscription),
    then release it. If Stripe cannot be reached, the reservation stays, marked failed, naming
    the customer. True when the reservation is gone."""
    with deadline.undoing():
        try:
            if customer_id is None and look_for_customer:
                customer_id = stripe_gateway.find_customer(held.stripe_account, held.email, held.tenant_id)
            if customer_id:
                stripe_gateway.delete_customer(held.stripe_account, customer_id)
        except StripeUnavailable:
            logger.warning("could not undo Stripe for a tenant create; its reservation stays",
                           extra={"tenant_id": held.tenant_id, "customer": customer_id})
            tenants.mark_failed(held.tenant_id, held.attempt, reason)
            return False
        tenants.release(held, plans.give_back_place(held.plan_id))
        logger.info("a tenant create was abandoned and undone", extra={"tenant_id": held.tenant_id, "reason": reason})
        return True
