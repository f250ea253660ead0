"""Plan management (seed 002): create, edit, archive, delete, with Stripe in step.

Every change that touches Stripe follows one order: hold the plan locally
(`plans.reserve` for a new plan, `plans.hold` for an existing one), make the
Stripe changes, then write the plan in one transaction that also releases
the hold. If Stripe or the write fails, the Stripe changes are undone and
the hold released: the caller gets 502 or 409 and nothing changed. If the
undo itself fails, the hold stays until it expires, naming the change, and
the next change of the plan repairs Stripe before doing its own.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger

from saas_core import deadline, stripe_gateway, telemetry
from saas_core.access import Principal
from saas_core.clock import iso, utc_now
from saas_core.errors import BadRequest, Conflict, InvalidInput, StripeUnavailable
from saas_core.ids import attempt_id, new_id
from saas_core.models.plans import AdminPlanOut, Plan, PlanIn, PlanUpdateIn, StripePrices
from saas_core.money import to_minor
from saas_core.repositories import plans
from saas_core.services.changes import Undo, undo_unless_landed

logger = Logger(child=True)

# Fields of PlanUpdateIn copied onto the plan as they are.
_PLAIN_FIELDS = ("name", "display_name", "description", "tier", "trial_days", "is_active", "is_published",
                 "is_archived", "is_popular", "display_order", "features", "feature_list", "limits")
# Fields Stripe's product shows: changing one is a Stripe change.
_PRODUCT_FIELDS = ("display_name", "description", "is_archived")


def _minor(amount: Decimal, currency: str, field: str) -> int:
    try:
        return to_minor(amount, currency)
    except ValueError as error:
        raise InvalidInput("The given data was invalid", {field: [str(error)]}) from None


def _distinct_prices(plan: Plan) -> dict[str, StripePrices]:
    """The plan's objects in each Stripe account actually used (one key for both: one account)."""
    return {account: plan.stripe[account] for account in stripe_gateway.distinct_accounts() if account in plan.stripe}


def _hold_released(plan_id: str, change: str) -> bool:
    """The change's save removes its hold in the same write: no hold of it, the save landed."""
    held = plans.pending_of(plan_id)
    return held is None or held.change != change


# ----------------------------------------------------------------- create

def create_plan(data: PlanIn, actor: Principal, request_key: str | None) -> AdminPlanOut:
    plan_id = new_id("pln", request_key=request_key, length=16)
    plan = plan_from_input(plan_id, data)
    return AdminPlanOut.of_plan(publish_plan(plan, actor))


def plan_from_input(plan_id: str, data: PlanIn) -> Plan:
    now = iso(utc_now())
    return Plan(
        id=plan_id, name=data.name, display_name=data.display_name or data.name, description=data.description,
        type=data.type, tier=data.tier, currency=data.currency,
        price_monthly_minor=_minor(data.price_monthly, data.currency, "price_monthly"),
        price_annual_minor=_minor(data.price_annual, data.currency, "price_annual"),
        trial_days=data.trial_days, is_active=data.is_active, is_published=data.is_published,
        is_popular=data.is_popular, display_order=data.display_order, features=data.features,
        feature_list=data.feature_list, limits=data.limits, created_at=now, updated_at=now,
    )


def publish_plan(plan: Plan, actor: Principal) -> Plan:
    """Reserve the plan's id, create its Stripe product and prices in every account, then store it."""
    existing = plans.get(plan.id)
    if existing is not None:
        return existing  # a retry of a create that already landed: same id, same answer
    change = _reserve(plan)
    undo = Undo(plan.id)
    try:
        plan = plan.model_copy(update={"stripe": _create_in_stripe(plan, change, undo)})
        plans.create(plan, actor, change)
    except Exception:
        if undo_unless_landed(undo, landed=lambda: plans.get(plan.id) is not None,
                               release=lambda: plans.drop_reservation(plan.id, change)):
            return plan
        raise
    telemetry.count("PlanCreated", plan_type=plan.type.value)
    return plan


def _reserve(plan: Plan) -> str:
    change = attempt_id()
    try:
        plans.reserve(plan, change)
    except plans.PlanReserved:
        # An earlier attempt at this very request stopped midway: take it over once it is not running.
        previous = plans.pending_of(plan.id)
        if previous is None or previous.in_progress(utc_now()):
            raise Conflict("This plan is being created by another request; retry shortly") from None
        plans.take_over(plan.id, previous, change, "create")
    return change


def _create_in_stripe(plan: Plan, change: str, undo: Undo) -> dict[str, StripePrices]:
    created: dict[str, StripePrices] = {}
    for account in stripe_gateway.distinct_accounts():
        # Registered before the call: an unanswered create may still have happened. The
        # product's id is the plan's, so the undo finds it (or finds there is nothing to undo).
        undo.add(f"archive the product in {account}", functools.partial(_archive_new_plan, plan.id, account))
        product_id = stripe_gateway.ensure_product(plan, account, change)
        # A create's prices are tagged with the plan, not the attempt: a resumed attempt reuses them.
        created[account] = stripe_gateway.create_prices(plan, account, product_id, tag=_creation(plan.id),
                                                        attempt=change)
    # With one key for both accounts, both names point at the same objects.
    return {account: created.get(account, created["live"]) for account in stripe_gateway.ACCOUNTS}


def _creation(plan_id: str) -> str:
    return f"create:{plan_id}"


def _archive_new_plan(product_id: str, account: str) -> None:
    if not stripe_gateway.product_exists(product_id, account):
        return
    prices = stripe_gateway.prices_of_change(account, product_id, _creation(product_id))
    stripe_gateway.set_prices_active(prices.values(), account, active=False)
    stripe_gateway.set_product_active(product_id, account, active=False)


# ----------------------------------------------------------------- update

def update_plan(plan_id: str, data: PlanUpdateIn, actor: Principal) -> AdminPlanOut:
    before = plans.require(plan_id)
    if data.version is not None and data.version != before.version:
        raise Conflict(f"Plan is at version {before.version}, not {data.version}; reload and retry")
    after = _edited(before, data)
    if not _touches_stripe(before, after):
        plans.save_edit(before, after, actor, new_version=after.plan_version != before.plan_version, change=None)
        return AdminPlanOut.of_plan(after)
    change, to_repair = _hold(before, "update")
    undo = Undo(plan_id)
    try:
        _repair_stripe(before, to_repair, undo)
        after = _update_in_stripe(before, after, change, undo)
        plans.save_edit(before, after, actor, new_version=after.plan_version != before.plan_version, change=change)
    except Exception:
        if not undo_unless_landed(undo, landed=lambda: _hold_released(plan_id, change),
                                   release=lambda: plans.release_hold(plan_id, change)):
            raise
    if _price_changed(before, after):
        _retire_old_prices(before)
        telemetry.count("PlanRepriced", plan_type=after.type.value)
    return AdminPlanOut.of_plan(after)


def _price_changed(before: Plan, after: Plan) -> bool:
    return (after.price_monthly_minor, after.price_annual_minor) != (before.price_monthly_minor,
                                                                     before.price_annual_minor)


def _product_changed(before: Plan, after: Plan) -> bool:
    return any(getattr(before, name) != getattr(after, name) for name in _PRODUCT_FIELDS)


def _touches_stripe(before: Plan, after: Plan) -> bool:
    return _price_changed(before, after) or _product_changed(before, after)


def _update_in_stripe(before: Plan, after: Plan, change: str, undo: Undo) -> Plan:
    """New prices and the product's new name, description or state (a rename with a reprice does both)."""
    if _price_changed(before, after):
        created = {}
        for account, prices in _distinct_prices(after).items():
            undo.add(f"retire the new prices in {account}",
                     functools.partial(_retire_change, account, prices.product_id, change))
            created[account] = stripe_gateway.create_prices(after, account, prices.product_id, tag=change,
                                                            attempt=change)
        after = after.model_copy(update={"stripe": {account: created.get(account, created.get("live", prices))
                                                    for account, prices in after.stripe.items()}})
    if _product_changed(before, after):
        for account in _distinct_prices(after):
            undo.add(f"restore the product in {account}", functools.partial(stripe_gateway.update_product,
                                                                              before, account))
            stripe_gateway.update_product(after, account)
    return after


def _retire_change(account: str, product_id: str, change: str) -> None:
    stripe_gateway.set_prices_active(stripe_gateway.prices_of_change(account, product_id, change).values(),
                                     account, active=False)


def _edited(before: Plan, data: PlanUpdateIn) -> Plan:
    given = data.model_dump(exclude_unset=True, exclude={"version"})
    changes: dict[str, Any] = {name: getattr(data, name) for name in _PLAIN_FIELDS if name in given}
    if "price_monthly" in given and data.price_monthly is not None:
        changes["price_monthly_minor"] = _minor(data.price_monthly, before.currency, "price_monthly")
    if "price_annual" in given and data.price_annual is not None:
        changes["price_annual_minor"] = _minor(data.price_annual, before.currency, "price_annual")
    after = before.model_copy(update=changes)
    return after.model_copy(update={
        "plan_version": _next_plan_version(before, after),
        "version": before.version + 1,
        "updated_at": iso(utc_now()),
    })


def _next_plan_version(before: Plan, after: Plan) -> str:
    """Major for a price change (new Stripe prices), minor for limits or
    features (what subscribers get changes), otherwise unchanged."""
    major, minor, _ = (int(part) for part in before.plan_version.split("."))
    if _price_changed(before, after):
        return f"{major + 1}.0.0"
    if (after.limits, after.features, after.feature_list) != (before.limits, before.features, before.feature_list):
        return f"{major}.{minor + 1}.0"
    return before.plan_version


def _retire_old_prices(before: Plan) -> None:
    for account, prices in _distinct_prices(before).items():
        # Harmless if it stays active: the catalog no longer points at it.
        try:
            stripe_gateway.set_prices_active(stripe_gateway.price_ids(prices), account, active=False)
        except StripeUnavailable:
            logger.warning("could not retire old prices", extra={"plan_id": before.id, "account": account})


# ------------------------------------------------------------------ holds

def _hold(plan: Plan, kind: str) -> tuple[str, list[str]]:
    """Hold the plan for this change. Returns the change's id and the changes that died
    before Stripe was put right, which this change repairs first (and inherits meanwhile)."""
    left_behind = plans.pending_of(plan.id)
    to_repair = left_behind.left_to_repair() if left_behind else []
    change = attempt_id()
    plans.hold(plan, change, kind, to_repair)
    return change, to_repair


def _repair_stripe(plan: Plan, dead_changes: list[str], undo: Undo) -> None:
    """Make Stripe show the plan as stored: its product and current prices as they should be,
    and whatever the dead changes made retired. Each step is idempotent."""
    if not dead_changes:
        return
    logger.info("repairing Stripe after changes that did not finish",
                extra={"plan_id": plan.id, "changes": dead_changes})
    try:
        for account, prices in _distinct_prices(plan).items():
            for dead_change in dead_changes:
                _retire_change(account, prices.product_id, dead_change)
            stripe_gateway.set_prices_active(stripe_gateway.price_ids(prices), account, active=True)
            stripe_gateway.update_product(plan, account)
    except StripeUnavailable:
        undo.stripe_needs_repair = True
        raise


# ------------------------------------------------------- what died midway

def clear_abandoned(plan_id: str) -> bool:
    """Finish what a plan change or create that died midway left behind; True when the plan
    is no longer held. A create's reservation: its product and prices archived, the reservation
    dropped. A change's hold: Stripe repaired to show the plan as stored, the hold released.
    The reservation sweeper calls this for holds that have expired."""
    held = plans.pending_of(plan_id)
    if held is None or held.in_progress(utc_now()):
        return held is None
    logger.info("clearing an abandoned plan hold", extra={"plan_id": plan_id, "kind": held.kind})
    if held.kind == "create":
        return _clear_abandoned_create(plan_id, held)
    plan = plans.require(plan_id)
    change, to_repair = _hold(plan, "update")
    undo = Undo(plan_id)
    try:
        _repair_stripe(plan, to_repair, undo)
    except StripeUnavailable:
        return False  # the hold stays, naming the repairs, for the next sweep
    plans.release_hold(plan_id, change)
    return True


def _clear_abandoned_create(plan_id: str, held: plans.Pending) -> bool:
    cleanup = attempt_id()
    plans.take_over(plan_id, held, cleanup, "create")
    try:
        with deadline.undoing():
            for account in stripe_gateway.distinct_accounts():
                _archive_new_plan(plan_id, account)
    except StripeUnavailable:
        return False
    plans.drop_reservation(plan_id, cleanup)
    return True


# ----------------------------------------------------------------- delete

def delete_plan(plan_id: str, actor: Principal) -> None:
    plan = plans.require(plan_id)
    if plan.active_subscriptions:
        raise BadRequest(f"Cannot delete plan with {plan.active_subscriptions} active subscriptions")
    change, to_repair = _hold(plan, "delete")
    undo = Undo(plan_id)
    try:
        _repair_stripe(plan, to_repair, undo)
        for account, prices in _distinct_prices(plan).items():
            _archive_in_stripe(account, prices, undo)
        plans.delete(plan, actor, change)
    except Exception:
        if not undo_unless_landed(undo, landed=lambda: plans.get(plan_id) is None,
                                   release=lambda: plans.release_hold(plan_id, change)):
            raise
    telemetry.count("PlanDeleted", plan_type=plan.type.value)


def _archive_in_stripe(account: str, prices: StripePrices, undo: Undo) -> None:
    """Retire the prices and archive the product, each step undone if a later one fails."""
    for price_id in stripe_gateway.price_ids(prices):
        undo.add(f"restore price {price_id}", functools.partial(stripe_gateway.set_prices_active, [price_id],
                                                                account, active=True))
        stripe_gateway.set_prices_active([price_id], account, active=False)
    undo.add("restore the product", functools.partial(stripe_gateway.set_product_active, prices.product_id,
                                                      account, active=True))
    stripe_gateway.set_product_active(prices.product_id, account, active=False)
