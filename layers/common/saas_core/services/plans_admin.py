"""Plan management (seed 002): create, edit, archive, delete, with Stripe in step.

Order of steps: Stripe first, then one local transaction. If Stripe fails,
nothing local changes (502); if the local write fails, the Stripe objects
just made are retired again, best effort.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger

from saas_core import stripe_gateway, telemetry
from saas_core.access import Principal
from saas_core.clock import iso, utc_now
from saas_core.errors import AppError, BadRequest, Conflict, InvalidInput, StripeUnavailable
from saas_core.ids import new_id
from saas_core.models.plans import AdminPlanOut, Plan, PlanIn, PlanUpdateIn, StripePrices
from saas_core.money import to_minor
from saas_core.repositories import plans

logger = Logger(child=True)

# Fields of PlanUpdateIn copied onto the plan as they are.
_PLAIN_FIELDS = ("name", "display_name", "description", "tier", "trial_days", "is_active", "is_published",
                 "is_archived", "is_popular", "display_order", "features", "feature_list", "limits")
_PRODUCT_FIELDS = ("display_name", "description", "is_archived")


def _minor(amount: Decimal, currency: str, field: str) -> int:
    try:
        return to_minor(amount, currency)
    except ValueError as error:
        raise InvalidInput("The given data was invalid", {field: [str(error)]}) from None


# ----------------------------------------------------------------- create

def create_plan(data: PlanIn, actor: Principal, idempotency_key: str | None) -> AdminPlanOut:
    plan_id = new_id("pln", principal=actor, idempotency_key=idempotency_key, length=16)
    plan = plan_from_input(plan_id, data)
    return AdminPlanOut.of_plan(publish_plan(plan, actor, retryable=idempotency_key is not None))


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


def publish_plan(plan: Plan, actor: Principal, *, retryable: bool = True) -> Plan:
    """Create the plan's Stripe objects in every account, then store it.

    `retryable`: the plan id is derived from an Idempotency-Key, so a retry
    replays the same Stripe calls and objects made so far are kept for it;
    otherwise a failure archives them, as nothing could find them again.
    """
    existing = plans.get(plan.id)
    if existing is not None:
        # A retry of a create that already landed: same id, same answer.
        return existing
    plan = plan.model_copy(update={"stripe": _create_in_stripe(plan, retryable=retryable)})
    try:
        plans.create(plan, actor)
    except AppError:
        if not retryable:
            _retire_quietly(plan)
        raise
    telemetry.count("PlanCreated", plan_type=plan.type.value)
    return plan


def _create_in_stripe(plan: Plan, *, retryable: bool) -> dict[str, StripePrices]:
    products: dict[str, str] = {}
    created: dict[str, StripePrices] = {}
    try:
        for account in stripe_gateway.distinct_accounts():
            products[account] = stripe_gateway.create_product(plan, account)
            created[account] = stripe_gateway.create_prices(plan, account, products[account])
    except StripeUnavailable:
        if not retryable:
            for account, product_id in products.items():
                _archive_quietly(plan.id, account, product_id, created.get(account))
        raise
    # With one key for both accounts, both names point at the same objects.
    return {account: created.get(account, created["live"]) for account in stripe_gateway.ACCOUNTS}


def _retire_quietly(plan: Plan) -> None:
    for account, prices in _distinct_prices(plan).items():
        _archive_quietly(plan.id, account, prices.product_id, prices)


def _archive_quietly(plan_id: str, account: str, product_id: str, prices: StripePrices | None) -> None:
    _quietly(lambda: stripe_gateway.archive_product(account, product_id, prices),
             "could not archive Stripe product", plan_id, account)


def _quietly(step: Callable[[], None], failure: str, plan_id: str, account: str) -> None:
    """A best-effort Stripe clean-up: its failure is logged, not raised."""
    try:
        step()
    except StripeUnavailable:
        logger.warning(failure, extra={"plan_id": plan_id, "account": account})


def _distinct_prices(plan: Plan) -> dict[str, StripePrices]:
    seen: dict[str, StripePrices] = {}
    for account, prices in plan.stripe.items():
        if prices.product_id not in {p.product_id for p in seen.values()}:
            seen[account] = prices
    return seen


# ----------------------------------------------------------------- update

def update_plan(plan_id: str, data: PlanUpdateIn, actor: Principal) -> AdminPlanOut:
    before = plans.require(plan_id)
    if data.version is not None and data.version != before.version:
        raise Conflict(f"Plan is at version {before.version}, not {data.version}; reload and retry")
    after = _edited(before, data)
    price_changed = (after.price_monthly_minor, after.price_annual_minor) != (
        before.price_monthly_minor, before.price_annual_minor)
    if price_changed:
        after = after.model_copy(update={"stripe": _new_prices(after)})
    elif any(getattr(before, name) != getattr(after, name) for name in _PRODUCT_FIELDS):
        for account in _distinct_prices(after):
            stripe_gateway.update_product(after, account)
    plans.save_edit(before, after, actor, new_version=after.plan_version != before.plan_version)
    if price_changed:
        _retire_old_prices(before)
        telemetry.count("PlanRepriced", plan_type=after.type.value)
    return AdminPlanOut.of_plan(after)


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
    if (after.price_monthly_minor, after.price_annual_minor) != (before.price_monthly_minor,
                                                                 before.price_annual_minor):
        return f"{major + 1}.0.0"
    if (after.limits, after.features, after.feature_list) != (before.limits, before.features, before.feature_list):
        return f"{major}.{minor + 1}.0"
    return before.plan_version


def _new_prices(plan: Plan) -> dict[str, StripePrices]:
    created = {account: stripe_gateway.create_prices(plan, account, prices.product_id)
               for account, prices in _distinct_prices(plan).items()}
    return {account: created.get(account, created.get("live", prices))
            for account, prices in plan.stripe.items()}


def _retire_old_prices(before: Plan) -> None:
    for account, prices in _distinct_prices(before).items():
        # Harmless if it stays active: the catalog no longer points at it.
        _quietly(functools.partial(stripe_gateway.deactivate_prices, prices, account),
                 "could not deactivate old prices", before.id, account)


# ----------------------------------------------------------------- delete

def delete_plan(plan_id: str, actor: Principal) -> None:
    plan = plans.require(plan_id)
    if plan.active_subscriptions:
        raise BadRequest(f"Cannot delete plan with {plan.active_subscriptions} active subscriptions")
    archived = _distinct_prices(plan)
    for account, prices in archived.items():
        stripe_gateway.archive_product(account, prices.product_id, prices)
    try:
        plans.delete(plan, actor)
    except AppError:
        # Someone subscribed meanwhile: the plan lives on, so must its prices.
        for account, prices in archived.items():
            _quietly(functools.partial(stripe_gateway.restore_product, account, prices),
                     "could not restore Stripe product", plan.id, account)
        raise
    telemetry.count("PlanDeleted", plan_type=plan.type.value)
