"""The catalog: what the public sees (seed 003 §1, §2, §4: published,
unarchived, active plans) and the admin's list of every plan (seed 002)."""

from __future__ import annotations

from saas_core import cursor
from saas_core.errors import BadRequest, NotFound
from saas_core.models.common import Page
from saas_core.models.plans import (
    AdminPlanOut,
    ComparedFeatures,
    ComparedPlans,
    CompareOut,
    Comparison,
    LimitComparison,
    Plan,
    PlanListOut,
    PlanOut,
    PlanRef,
    PlanType,
    PricingComparison,
)
from saas_core.money import from_minor
from saas_core.repositories import plans


def plan_ref(plan: Plan) -> PlanRef:
    return PlanRef(id=plan.id, name=plan.name, display_name=plan.display_name, tier=plan.tier)


def plan_ref_by_id(plan_id: str) -> PlanRef:
    """The plan's reference; a deleted plan still shows what it was called."""
    plan = plans.get(plan_id)
    if plan is None:
        return PlanRef(id=plan_id, name="(deleted plan)", display_name="(deleted plan)", tier="")
    return plan_ref(plan)


def public_plans() -> PlanListOut:
    listed = [PlanOut.of(plan) for plan in plans.list_catalog() if plan.is_public]
    return PlanListOut(plans=listed, count=len(listed))


def _public_plan(plan_id: str) -> Plan:
    plan = plans.get(plan_id)
    # A hidden plan is as absent as a missing one to the public.
    if plan is None or not plan.is_public:
        raise NotFound("Plan not found")
    return plan


def public_plan(plan_id: str) -> PlanOut:
    return PlanOut.of(_public_plan(plan_id))


def compare(plan_id_1: str, plan_id_2: str) -> CompareOut:
    first, second = _public_plan(plan_id_1), _public_plan(plan_id_2)
    if first.currency != second.currency:
        raise BadRequest("Plans priced in different currencies cannot be compared")
    return CompareOut(
        plans=ComparedPlans(plan_1=plan_ref(first), plan_2=plan_ref(second)),
        comparison=Comparison(limits=_compare_limits(first, second), pricing=_compare_pricing(first, second)),
        features=ComparedFeatures(plan_1=_all_features(first, second), plan_2=_all_features(second, first)),
    )


def _compare_limits(first: Plan, second: Plan) -> dict[str, LimitComparison]:
    compared = {}
    for metric in sorted(first.limits.keys() | second.limits.keys()):
        one, two = first.limits.get(metric), second.limits.get(metric)
        difference = None
        if one is not None and two is not None and one.max is not None and two.max is not None:
            difference = two.max - one.max
        compared[metric] = LimitComparison(plan_1=one, plan_2=two, difference=difference)
    return compared


def _compare_pricing(first: Plan, second: Plan) -> PricingComparison:
    currency = first.currency
    return PricingComparison(
        currency=currency,
        plan_1_monthly=from_minor(first.price_monthly_minor, currency),
        plan_2_monthly=from_minor(second.price_monthly_minor, currency),
        monthly_difference=from_minor(second.price_monthly_minor - first.price_monthly_minor, currency),
        plan_1_annual=from_minor(first.price_annual_minor, currency),
        plan_2_annual=from_minor(second.price_annual_minor, currency),
        annual_difference=from_minor(second.price_annual_minor - first.price_annual_minor, currency),
    )


def _all_features(plan: Plan, other: Plan) -> dict[str, bool]:
    # A flag only the other plan mentions is one this plan does not have.
    return {name: plan.features.get(name, False) for name in sorted(plan.features.keys() | other.features.keys())}


def admin_plans_page(*, plan_type: PlanType | None, active: bool | None, per_page: int,
               cursor_text: str | None) -> Page[AdminPlanOut]:
    """The whole catalog, archived included, filtered and paged. The catalog
    is one small index partition, so the page is cut from one Query."""
    query = f"type={plan_type}&active={active}"
    offset = int(cursor.decode(cursor_text, query).get("offset", 0)) if cursor_text else 0
    matching = [plan for plan in plans.list_catalog()
                if (plan_type is None or plan.type is plan_type)
                and (active is None or plan.is_active is active)]
    page = matching[offset:offset + per_page]
    next_offset = offset + per_page
    next_cursor = cursor.encode({"offset": next_offset}, query) if next_offset < len(matching) else None
    return Page[AdminPlanOut](items=[AdminPlanOut.of_plan(plan) for plan in page], next_cursor=next_cursor,
                              per_page=per_page, total=len(matching))
