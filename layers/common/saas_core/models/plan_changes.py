"""An owner's own plan changes (seed 003 §5-§8)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from saas_core.models.common import Money, PlanId, StrictInput
from saas_core.models.plans import PlanRef


class TargetPlanIn(StrictInput):
    target_plan_id: PlanId


class UpgradeCheckOut(BaseModel):
    eligible: bool
    is_upgrade: bool
    current_plan: PlanRef
    target_plan: PlanRef
    price_difference_monthly: Money = Field(description="The target's monthly price less the current one's")
    issues: list[str] | None = Field(description="Why it is not eligible; null when it is")


class DowngradeCheckOut(BaseModel):
    eligible: bool
    current_plan: PlanRef
    target_plan: PlanRef
    monthly_savings: Money
    blocking_issues: list[str] | None = Field(description=(
        "Each reason it is not eligible, e.g. every metric whose usage is over the target's limit with both "
        "numbers; null when eligible"))


class PlanUpgradedOut(BaseModel):
    success: bool
    tenant_id: str
    new_plan_id: str
    new_plan_name: str
    upgraded_at: str
    prorated_amount: Money = Field(description=(
        "The net of Stripe's proration lines for the rest of the period (a credit when negative), carried by "
        "the next invoice"))
    currency: str


class PlanDowngradedOut(BaseModel):
    success: bool
    tenant_id: str
    new_plan_id: str
    new_plan_name: str
    downgraded_at: str = Field(description="When Stripe switches the plan: the end of the billing period")
    canceled_pending: bool = Field(default=False, description=(
        "true: the target was the current plan, so the pending downgrade was canceled instead"))
