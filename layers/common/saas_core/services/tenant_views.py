"""What admins see of a tenant (seed 002 tenant details). No Stripe here:
functions that only read never load the Stripe SDK."""

from __future__ import annotations

from saas_core.clock import utc_now
from saas_core.models.plans import PlanRef
from saas_core.models.tenants import Member, MemberOut, Subscription, SubscriptionOut, Tenant, TenantOut
from saas_core.repositories import tenants
from saas_core.services.catalog import plan_ref_by_id


def _subscription_out(subscription: Subscription, plan_refs: dict[str, PlanRef]) -> SubscriptionOut:
    if subscription.plan_id not in plan_refs:
        plan_refs[subscription.plan_id] = plan_ref_by_id(subscription.plan_id)
    return SubscriptionOut(plan=plan_refs[subscription.plan_id],
                           **subscription.model_dump(exclude={"plan_id", "price_id"}))


def tenant_details(tenant_id: str) -> TenantOut:
    tenant = tenants.require(tenant_id)
    return details_of(tenant, tenants.members(tenant.id), tenants.subscriptions(tenant.id), {})


def details_of(tenant: Tenant, members: list[Member], subscriptions: list[Subscription],
               plan_refs: dict[str, PlanRef]) -> TenantOut:
    """The details view from records already in hand (a create has them all)."""
    history = [_subscription_out(s, plan_refs) for s in subscriptions]
    active = None
    if tenant.subscription is not None and tenant.has_active_subscription:
        active = _subscription_out(tenant.subscription, plan_refs)
    members_out = [MemberOut(**m.model_dump(exclude={"tenant_id"})) for m in members]
    return TenantOut(
        id=tenant.id, name=tenant.name, email=tenant.email, phone=tenant.phone, type=tenant.type,
        status=tenant.status, subdomain_preference=tenant.subdomain_preference,
        plan=plan_refs.get(tenant.plan_id) or plan_ref_by_id(tenant.plan_id),
        is_on_trial=tenant.subscription is not None and tenant.subscription.status == "trialing",
        trial_days_remaining=tenant.trial_days_remaining(utc_now()),
        billing_cycle=tenant.billing_cycle, chargeable=tenant.chargeable,
        stripe_customer_id=tenant.stripe_customer_id, has_active_subscription=tenant.has_active_subscription,
        active_subscription=active, subscriptions=history, memberships=members_out,
        memberships_count=tenant.members_count, subscriptions_count=tenant.subscriptions_count,
        version=tenant.version, created_at=tenant.created_at, updated_at=tenant.updated_at,
    )
