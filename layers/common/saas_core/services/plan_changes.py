"""An owner changes its own plan (seed 003 §5-§8).

An upgrade (a plan that costs more a month) takes effect now in Stripe, prorated:
limits rise at once. A downgrade is refused while usage is over any of the
target's limits, each named with both numbers; otherwise Stripe switches at the
end of the billing period (a subscription schedule, shown as the pending change),
and the limits drop when Stripe's event says it did. Choosing the current plan as
a downgrade cancels a pending one. Both go through the admin's subscription change
(`tenant_changes.change_subscription`): the same hold, undo and audit.
"""

from __future__ import annotations

from decimal import Decimal

from saas_core.access import Principal
from saas_core.clock import iso, utc_now
from saas_core.errors import BadRequest, NotEligible
from saas_core.models.plan_changes import (
    DowngradeCheckOut,
    PlanDowngradedOut,
    PlanUpgradedOut,
    TargetPlanIn,
    UpgradeCheckOut,
)
from saas_core.models.plans import Plan
from saas_core.models.tenants import SubscriptionChangeIn, Tenant
from saas_core.money import from_minor
from saas_core.repositories import plans, tenants, usage
from saas_core.services import tenant_changes
from saas_core.services.catalog import plan_ref
from saas_core.services.metering import MEMBERS_METRIC


def _plans(tenant_id: str, target_plan_id: str) -> tuple[Tenant, Plan, Plan]:
    tenant = tenants.require(tenant_id)
    return tenant, plans.require(tenant.plan_id), plans.require(target_plan_id)


def _offer_issues(tenant: Tenant, current: Plan, target: Plan, *, upgrade: bool) -> list[str]:
    """What rules the target out: the same plan, another type, closed, or a price the wrong way."""
    if target.id == current.id:
        return [f"The tenant is on the {current.name} plan already"]
    if target.type is not tenant.type:
        return [f"The {target.name} plan is for {target.type.value} tenants; this one is {tenant.type.value}"]
    if not target.is_active or target.is_archived:
        return [f"The {target.name} plan takes no new subscriptions"]
    if (_monthly(target) > _monthly(current)) is not upgrade:
        comparison, actually = ("not more than", "a downgrade") if upgrade else ("not less than", "an upgrade")
        return [f"The {target.name} plan costs {_monthly(target)} a month, {comparison} the {current.name} plan's "
                f"{_monthly(current)}: that is {actually}, not {'an upgrade' if upgrade else 'a downgrade'}"]
    return []


def _monthly(plan: Plan) -> Decimal:
    return from_minor(plan.price_monthly_minor, plan.currency)


def check_upgrade(tenant_id: str, data: TargetPlanIn) -> UpgradeCheckOut:
    tenant, current, target = _plans(tenant_id, data.target_plan_id)
    difference = _monthly(target) - _monthly(current)
    issues = _offer_issues(tenant, current, target, upgrade=True)
    return UpgradeCheckOut(eligible=not issues, is_upgrade=difference > 0, current_plan=plan_ref(current),
                           target_plan=plan_ref(target), price_difference_monthly=difference, issues=issues or None)


def usage_over(tenant: Tenant, target: Plan) -> list[str]:
    """Each metric whose usage now is over the target's limit, with both numbers."""
    limited = {metric: limit for metric, limit in target.limits.items() if limit.max is not None}
    now = utc_now()
    period = tenant.billing_period()
    period_start = period.counter_key if period else None
    counters = {metric: usage.period_key(limit.period, now=now, billing_period_start=period_start)
                for metric, limit in limited.items() if metric != MEMBERS_METRIC}
    in_use = usage.current_values(tenant.id, counters)
    in_use[MEMBERS_METRIC] = tenant.members_count
    return [f"{metric}: {in_use.get(metric, 0)} in use, {target.name} allows {limit.max}"
            for metric, limit in sorted(limited.items()) if in_use.get(metric, 0) > (limit.max or 0)]


def check_downgrade(tenant_id: str, data: TargetPlanIn) -> DowngradeCheckOut:
    tenant, current, target = _plans(tenant_id, data.target_plan_id)
    savings = _monthly(current) - _monthly(target)
    blocking = _offer_issues(tenant, current, target, upgrade=False) or usage_over(tenant, target)
    return DowngradeCheckOut(eligible=not blocking, current_plan=plan_ref(current), target_plan=plan_ref(target),
                             monthly_savings=savings, blocking_issues=blocking or None)


def upgrade(tenant_id: str, data: TargetPlanIn, actor: Principal) -> PlanUpgradedOut:
    check = check_upgrade(tenant_id, data)
    if not check.eligible:
        raise NotEligible("; ".join(check.issues or []))
    tenant = tenants.require(tenant_id)
    change = SubscriptionChangeIn(plan_id=data.target_plan_id, billing_cycle=tenant.billing_cycle,
                                  starts_immediately=True, prorate=True)
    preview = tenant_changes.change_subscription(tenant_id, change.model_copy(update={"preview": True}), actor).preview
    if preview is None:
        raise BadRequest("The tenant has no live subscription to upgrade")
    tenant_changes.change_subscription(tenant_id, change, actor)
    return PlanUpgradedOut(success=True, tenant_id=tenant_id, new_plan_id=check.target_plan.id,
                           new_plan_name=check.target_plan.name, upgraded_at=iso(utc_now()),
                           prorated_amount=preview.proration_total, currency=preview.currency)


def downgrade(tenant_id: str, data: TargetPlanIn, actor: Principal) -> PlanDowngradedOut:
    tenant = tenants.require(tenant_id)
    if data.target_plan_id == tenant.plan_id:
        return _cancel_pending(tenant, actor)
    check = check_downgrade(tenant_id, data)
    if not check.eligible:
        raise NotEligible("; ".join(check.blocking_issues or []))
    change = SubscriptionChangeIn(plan_id=data.target_plan_id, billing_cycle=tenant.billing_cycle)
    changed = tenant_changes.change_subscription(tenant_id, change, actor).tenant
    if changed.pending_change is None:
        raise BadRequest("The tenant has no live subscription to downgrade")
    return PlanDowngradedOut(success=True, tenant_id=tenant_id, new_plan_id=check.target_plan.id,
                             new_plan_name=check.target_plan.name, downgraded_at=changed.pending_change.starts_at)


def _cancel_pending(tenant: Tenant, actor: Principal) -> PlanDowngradedOut:
    if tenant.pending_change is None:
        raise NotEligible(f"The tenant is on the {plans.require(tenant.plan_id).name} plan already "
                          "and has no pending downgrade to cancel")
    tenant_changes.change_subscription(
        tenant.id, SubscriptionChangeIn(plan_id=tenant.plan_id, billing_cycle=tenant.billing_cycle), actor)
    current = plans.require(tenant.plan_id)
    return PlanDowngradedOut(success=True, tenant_id=tenant.id, new_plan_id=current.id, new_plan_name=current.name,
                             downgraded_at=iso(utc_now()), canceled_pending=True)
