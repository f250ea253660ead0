"""Usage against the plan's limits: recorded exactly under any concurrency, and checked.

Recording is one conditional DynamoDB update (repositories.usage.consume): it adds the
amount only if the counter of the metric's period stays within the plan's limit, so no
number of concurrent calls can pass it together, and a refused call records nothing.
The period decides the counter: `day` per UTC day (seed 001's API calls), `month` per
billing period (Stripe's when the tenant has a subscription, else the calendar month),
`none` a running count. Members are counted by adding and removing members, not here.
"""

from __future__ import annotations

from datetime import datetime

from saas_core.clock import utc_now
from saas_core.errors import BadRequest, Forbidden, LimitExceeded
from saas_core.models.plans import Limit, Plan
from saas_core.models.tenants import Tenant, TenantStatus
from saas_core.models.usage import LimitCheckIn, LimitCheckOut, UsageIn, UsageRecordedOut
from saas_core.repositories import plans, tenants, usage

MEMBERS_METRIC = "members"


def _limit(plan: Plan, metric: str) -> Limit:
    limit = plan.limits.get(metric)
    if limit is None:
        metered = ", ".join(sorted(plan.limits)) or "nothing"
        raise BadRequest(f"The {plan.name} plan has no limit named {metric!r}; it meters: {metered}")
    return limit


def counter_of(tenant: Tenant, plan: Plan, metric: str, now: datetime) -> usage.Counter:
    limit = _limit(plan, metric)
    period = tenant.billing_period()
    key = usage.period_key(limit.period, now=now, billing_period_start=period.counter_key if period else None)
    return usage.Counter(tenant_id=tenant.id, metric=metric, period_key=key, limit=limit.max, tier=plan.tier)


def record_usage(tenant_id: str, data: UsageIn) -> UsageRecordedOut:
    tenant = tenants.require(tenant_id)
    if tenant.status is not TenantStatus.ACTIVE:
        raise Forbidden(f"The tenant is {tenant.status.value}: no usage is recorded for it")
    if data.metric == MEMBERS_METRIC:
        raise BadRequest("Members are counted by adding and removing members, not as usage")
    plan = plans.require(tenant.plan_id)
    counter = counter_of(tenant, plan, data.metric, utc_now())
    try:
        consumed = usage.consume(counter, data.amount, data.idempotency_key)
    except usage.OverLimit as over:
        raise LimitExceeded(
            f"{data.metric}: {over.current} used of {counter.limit}; {data.amount} more would pass the limit",
            {"metric": data.metric, "current": over.current, "limit": counter.limit, "requested": data.amount},
        ) from None
    return UsageRecordedOut(metric=data.metric, amount=data.amount, recorded=consumed.recorded,
                            current=consumed.current, limit=counter.limit, period=_limit(plan, data.metric).period)


def check_limit(tenant_id: str, data: LimitCheckIn) -> LimitCheckOut:
    """Seed 003 §11: would `increment` more stay within the limit? Changes nothing."""
    tenant = tenants.require(tenant_id)
    plan = plans.require(tenant.plan_id)
    if data.limit_type == MEMBERS_METRIC:
        current, limit = tenant.members_count, _limit(plan, MEMBERS_METRIC).max
    else:
        counter = counter_of(tenant, plan, data.limit_type, utc_now())
        current = usage.current_values(tenant.id, {counter.metric: counter.period_key})[counter.metric]
        limit = counter.limit
    after = current + data.increment
    over = None if limit is None or after <= limit else after - limit
    return LimitCheckOut(allowed=over is None, current=current, limit=limit, after_increment=after,
                         would_exceed_by=over)
