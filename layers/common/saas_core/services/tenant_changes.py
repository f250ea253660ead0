"""An admin's changes to a tenant (seed 002): status, subscription, trial, deletion.

Each is one `TenantChange` (the tenant before and after, who, why) written in
one transaction. A change that touches Stripe first holds the tenant, so a
second admin changing it at the same moment gets 409 before anything reaches
Stripe; then Stripe; then the write, which releases the hold. On failure Stripe
is undone (or, for a deletion, finished later: a canceled subscription cannot be
revived); a hold left behind is repaired by the next change or the sweeper.
"""

from __future__ import annotations

import functools
from datetime import timedelta

from aws_lambda_powertools import Logger

from saas_core import stripe_gateway
from saas_core.access import Principal
from saas_core.clock import from_unix, iso, parse_iso, utc_now
from saas_core.errors import BadRequest, Conflict, InvalidInput, NotEligible, StripeUnavailable
from saas_core.ids import attempt_id
from saas_core.models.plans import BillingCycle, Plan
from saas_core.models.tenants import (
    ChangedSubscriptionOut,
    ExtendTrialIn,
    InvoicePreviewOut,
    PendingChange,
    PreviewLineOut,
    SubscribedPlan,
    Subscription,
    SubscriptionChangeIn,
    SubscriptionChangeOut,
    Tenant,
    TenantOut,
    TenantStatusIn,
    TrialOut,
)
from saas_core.money import from_minor
from saas_core.repositories import plans, tenants
from saas_core.repositories.tenants import TenantChange
from saas_core.services import tenant_views
from saas_core.services.catalog import plan_ref
from saas_core.services.changes import Undo, undo_unless_landed

logger = Logger(child=True)


# ------------------------------------------------------------ status

def change_status(tenant_id: str, data: TenantStatusIn, actor: Principal) -> TenantOut:
    """Local only: Stripe keeps billing a suspended tenant until someone changes its subscription."""
    before = tenants.require(tenant_id)
    after = before.changed(status=data.status, status_reason=data.reason)
    tenants.save(TenantChange(before, after, actor, "tenant.status_changed", reason=data.reason))
    return tenant_views.tenant_details(tenant_id)


# ------------------------------------------------------------ holding the tenant for a Stripe change

def _hold(tenant: Tenant, kind: str) -> tuple[str, list[str]]:
    left_behind = tenants.pending_of(tenant.id)
    if left_behind is not None and left_behind.kind == "delete" and kind != "delete":
        # Its Stripe subscription may be canceled already: only a deletion finishes it.
        raise Conflict("A deletion of this tenant did not finish; delete it again or wait for the sweeper")
    to_repair = left_behind.left_to_repair() if left_behind else []
    change = attempt_id()
    tenants.hold(tenant, change, kind, to_repair)
    return change, to_repair


def _released(tenant_id: str, change: str) -> bool:
    """The change's write drops its hold in the same put: no hold of it, the write landed."""
    held = tenants.pending_of(tenant_id)
    return held is None or held.change != change


def _commit(before: Tenant, change: str, undo: Undo, steps: functools.partial[TenantChange]) -> bool:
    """Run the Stripe steps and the write; on failure decide what to undo. True when it landed."""
    try:
        tenants.save(steps())
        return True
    except Exception:
        if undo_unless_landed(undo, landed=lambda: _released(before.id, change),
                              release=lambda: tenants.release_hold(before.id, change)):
            return True
        raise


# ------------------------------------------------------------ trial

def extend_trial(tenant_id: str, data: ExtendTrialIn, actor: Principal) -> TrialOut:
    before = tenants.require(tenant_id)
    subscription = before.subscription
    if subscription is None or subscription.status != "trialing" or subscription.trial_ends_at is None:
        raise BadRequest("Tenant is not on trial")
    if before.pending_change is not None:
        # The pending schedule's phases end where the trial ends; Stripe moves a trial only outside one.
        raise BadRequest("The tenant has a plan change pending at the end of its trial: cancel it first "
                         "(choose the current plan), extend the trial, then schedule the change again")
    old_end = parse_iso(subscription.trial_ends_at)
    new_end = old_end + timedelta(days=data.days)
    change, to_repair = _hold(before, "trial")
    undo = Undo(tenant_id)

    def steps() -> TenantChange:
        _repair_stripe(before, to_repair, undo)
        undo.add("move the trial's end back", functools.partial(
            stripe_gateway.set_trial_end, before, subscription.id, int(old_end.timestamp()), f"{change}-undo"))
        state = stripe_gateway.set_trial_end(before, subscription.id, int(new_end.timestamp()), change)
        moved = _with_state(subscription, state)
        after = before.changed(subscription=moved)
        return TenantChange(before, after, actor, "tenant.trial_extended", reason=data.reason,
                            history=(moved,), hold=change)

    _commit(before, change, undo, functools.partial(steps))
    current = tenants.require(tenant_id).subscription
    if current is None:
        raise RuntimeError("a trial was extended on a subscription")
    return TrialOut(id=current.id, status=current.status, trial_ends_at=current.trial_ends_at)


def _with_state(subscription: Subscription, state: stripe_gateway.CreatedSubscription) -> Subscription:
    """The stored subscription updated to what Stripe now says."""
    return subscription.model_copy(update={
        "status": state.status, "trial_ends_at": iso(from_unix(state.trial_end)) if state.trial_end else None,
        "current_period_start": iso(from_unix(state.current_period_start)),
        "current_period_end": iso(from_unix(state.current_period_end)),
    })


# ------------------------------------------------------------ deletion

def delete_tenant(tenant_id: str, actor: Principal) -> None:
    """Soft delete: the Stripe subscription is canceled first, then the tenant leaves lists,
    statistics and its members' reach; admins can still read it. A cancellation cannot be
    undone, so a write that fails after it is finished later instead (the hold says so)."""
    before = tenants.require(tenant_id)
    change, _ = _hold(before, "delete")
    progress: list[str] = []
    try:
        _cancel_in_stripe(before, progress)
    except StripeUnavailable as failure:
        if not failure.outcome_unknown and not progress:
            tenants.release_hold(tenant_id, change)  # nothing was canceled: Stripe is as it was
        # Otherwise the hold stays, a deletion: a retry or the sweeper finishes it.
        raise
    _finish_delete(before, actor, change)


def _cancel_in_stripe(tenant: Tenant, progress: list[str] | None = None) -> None:
    done = progress if progress is not None else []
    if tenant.pending_change is not None:
        stripe_gateway.release_schedule(tenant, tenant.pending_change.schedule_id)
        done.append("schedule released")
    if tenant.subscription is not None and tenant.has_active_subscription:
        stripe_gateway.cancel_subscription(tenant, tenant.subscription.id)


def _finish_delete(before: Tenant, actor: Principal, change: str) -> None:
    now = iso(utc_now())
    subscription = before.subscription
    history: tuple[Subscription, ...] = ()
    if subscription is not None and before.has_active_subscription:
        subscription = subscription.model_copy(update={"status": "canceled", "canceled_at": now})
        history = (subscription,)
    after = before.changed(deleted_at=now, subscription=subscription, pending_change=None)
    tenants.save(TenantChange(before, after, actor, "tenant.deleted", history=history, hold=change))


# ------------------------------------------------------------ subscription

def _eligible_plan(tenant: Tenant, plan_id: str) -> Plan:
    plan = plans.get(plan_id)
    if plan is None:
        raise InvalidInput("The given data was invalid", {"plan_id": ["no plan has this id"]})
    if plan.type is not tenant.type:
        raise NotEligible(f"Plan {plan.id} is for {plan.type.value} tenants, this one is {tenant.type.value}")
    if not plan.is_active or plan.is_archived:
        raise NotEligible(f"Plan {plan.id} takes no new subscriptions")
    if tenant.stripe_account not in plan.stripe:
        raise NotEligible(f"Plan {plan.id} has no prices in the {tenant.stripe_account} Stripe account")
    return plan


def _price_of(plan: Plan, tenant: Tenant, cycle: BillingCycle) -> str:
    prices = plan.stripe[tenant.stripe_account]
    return prices.monthly_price_id if cycle is BillingCycle.MONTHLY else prices.annual_price_id


def change_subscription(tenant_id: str, data: SubscriptionChangeIn, actor: Principal) -> SubscriptionChangeOut:
    before = tenants.require(tenant_id)
    current = before.subscription if before.has_active_subscription else None
    if current is not None and (current.plan_id, current.billing_cycle) == (data.plan_id, data.billing_cycle):
        return _keep_current(before, actor, preview=data.preview)
    plan = _eligible_plan(before, data.plan_id)
    price_id = _price_of(plan, before, data.billing_cycle)
    if data.preview:
        return _preview(before, plan, price_id, data)
    change, to_repair = _hold(before, "subscription")
    undo = Undo(tenant_id)
    if current is None:
        steps = functools.partial(_subscribe, before, plan, data, actor, change, to_repair, undo)
    elif data.starts_immediately:
        steps = functools.partial(_switch_now, before, current, plan, price_id, data, actor, change, to_repair, undo)
    else:
        steps = functools.partial(_switch_at_period_end, before, current, plan, price_id, data, actor, change,
                                  to_repair, undo)
    _commit(before, change, undo, steps)
    return _answer(tenants.require(tenant_id))


def _keep_current(before: Tenant, actor: Principal, *, preview: bool) -> SubscriptionChangeOut:
    """The plan and cycle it already has: a pending change is dropped, else nothing happens."""
    if before.pending_change is None or preview:
        return _answer(before)
    change, to_repair = _hold(before, "subscription")
    undo = Undo(before.id)
    pending = before.pending_change

    def steps() -> TenantChange:
        _repair_stripe(before, to_repair, undo)
        stripe_gateway.release_schedule(before, pending.schedule_id)
        return TenantChange(before, before.changed(pending_change=None), actor, "tenant.plan_change_canceled",
                            hold=change)

    _commit(before, change, undo, functools.partial(steps))
    return _answer(tenants.require(before.id))


def _new_history_row(plan: Plan, price_id: str, cycle: BillingCycle,
                     state: stripe_gateway.CreatedSubscription, change: str) -> Subscription:
    now = iso(utc_now())
    return Subscription(
        id=state.id, plan_id=plan.id, plan_version=plan.plan_version, price_id=price_id, billing_cycle=cycle,
        status=state.status, starts_at=now, trial_ends_at=iso(from_unix(state.trial_end)) if state.trial_end else None,
        current_period_start=iso(from_unix(state.current_period_start)),
        current_period_end=iso(from_unix(state.current_period_end)), created_at=now,
        plan=SubscribedPlan.of(plan), row=f"{now}#{state.id}#{change}")


def _subscribe(before: Tenant, plan: Plan, data: SubscriptionChangeIn, actor: Principal, change: str,
               to_repair: list[str], undo: Undo) -> TenantChange:
    """A tenant without a live subscription gets a new one on the plan."""
    _repair_stripe(before, to_repair, undo)
    undo.add("cancel the new subscription", lambda: _cancel_found(before))
    state = stripe_gateway.create_subscription(before, plan, data.billing_cycle, change)
    undo.add("cancel the new subscription", functools.partial(stripe_gateway.cancel_subscription, before, state.id))
    row = _new_history_row(plan, _price_of(plan, before, data.billing_cycle), data.billing_cycle, state, change)
    after = before.changed(plan_id=plan.id, billing_cycle=data.billing_cycle, subscription=row,
                           subscriptions_count=before.subscriptions_count + 1)
    return TenantChange(before, after, actor, "tenant.subscribed", history=(row,), hold=change)


def _cancel_found(tenant: Tenant) -> None:
    """Undo a create whose answer may have been lost: cancel what it made, if it made anything."""
    found = stripe_gateway.find_subscription(tenant)
    if found is not None and (tenant.subscription is None or found.id != tenant.subscription.id):
        stripe_gateway.cancel_subscription(tenant, found.id)


def _switch_now(before: Tenant, current: Subscription, plan: Plan, price_id: str, data: SubscriptionChangeIn,
                actor: Principal, change: str, to_repair: list[str], undo: Undo) -> TenantChange:
    """The subscription's item moves to the new price now; a pending change is dropped."""
    _repair_stripe(before, to_repair, undo)
    undo.add("move the subscription back to its price", functools.partial(
        stripe_gateway.change_price, before, current.id, current.price_id, prorate=data.prorate,
        attempt=f"{change}-undo"))
    # A subscription on a schedule takes a direct change as the schedule's current phase; the
    # pending phase is dropped only once the price moved, so an undo never has to make it again.
    state = stripe_gateway.change_price(before, current.id, price_id, prorate=data.prorate, attempt=change)
    if before.pending_change is not None:
        stripe_gateway.release_schedule(before, before.pending_change.schedule_id)
    now = iso(utc_now())
    ended = current.model_copy(update={"status": "canceled", "canceled_at": now})
    row = _new_history_row(plan, price_id, data.billing_cycle, state, change)
    after = before.changed(plan_id=plan.id, billing_cycle=data.billing_cycle, subscription=row, pending_change=None,
                           subscriptions_count=before.subscriptions_count + 1)
    return TenantChange(before, after, actor, "tenant.plan_changed", history=(ended, row), hold=change)


def _interval(cycle: BillingCycle) -> str:
    return "month" if cycle is BillingCycle.MONTHLY else "year"


def _switch_at_period_end(before: Tenant, current: Subscription, plan: Plan, price_id: str,
                          data: SubscriptionChangeIn, actor: Principal, change: str, to_repair: list[str],
                          undo: Undo) -> TenantChange:
    """A schedule switches the price when the period ends; a second change replaces the first."""
    _repair_stripe(before, to_repair, undo)
    pending = before.pending_change
    if pending is None:
        undo.add("drop the new schedule", lambda: _release_found(before, current.id))
    else:
        undo.add("schedule the earlier change again", functools.partial(
            stripe_gateway.schedule_price, before, current.id, pending.price_id, current_price_id=current.price_id,
            interval=_interval(pending.billing_cycle), schedule_id=pending.schedule_id, attempt=f"{change}-undo"))
    schedule_id = stripe_gateway.schedule_price(
        before, current.id, price_id, current_price_id=current.price_id, interval=_interval(data.billing_cycle),
        schedule_id=pending.schedule_id if pending else None, attempt=change)
    after = before.changed(pending_change=PendingChange(
        schedule_id=schedule_id, plan_id=plan.id, plan_version=plan.plan_version, price_id=price_id,
        billing_cycle=data.billing_cycle, starts_at=current.current_period_end))
    return TenantChange(before, after, actor, "tenant.plan_change_scheduled", hold=change)


def _release_found(tenant: Tenant, subscription_id: str) -> None:
    """Undo a schedule whose answer may have been lost: the subscription names it if it exists."""
    schedule_id = stripe_gateway.schedule_of(tenant, subscription_id)
    if schedule_id is not None:
        stripe_gateway.release_schedule(tenant, schedule_id)


def _preview(tenant: Tenant, plan: Plan, price_id: str, data: SubscriptionChangeIn) -> SubscriptionChangeOut:
    current = tenant.subscription if tenant.has_active_subscription else None
    if current is None:
        raise BadRequest("A preview needs a live subscription: this tenant would get a new one")
    period_end = None if data.starts_immediately else int(parse_iso(current.current_period_end).timestamp())
    preview = stripe_gateway.preview_price_change(
        tenant, current.id, price_id, prorate=data.prorate and data.starts_immediately, at_period_end=period_end)
    out = InvoicePreviewOut(
        currency=preview.currency,
        lines=[PreviewLineOut(description=line.description, amount=from_minor(line.amount, preview.currency),
                              proration=line.proration, period_start=iso(from_unix(line.period_start)),
                              period_end=iso(from_unix(line.period_end))) for line in preview.lines],
        amount_due_now=from_minor(_due_now(current, data, preview), preview.currency),
        proration_total=from_minor(sum(line.amount for line in preview.lines if line.proration), preview.currency),
        next_invoice_total=from_minor(preview.total, preview.currency))
    return SubscriptionChangeOut(tenant=tenant_views.details_of(tenant, [], [], {plan.id: plan_ref(plan)}),
                                 subscription=_subscription_out(tenant), preview=out)


def _due_now(current: Subscription, data: SubscriptionChangeIn, preview: stripe_gateway.InvoicePreview) -> int:
    """What the change charges at once. A new billing cycle (monthly to annual or back) starting
    now is invoiced at once; any other change only adds prorations to the next invoice."""
    if data.starts_immediately and data.billing_cycle is not current.billing_cycle:
        return preview.amount_due
    return 0


def _answer(tenant: Tenant) -> SubscriptionChangeOut:
    return SubscriptionChangeOut(tenant=tenant_views.tenant_details(tenant.id), subscription=_subscription_out(tenant))


def _subscription_out(tenant: Tenant) -> ChangedSubscriptionOut | None:
    subscription = tenant.subscription
    if subscription is None:
        return None
    from saas_core.services.catalog import plan_ref_by_id

    return ChangedSubscriptionOut(id=subscription.id, plan=plan_ref_by_id(subscription.plan_id),
                                  status=subscription.status, billing_cycle=subscription.billing_cycle,
                                  starts_at=subscription.starts_at, current_period_end=subscription.current_period_end)


# ------------------------------------------------------------ repairs

def _repair_stripe(tenant: Tenant, dead_changes: list[str], undo: Undo) -> None:
    """A change that died left Stripe unlike the stored tenant: make Stripe show the tenant as
    stored (its subscription's price and trial end, its pending change or none)."""
    if not dead_changes:
        return
    logger.info("repairing Stripe after tenant changes that did not finish",
                extra={"tenant_id": tenant.id, "changes": dead_changes})
    try:
        _match_stripe_to(tenant)
    except StripeUnavailable:
        undo.stripe_needs_repair = True
        raise


def _match_stripe_to(tenant: Tenant) -> None:
    subscription = tenant.subscription if tenant.has_active_subscription else None
    if subscription is None:
        return
    schedule_id = stripe_gateway.schedule_of(tenant, subscription.id)
    if schedule_id is not None and (tenant.pending_change is None or tenant.pending_change.schedule_id != schedule_id):
        stripe_gateway.release_schedule(tenant, schedule_id)
    state = stripe_gateway.subscription_state(tenant, subscription.id)
    if state.price_id != subscription.price_id:
        stripe_gateway.change_price(tenant, subscription.id, subscription.price_id, prorate=False,
                                    attempt=f"repair-{attempt_id()}")
    stored_trial_end = int(parse_iso(subscription.trial_ends_at).timestamp()) if subscription.trial_ends_at else None
    if state.status == "trialing" and stored_trial_end and state.trial_end != stored_trial_end:
        stripe_gateway.set_trial_end(tenant, subscription.id, stored_trial_end, f"repair-{attempt_id()}")


def clear_abandoned(tenant_id: str) -> bool:
    """Finish what a tenant change that died left (the sweeper calls this for expired holds): a
    deletion is completed, any other change's Stripe side is made to match the stored tenant."""
    held = tenants.pending_of(tenant_id)
    if held is None or held.in_progress(utc_now()):
        return held is None
    tenant = tenants.get(tenant_id)
    if tenant is None:
        return True
    sweeper = Principal(subject="reservation-sweeper", is_admin=True, via="system")
    change, _ = _hold(tenant, held.kind)
    try:
        if held.kind == "delete":
            _cancel_in_stripe(tenant)
            _finish_delete(tenant, sweeper, change)
            return True
        _match_stripe_to(tenant)
    except StripeUnavailable:
        return False
    tenants.release_hold(tenant_id, change)
    return True
