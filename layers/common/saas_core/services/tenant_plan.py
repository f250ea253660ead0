"""A tenant's own view of its plan (seed 003 §3): plan, usage per limit, billing period."""

from __future__ import annotations

from saas_core.clock import utc_now
from saas_core.models.tenants import BillingOut, TenantPlanOut, UsageOut
from saas_core.repositories import plans, tenants, usage
from saas_core.services.catalog import plan_ref_by_id

# Metrics counted from the tenant's own records rather than usage counters.
MEMBERS_METRIC = "members"

def current_plan(tenant_id: str) -> TenantPlanOut:
    tenant = tenants.require(tenant_id)
    plan = plans.get(tenant.plan_id)
    limits = plan.limits if plan else {}
    subscription = tenant.subscription
    period = tenant.billing_period()
    now = utc_now()
    counters = {
        metric: usage.period_key(limit.period, now=now, billing_period_start=period.counter_key if period else None)
        for metric, limit in limits.items() if metric != MEMBERS_METRIC
    }
    values = usage.current_values(tenant.id, counters)
    values[MEMBERS_METRIC] = tenant.members_count
    return TenantPlanOut(
        tenant_id=tenant.id,
        plan=plan_ref_by_id(tenant.plan_id),
        limits=limits,
        usage={metric: UsageOut(current=values.get(metric, 0), limit=limit.max, period=limit.period.value)
               for metric, limit in limits.items()},
        billing=BillingOut(
            billing_cycle=tenant.billing_cycle,
            period_start=period.start if period else None,
            period_end=period.end if period else None,
            subscription_status=subscription.status if subscription else None,
            trial_ends_at=subscription.trial_ends_at if subscription else None,
        ),
        pending_downgrade=plan_ref_by_id(tenant.pending_change.plan_id) if tenant.pending_change else None,
    )

