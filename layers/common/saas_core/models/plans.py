"""Plans: the catalog of tiers, prices, limits and features."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, field_validator, model_validator

from saas_core.models.common import (
    MAX_COUNT,
    METRIC_PATTERN,
    Currency,
    Money,
    Name,
    PlanId,
    PriceIn,
    Slug,
    StrictInput,
    multi_line,
    single_line,
)
from saas_core.money import from_minor

MetricName = Annotated[str, StringConstraints(pattern=METRIC_PATTERN)]
FeatureName = Annotated[str, StringConstraints(pattern=METRIC_PATTERN)]
FeatureText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                        AfterValidator(single_line)]
Description = Annotated[str, StringConstraints(max_length=2000), AfterValidator(multi_line)]


class PlanType(StrEnum):
    PERSONAL = "personal"
    ORGANIZATION = "organization"


class BillingCycle(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"


class LimitPeriod(StrEnum):
    """`none`: a count (members, workflows); `day`: per UTC day; `month`: per billing period."""

    NONE = "none"
    DAY = "day"
    MONTH = "month"


class Limit(BaseModel):
    max: int | None = Field(default=None, ge=0, le=MAX_COUNT, description="null means unlimited")
    period: LimitPeriod = LimitPeriod.NONE


_SEED_LIMIT_SUFFIXES = (("_per_day", LimitPeriod.DAY), ("_per_month", LimitPeriod.MONTH))
_SEED_LIMIT_PREFIX = re.compile(r"^max_(?P<metric>[a-z0-9_]+?)(?:_per_workspace)?$")
# Seed 002's top-level plan fields, and the metric each one is. `max_agents`
# counts agents that exist; `agents_per_month` (in limits) meters their runs.
_SEED_PLAN_FIELDS = {"max_users": "members", "max_agents": "active_agents", "storage_gb": "storage_gb"}


def normalize_limit(name: str, value: Any) -> tuple[str, Any]:
    """Accept the seeds' spellings: `api_calls_per_day: 100` -> api_calls/day,
    `max_members_per_workspace: 5` -> members/none, or `{max, period}` as is."""
    if isinstance(value, dict):
        return name, value
    for suffix, period in _SEED_LIMIT_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix), {"max": value, "period": period}
    match = _SEED_LIMIT_PREFIX.match(name)
    metric = match.group("metric") if match else name
    return metric, {"max": value, "period": LimitPeriod.NONE}


def _normalize_plan_input(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    data = dict(data)
    # Seed 002 sends `features` as a list of strings: that is the feature list.
    if isinstance(data.get("features"), list) and "feature_list" not in data:
        data["feature_list"] = data.pop("features")
    limits = data.get("limits")
    if isinstance(limits, dict):
        data["limits"] = dict(normalize_limit(str(k), v) for k, v in limits.items())
    for field_name, metric in _SEED_PLAN_FIELDS.items():
        if field_name in data:
            merged = dict(data.get("limits") or {})
            merged[metric] = {"max": data.pop(field_name), "period": LimitPeriod.NONE}
            data["limits"] = merged
    return data


class _PlanFields(StrictInput):
    @model_validator(mode="before")
    @classmethod
    def _seed_shapes(cls, data: Any) -> Any:
        return _normalize_plan_input(data)


class PlanIn(_PlanFields):
    """POST /v1/admin/plans. Also accepts seed 002's `max_users`, `max_agents`,
    `storage_gb` and list-of-strings `features`, stored as limits and feature_list."""

    name: Name
    display_name: Name | None = None
    description: Description = ""
    type: PlanType
    tier: Slug
    price_monthly: PriceIn
    price_annual: PriceIn
    currency: Currency = "usd"
    trial_days: int = Field(default=0, ge=0, le=365)
    is_active: bool = True
    is_published: bool = False
    is_popular: bool = False
    display_order: int = Field(default=0, ge=0, le=9999)
    features: dict[FeatureName, bool] = Field(default_factory=dict)
    feature_list: list[FeatureText] = Field(default_factory=list, max_length=50)
    limits: dict[MetricName, Limit] = Field(default_factory=dict, max_length=30)


class PlanUpdateIn(_PlanFields):
    """PUT /v1/admin/plans/{plan_id}: every field optional. A price change
    creates new Stripe prices and bumps `plan_version`; subscribers keep theirs."""

    name: Name | None = None
    display_name: Name | None = None
    description: Description | None = None
    tier: Slug | None = None
    price_monthly: PriceIn | None = None
    price_annual: PriceIn | None = None
    trial_days: int | None = Field(default=None, ge=0, le=365)
    is_active: bool | None = None
    is_published: bool | None = None
    is_archived: bool | None = None
    is_popular: bool | None = None
    display_order: int | None = Field(default=None, ge=0, le=9999)
    features: dict[FeatureName, bool] | None = None
    feature_list: list[FeatureText] | None = Field(default=None, max_length=50)
    limits: dict[MetricName, Limit] | None = Field(default=None, max_length=30)
    version: int | None = Field(default=None, ge=1, le=MAX_COUNT,
                                description="Optimistic lock: refused with 409 when stale")

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Optional means "may be left out", not "may be erased".
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it")
        return value


class StripePrices(BaseModel):
    """A plan's Stripe objects in one account (live or test)."""

    product_id: str
    monthly_price_id: str
    annual_price_id: str


class Plan(BaseModel):
    """A plan as stored. Prices in minor units of `currency`."""

    id: PlanId
    name: str
    display_name: str
    description: str = ""
    type: PlanType
    tier: str
    currency: str = "usd"
    price_monthly_minor: int = Field(ge=0)
    price_annual_minor: int = Field(ge=0)
    trial_days: int = 0
    is_active: bool = True
    is_published: bool = False
    is_archived: bool = False
    is_popular: bool = False
    plan_version: str = "1.0.0"
    display_order: int = 0
    features: dict[str, bool] = Field(default_factory=dict)
    feature_list: list[str] = Field(default_factory=list)
    limits: dict[str, Limit] = Field(default_factory=dict)
    # Keyed by account: "live" and "test" (seed 000's chargeable flag).
    stripe: dict[str, StripePrices] = Field(default_factory=dict)
    active_subscriptions: int = 0
    version: int = 1
    created_at: str
    updated_at: str

    @property
    def is_public(self) -> bool:
        return self.is_active and self.is_published and not self.is_archived

    def price_minor(self, cycle: BillingCycle) -> int:
        return self.price_monthly_minor if cycle is BillingCycle.MONTHLY else self.price_annual_minor

    def limit_of(self, metric: str) -> int | None:
        limit = self.limits.get(metric)
        return None if limit is None else limit.max


# --------------------------------------------------------------- responses


class PlanRef(BaseModel):
    id: str
    name: str
    display_name: str
    tier: str


class PlanPricing(BaseModel):
    currency: str
    monthly: Money
    annual: Money
    monthly_price_usd: Money | None
    yearly_price_usd: Money | None


class PlanOut(BaseModel):
    """The public view: the union of seed 003's and seed 002's plan fields."""

    id: str
    name: str
    display_name: str
    description: str
    type: PlanType
    tier: str
    currency: str
    price_monthly: Money
    price_annual: Money
    monthly_price_usd: Money | None
    yearly_price_usd: Money | None
    pricing: PlanPricing
    trial_days: int
    is_popular: bool
    display_order: int
    plan_version: str
    features: dict[str, bool]
    feature_list: list[str]
    limits: dict[str, Limit]
    max_users: int | None
    storage_gb: int | None

    @classmethod
    def of(cls, plan: Plan) -> PlanOut:
        monthly = from_minor(plan.price_monthly_minor, plan.currency)
        annual = from_minor(plan.price_annual_minor, plan.currency)
        usd = plan.currency == "usd"
        return PlanOut(
            id=plan.id, name=plan.name, display_name=plan.display_name, description=plan.description,
            type=plan.type, tier=plan.tier, currency=plan.currency,
            price_monthly=monthly, price_annual=annual,
            monthly_price_usd=monthly if usd else None, yearly_price_usd=annual if usd else None,
            pricing=PlanPricing(currency=plan.currency, monthly=monthly, annual=annual,
                                monthly_price_usd=monthly if usd else None,
                                yearly_price_usd=annual if usd else None),
            trial_days=plan.trial_days, is_popular=plan.is_popular, display_order=plan.display_order,
            plan_version=plan.plan_version, features=plan.features, feature_list=plan.feature_list,
            limits=plan.limits, max_users=plan.limit_of("members"), storage_gb=plan.limit_of("storage_gb"),
        )


class AdminPlanOut(PlanOut):
    is_active: bool
    is_published: bool
    is_archived: bool
    active_subscriptions: int
    stripe: dict[str, StripePrices]
    version: int
    created_at: str
    updated_at: str

    @classmethod
    def of_plan(cls, plan: Plan) -> AdminPlanOut:
        return cls(
            **PlanOut.of(plan).model_dump(), is_active=plan.is_active, is_published=plan.is_published,
            is_archived=plan.is_archived, active_subscriptions=plan.active_subscriptions, stripe=plan.stripe,
            version=plan.version, created_at=plan.created_at, updated_at=plan.updated_at,
        )


class PlanListOut(BaseModel):
    plans: list[PlanOut]
    count: int


class CompareIn(BaseModel):
    plan_id_1: PlanId
    plan_id_2: PlanId


class LimitComparison(BaseModel):
    plan_1: Limit | None
    plan_2: Limit | None
    difference: int | None = Field(description="plan_2 max minus plan_1 max; null when either is unlimited")


class PricingComparison(BaseModel):
    currency: str
    plan_1_monthly: Money
    plan_2_monthly: Money
    monthly_difference: Money
    plan_1_annual: Money
    plan_2_annual: Money
    annual_difference: Money


class Comparison(BaseModel):
    limits: dict[str, LimitComparison]
    pricing: PricingComparison


class ComparedPlans(BaseModel):
    plan_1: PlanRef
    plan_2: PlanRef


class ComparedFeatures(BaseModel):
    plan_1: dict[str, bool]
    plan_2: dict[str, bool]


class CompareOut(BaseModel):
    plans: ComparedPlans
    comparison: Comparison
    features: ComparedFeatures


class DeletedOut(BaseModel):
    id: str
    deleted: bool = True
