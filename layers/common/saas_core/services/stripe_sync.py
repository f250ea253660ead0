"""A tenant in step with Stripe: what differs, and the one change that repairs it.

Every path that follows Stripe ends here: the events worker (whatever event
arrived, in whatever order), the drift report and repair of an admin, and the
daily reconciliation. Each reads the customer's billing as Stripe has it now
(`saas_core.stripe_state`) and computes the tenant Stripe implies: the
subscription (status, price and so plan, cycle, period, trial, cancel flags),
the pending change of a schedule, what is owed, and a suspension for
nonpayment once an invoice stays unpaid past the grace period. When that
differs from the stored tenant, one `TenantChange` writes it (history rows,
statistics and plan counters move in the same transaction), audited as Stripe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger

from saas_core.access import Principal
from saas_core.clock import from_unix, iso, utc_now
from saas_core.errors import BadRequest
from saas_core.models.plans import BillingCycle, Plan
from saas_core.models.tenants import (
    BillingStanding,
    DifferenceOut,
    PendingChange,
    StripeDriftOut,
    SubscribedPlan,
    Subscription,
    Tenant,
    TenantStatus,
)
from saas_core.repositories import plans, tenants
from saas_core.repositories.tenants import TenantChange
from saas_core.settings import get_settings
from saas_core.stripe_state import CustomerBilling, ScheduledPrice, SubscriptionState, read_customer_billing

logger = Logger(child=True)

STRIPE = Principal(subject="stripe", is_admin=True, via="stripe")
NONPAYMENT = "nonpayment"
# What a stored tenant carries that Stripe never decides: left out of the comparison.
_NOT_FROM_STRIPE = ("version", "updated_at")
# History bookkeeping inside the subscription; not a difference with Stripe.
_BOOKKEEPING = ("subscription.row", "subscription.created_at", "subscription.starts_at", "subscription.plan.")


@dataclass(frozen=True)
class Difference:
    field: str
    local: Any
    stripe: Any


@dataclass(frozen=True)
class Comparison:
    before: Tenant
    after: Tenant  # the tenant as Stripe implies it (same version as before until saved)
    differences: list[Difference]
    history: tuple[Subscription, ...]

    @property
    def in_step(self) -> bool:
        return not self.differences


def compare(tenant: Tenant) -> Comparison | None:
    """The tenant against Stripe now; None for a tenant with no Stripe customer."""
    if tenant.stripe_customer_id is None:
        return None
    known = tenant.subscription.id if tenant.subscription else None
    billing = read_customer_billing(tenant.stripe_account, tenant.stripe_customer_id, known_subscription_id=known)
    return compare_with(tenant, billing)


def compare_with(tenant: Tenant, billing: CustomerBilling) -> Comparison:
    fields, history = _implied_fields(tenant, billing)
    after = tenant.model_copy(update=fields)
    return Comparison(tenant, after, _differences(tenant, after), history)


def repair(comparison: Comparison, *, actor: Principal = STRIPE, reason: str) -> bool:
    """Write what Stripe implies, if anything differs (audited as `actor`); False when in step.
    A tenant changed meanwhile, or held by an admin's Stripe change, raises Conflict: try again."""
    if comparison.in_step:
        return False
    before = comparison.before
    after = comparison.after.model_copy(update={"version": before.version + 1, "updated_at": iso(utc_now())})
    if after.subscription is not None and (before.subscription is None
                                           or after.subscription.row_key != before.subscription.row_key):
        after = after.model_copy(update={"subscriptions_count": before.subscriptions_count + 1})
    tenants.save(TenantChange(before, after, actor, "tenant.synced_from_stripe", reason=reason,
                              history=comparison.history))
    fields = [difference.field for difference in comparison.differences]
    logger.info("tenant brought in step with Stripe", extra={"tenant_id": before.id, "reason": reason,
                                                             "fields": fields})
    return True


def sync(tenant_id: str, *, reason: str, actor: Principal = STRIPE) -> Comparison | None:
    """Read, compare and repair one tenant; None when there is nothing to follow (deleted, no customer)."""
    tenant = tenants.get(tenant_id)
    if tenant is None:
        return None
    comparison = compare(tenant)
    if comparison is not None:
        repair(comparison, actor=actor, reason=reason)
    return comparison


# ------------------------------------------------------------ the tenant Stripe implies

def _implied_fields(tenant: Tenant, billing: CustomerBilling) -> tuple[dict[str, Any], tuple[Subscription, ...]]:
    fields: dict[str, Any] = {"billing": _standing(tenant, billing)}
    history: tuple[Subscription, ...] = ()
    state = billing.subscription
    if state is not None:
        subscription, history = _subscription(tenant, state)
        fields["subscription"] = subscription
        if state.has_ended:
            free = _free_plan(tenant)
            if free is not None:
                fields["plan_id"] = free.id
        else:
            fields |= {"plan_id": subscription.plan_id, "billing_cycle": subscription.billing_cycle}
    fields["pending_change"] = _pending(tenant, billing.next_price) if state and not state.has_ended else None
    fields |= _status(tenant, billing, state)
    return fields, history


def _standing(tenant: Tenant, billing: CustomerBilling) -> BillingStanding:
    deleted_at = tenant.billing.customer_deleted_at
    if billing.customer_deleted and deleted_at is None:
        deleted_at = iso(from_unix(billing.now))
    overdue = billing.overdue_since
    currency = billing.unpaid[0].currency if billing.unpaid else tenant.billing.currency
    return BillingStanding(unpaid_minor=billing.unpaid_minor, currency=currency,
                           overdue_since=iso(from_unix(overdue)) if overdue is not None else None,
                           customer_deleted_at=deleted_at if billing.customer_deleted else None)


def _status(tenant: Tenant, billing: CustomerBilling, state: SubscriptionState | None) -> dict[str, Any]:
    """Suspended for nonpayment once the oldest overdue invoice is past the grace period; back to
    active when nothing is overdue any more. A suspension an admin made is never lifted here."""
    overdue = billing.overdue_since
    grace = timedelta(days=get_settings().payment_grace_days)
    past_grace = overdue is not None and from_unix(overdue) + grace <= from_unix(billing.now)
    if past_grace and tenant.status is TenantStatus.ACTIVE:
        return {"status": TenantStatus.SUSPENDED, "status_reason": NONPAYMENT}
    suspended_by_us = tenant.status is TenantStatus.SUSPENDED and tenant.status_reason == NONPAYMENT
    if suspended_by_us and not past_grace:
        return {"status": TenantStatus.ACTIVE, "status_reason": None}
    return {}


def _subscription(tenant: Tenant, state: SubscriptionState) -> tuple[Subscription, tuple[Subscription, ...]]:
    """The subscription as Stripe has it, and the history rows that change writes."""
    stored = tenant.subscription if tenant.subscription and tenant.subscription.id == state.id else None
    plan_id, plan_version, cycle, plan = _plan_of(tenant, state.price_id, state.price_metadata, state.interval)
    moment = iso(utc_now())
    stripe_fields = {
        "status": state.status, "price_id": state.price_id, "plan_id": plan_id, "plan_version": plan_version,
        "billing_cycle": cycle,
        "trial_ends_at": iso(from_unix(state.trial_end)) if state.trial_end else None,
        "current_period_start": iso(from_unix(state.current_period_start)),
        "current_period_end": iso(from_unix(state.current_period_end)),
        "canceled_at": iso(from_unix(state.canceled_at)) if state.canceled_at else None,
        "cancel_at_period_end": state.cancel_at_period_end,
        "cancel_at": iso(from_unix(state.cancel_at)) if state.cancel_at else None,
    }
    if stored is not None and stored.price_id == state.price_id:
        # The same row, updated: its status, period or flags moved.
        updated = stored.model_copy(update=stripe_fields)
        return updated, ((updated,) if updated != stored else ())
    snapshot = SubscribedPlan.of(plan) if plan else (stored.plan if stored else _unknown_plan(tenant))
    started = state.current_period_start if stored is not None else state.start_date
    row = Subscription(id=state.id, starts_at=iso(from_unix(started)), created_at=moment, plan=snapshot,
                       row=f"{moment}#{state.id}#stripe", **stripe_fields)
    if stored is None:
        return row, (row,)
    # Stripe moved the subscription to another price (a schedule at period end, the dashboard).
    ended = stored.model_copy(update={"status": "canceled", "canceled_at": moment})
    return row, (ended, row)


def _plan_of(tenant: Tenant, price_id: str, metadata: dict[str, str],
             interval: str) -> tuple[str, str, BillingCycle, Plan | None]:
    """The plan and version a Stripe price belongs to: its metadata (every price the product makes
    carries them), else the catalog's current prices; unknown prices keep the stored plan."""
    cycle = BillingCycle.ANNUAL if interval == "year" else BillingCycle.MONTHLY
    plan_id = metadata.get("plan_id")
    if plan_id:
        plan = plans.get(plan_id)
        return plan_id, metadata.get("plan_version") or (plan.plan_version if plan else "1"), cycle, plan
    for plan in plans.list_catalog():
        prices = plan.stripe.get(tenant.stripe_account)
        if prices is not None and price_id in (prices.monthly_price_id, prices.annual_price_id):
            return plan.id, plan.plan_version, cycle, plan
    logger.warning("a Stripe price of no plan", extra={"tenant_id": tenant.id, "price_id": price_id})
    stored = tenant.subscription
    return tenant.plan_id, stored.plan_version if stored else "1", cycle, plans.get(tenant.plan_id)


def _unknown_plan(tenant: Tenant) -> SubscribedPlan:
    plan = plans.require(tenant.plan_id)
    return SubscribedPlan.of(plan)


def _free_plan(tenant: Tenant) -> Plan | None:
    """The catalog's free plan of the tenant's type, where a canceled tenant lands."""
    free = [plan for plan in plans.list_catalog() if plan.type is tenant.type and plan.price_monthly_minor == 0
            and plan.is_active and not plan.is_archived]
    return min(free, key=lambda plan: plan.display_order) if free else None


def _pending(tenant: Tenant, next_price: ScheduledPrice | None) -> PendingChange | None:
    if next_price is None:
        return None
    stored = tenant.pending_change
    if stored is not None and (stored.schedule_id, stored.price_id) == (next_price.schedule_id, next_price.price_id):
        return stored
    plan_id, plan_version, cycle, _ = _plan_of(tenant, next_price.price_id, next_price.price_metadata,
                                               next_price.interval)
    return PendingChange(schedule_id=next_price.schedule_id, plan_id=plan_id, plan_version=plan_version,
                         price_id=next_price.price_id, billing_cycle=cycle,
                         starts_at=iso(from_unix(next_price.starts_at)))


# ------------------------------------------------------------ differences

def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat |= _flat(item, f"{prefix}{key}.")
        return flat if flat or not prefix else {prefix[:-1]: value}
    return {prefix[:-1]: value}


def _differences(before: Tenant, after: Tenant) -> list[Difference]:
    local = _flat(before.model_dump(mode="json", exclude=set(_NOT_FROM_STRIPE)))
    stripe = _flat(after.model_dump(mode="json", exclude=set(_NOT_FROM_STRIPE)))
    names = sorted(set(local) | set(stripe))
    return [Difference(name, local.get(name), stripe.get(name)) for name in names
            if local.get(name) != stripe.get(name) and not name.startswith(_BOOKKEEPING)]



# ------------------------------------------------------------ the admin's drift report and repair

def drift_report(tenant_id: str) -> StripeDriftOut:
    return _report(_comparison_of(tenants.require(tenant_id)), repaired=False)


def repair_from_stripe(tenant_id: str, actor: Principal) -> StripeDriftOut:
    """Write what Stripe implies (audited as the admin); the report of what was repaired."""
    comparison = _comparison_of(tenants.require(tenant_id))
    repaired = repair(comparison, actor=actor, reason="repaired from Stripe by an admin")
    return _report(comparison, repaired=repaired)


def _comparison_of(tenant: Tenant) -> Comparison:
    comparison = compare(tenant)
    if comparison is None:
        raise BadRequest("Tenant has no Stripe customer to compare with")
    return comparison


def _report(comparison: Comparison, *, repaired: bool) -> StripeDriftOut:
    return StripeDriftOut(
        tenant_id=comparison.before.id, in_step=comparison.in_step, repaired=repaired, checked_at=iso(utc_now()),
        differences=[DifferenceOut(field=d.field, local=d.local, stripe=d.stripe) for d in comparison.differences])
