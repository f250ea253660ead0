"""Tenants: workspaces, organizations and personal accounts (API.md)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from saas_core.access import Role
from saas_core.clock import iso, parse_iso, utc_now
from saas_core.models.common import Email, Money, Name, PlanId, Slug, StrictInput, single_line
from saas_core.models.plans import BillingCycle, Limit, Plan, PlanRef, PlanType

Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()-]{6,20}$")]
UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
                   AfterValidator(single_line)]


class TenantStatus(StrEnum):
    PENDING_VERIFICATION = "pending_verification"
    ACTIVE = "active"
    INACTIVE = "inactive"
    SUSPENDED = "suspended"


# Stripe subscription statuses that count as a live subscription.
LIVE_SUBSCRIPTION_STATUSES = frozenset({"trialing", "active", "past_due"})


class TenantIn(StrictInput):
    """POST /v1/admin/tenants."""

    name: Name
    email: Email
    type: PlanType
    plan_id: PlanId
    billing_cycle: BillingCycle
    subdomain_preference: Slug | None = None
    phone: Phone | None = None
    owner_email: Email | None = Field(default=None, description="Defaults to `email`")
    owner_user_id: UserId | None = None
    chargeable: bool = Field(default=True, description="Bill in the live Stripe account (else the test one)")


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
                   AfterValidator(single_line)]
STATUSES_NEEDING_A_REASON = frozenset({TenantStatus.SUSPENDED, TenantStatus.INACTIVE})


class TenantStatusIn(StrictInput):
    """PUT /v1/admin/tenants/{tenant_id}/status. A reason is required to suspend or deactivate."""

    status: TenantStatus
    reason: Reason | None = Field(default=None, validate_default=True,
                                  description="Required for suspended and inactive")

    @field_validator("reason")
    @classmethod
    def _reason_when_refusing_access(cls, reason: str | None, info: ValidationInfo) -> str | None:
        status = info.data.get("status")
        if status in STATUSES_NEEDING_A_REASON and not reason:
            raise ValueError(f"is required to make a tenant {status.value}")
        return reason


class ExtendTrialIn(StrictInput):
    """POST /v1/admin/tenants/{tenant_id}/extend-trial."""

    days: int = Field(ge=1, le=365)
    reason: Reason | None = None


class SubscriptionChangeIn(StrictInput):
    """PUT /v1/admin/tenants/{tenant_id}/subscription (seed 002)."""

    plan_id: PlanId
    billing_cycle: BillingCycle
    starts_immediately: bool = Field(default=False, description="Now, or at the end of the current period")
    prorate: bool = Field(default=False, description="Bill or credit the difference for the rest of the period")
    preview: bool = Field(default=False, description="Change nothing: return what Stripe would invoice")


class Member(BaseModel):
    tenant_id: str
    email: str
    user_id: str | None = None
    role: Role
    joined_at: str


class SubscribedPlan(BaseModel):
    """The plan as it was when the tenant subscribed: history and lists show that (its price
    is what the tenant pays), not what the plan has become since."""

    name: str
    display_name: str
    tier: str
    currency: str
    price_monthly_minor: int
    price_annual_minor: int

    @classmethod
    def of(cls, plan: Plan) -> SubscribedPlan:
        return cls(name=plan.name, display_name=plan.display_name, tier=plan.tier, currency=plan.currency,
                   price_monthly_minor=plan.price_monthly_minor, price_annual_minor=plan.price_annual_minor)


class Subscription(BaseModel):
    """One Stripe subscription of a tenant, as the tenant's history keeps it."""

    id: str
    plan_id: str
    plan_version: str
    price_id: str
    billing_cycle: BillingCycle
    status: str
    starts_at: str
    trial_ends_at: str | None = None
    current_period_start: str
    current_period_end: str
    canceled_at: str | None = None
    created_at: str
    plan: SubscribedPlan
    # Set in Stripe (the dashboard, or a customer portal): the subscription ends at the period's end.
    cancel_at_period_end: bool = False
    cancel_at: str | None = None
    # Its history row's key when several rows share a second and a Stripe subscription (a plan
    # changed right after another change); rows from before keep `<created_at>#<id>`.
    row: str | None = None

    @property
    def row_key(self) -> str:
        return self.row or f"{self.created_at}#{self.id}"


class PendingChange(BaseModel):
    """A plan change Stripe will make at the end of the current period (a subscription schedule)."""

    schedule_id: str
    plan_id: str
    plan_version: str
    price_id: str
    billing_cycle: BillingCycle
    starts_at: str


class BillingStanding(BaseModel):
    """What the tenant owes Stripe, as the last Stripe event or reconciliation read it."""

    unpaid_minor: int = 0
    currency: str | None = None
    overdue_since: str | None = None  # the oldest unpaid invoice past its due date
    customer_deleted_at: str | None = None  # its Stripe customer was deleted (in Stripe)


class BillingPeriod(BaseModel):
    start: str
    end: str
    set_by_admin: bool = False

    @property
    def counter_key(self) -> str:
        """What month counters are keyed by: a period an admin set restarts them even when it starts when
        Stripe's does."""
        return f"{self.start}~set" if self.set_by_admin else self.start


class Tenant(BaseModel):
    """A tenant as stored."""

    id: str
    name: str
    email: str
    phone: str | None = None
    type: PlanType
    status: TenantStatus = TenantStatus.ACTIVE
    subdomain_preference: str | None = None
    plan_id: str
    billing_cycle: BillingCycle
    chargeable: bool = True
    stripe_customer_id: str | None = None
    subscription: Subscription | None = None
    pending_change: PendingChange | None = None
    billing: BillingStanding = Field(default_factory=BillingStanding)
    billing_email: str | None = None  # where Stripe sends invoices, when not the tenant's email
    billing_currency: str | None = None
    # A billing period an admin set (seed 003 §10): month counters restart with it, until Stripe's next period.
    set_period: BillingPeriod | None = None
    status_reason: str | None = None
    subdomain_activated_at: str | None = None
    members_count: int = 0
    subscriptions_count: int = 0
    version: int = 1
    created_at: str
    updated_at: str
    deleted_at: str | None = None

    @property
    def stripe_account(self) -> str:
        return "live" if self.chargeable else "test"

    @property
    def has_active_subscription(self) -> bool:
        return self.subscription is not None and self.subscription.status in LIVE_SUBSCRIPTION_STATUSES

    @property
    def is_on_trial(self) -> bool:
        return self.subscription is not None and self.subscription.status == "trialing"

    @property
    def admits_members(self) -> bool:
        """Suspended and inactive tenants keep their records but let no member in."""
        return self.status not in (TenantStatus.SUSPENDED, TenantStatus.INACTIVE)

    def changed(self, **fields: object) -> Tenant:
        """The tenant with `fields` changed: the next version, updated now."""
        return self.model_copy(update={**fields, "version": self.version + 1, "updated_at": iso(utc_now())})

    def trial_days_remaining(self, now: datetime) -> int:
        return trial_days_left(self.subscription, now)

    def billing_period(self) -> BillingPeriod | None:
        """The period month counters count in: the later-starting of Stripe's current period and one an
        admin set; None for a tenant with neither (counted by calendar month)."""
        stripe = (BillingPeriod(start=self.subscription.current_period_start,
                                end=self.subscription.current_period_end) if self.subscription else None)
        # The admin's first: at the same start, the period an admin set wins.
        periods = [period for period in (self.set_period, stripe) if period is not None]
        return max(periods, key=lambda period: parse_iso(period.start)) if periods else None


def trial_days_left(subscription: Subscription | None, now: datetime) -> int:
    """Whole days of trial left, a started day counting as one (seed 002's figure)."""
    if subscription is None or subscription.status != "trialing" or subscription.trial_ends_at is None:
        return 0
    remaining = parse_iso(subscription.trial_ends_at) - now
    return max(0, remaining.days + (1 if remaining.seconds else 0))


# --------------------------------------------------------------- responses


class SubscribedPlanOut(PlanRef):
    """The plan as subscribed: names, and the prices of that plan version."""

    currency: str
    price_monthly: Money
    price_annual: Money


class SubscriptionOut(BaseModel):
    id: str
    plan: SubscribedPlanOut
    plan_version: str
    status: str
    billing_cycle: BillingCycle
    starts_at: str
    trial_ends_at: str | None
    current_period_start: str
    current_period_end: str
    canceled_at: str | None
    cancel_at_period_end: bool = False
    created_at: str


class BillingStandingOut(BaseModel):
    """What the tenant owes, from Stripe (kept in step by Stripe's events)."""

    unpaid_balance: Money
    currency: str | None
    overdue_since: str | None
    stripe_customer_deleted: bool


class BillingIn(StrictInput):
    """PUT /v1/tenants/{tenant_id}/billing (seed 003 §9): every field optional, at least one given."""

    stripe_customer_id: str | None = Field(default=None, pattern=r"^cus_[A-Za-z0-9]{1,250}$")
    stripe_subscription_id: str | None = Field(default=None, pattern=r"^sub_[A-Za-z0-9]{1,250}$")
    billing_email: Email | None = None
    billing_currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$", description="ISO 4217, e.g. USD")

    @field_validator("billing_currency")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else value


class BillingPeriodIn(StrictInput):
    """POST /v1/tenants/{tenant_id}/billing/period (seed 003 §10)."""

    period_start: datetime
    period_end: datetime

    @field_validator("period_end")
    @classmethod
    def _after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("period_start")
        if start is not None and end <= start:
            raise ValueError("must be after period_start")
        if start is not None and (end - start).days > 366:
            raise ValueError("a billing period is at most a year")
        return end

    @field_validator("period_start", "period_end")
    @classmethod
    def _aware(cls, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("needs a time zone (e.g. 2024-01-01T00:00:00Z)")
        return moment


class BillingPeriodOut(BaseModel):
    success: bool
    tenant_id: str
    period_start: str
    period_end: str


class BillingInfoOut(BaseModel):
    tenant_id: str
    stripe_customer_id: str | None
    stripe_subscription_id: str | None
    billing_email: str
    billing_currency: str = Field(description="Upper case, as seed 003 shows it")


class MemberIn(StrictInput):
    """A member added by the tenant's owner (always with the role member: a tenant has one owner)."""

    email: Email
    user_id: UserId | None = None


class MemberOut(BaseModel):
    email: str
    user_id: str | None
    role: Role
    joined_at: str


class PendingChangeOut(BaseModel):
    plan: PlanRef
    billing_cycle: BillingCycle
    starts_at: str


class TenantOut(BaseModel):
    """Seed 002's tenant details."""

    id: str
    name: str
    email: str
    phone: str | None
    type: PlanType
    status: TenantStatus
    subdomain_preference: str | None
    subdomain_activated_at: str | None = None
    plan: PlanRef
    is_on_trial: bool
    trial_days_remaining: int
    billing_cycle: BillingCycle
    chargeable: bool
    stripe_customer_id: str | None
    has_active_subscription: bool
    active_subscription: SubscriptionOut | None
    subscriptions: list[SubscriptionOut]
    memberships: list[MemberOut]
    memberships_count: int
    subscriptions_count: int
    pending_change: PendingChangeOut | None = None
    billing: BillingStandingOut
    status_reason: str | None = None
    version: int
    created_at: str
    updated_at: str
    deleted_at: str | None = None


class TrialOut(BaseModel):
    """What extend-trial answers (seed 002): the subscription's trial as Stripe now has it."""

    id: str
    status: str
    trial_ends_at: str | None


class ChangedSubscriptionOut(BaseModel):
    id: str
    plan: PlanRef
    status: str
    billing_cycle: BillingCycle
    starts_at: str
    current_period_end: str


class PreviewLineOut(BaseModel):
    description: str
    amount: Money
    proration: bool
    period_start: str
    period_end: str


class InvoicePreviewOut(BaseModel):
    """What Stripe would invoice for the change (its invoice preview)."""

    currency: str
    lines: list[PreviewLineOut]
    amount_due_now: Money = Field(description=(
        "What the change charges at once: the previewed invoice's amount due when the billing cycle "
        "changes now (a new cycle starts and is invoiced); nothing otherwise"))
    proration_total: Money = Field(description=(
        "The net of the proration lines (negative: a credit), carried by the next invoice"))
    next_invoice_total: Money


class SubscriptionChangeOut(BaseModel):
    """Seed 002's answer: the tenant and its subscription; with `preview`, what Stripe would invoice."""

    tenant: TenantOut
    subscription: ChangedSubscriptionOut | None
    preview: InvoicePreviewOut | None = None


class InvoiceOut(BaseModel):
    id: str
    number: str | None
    status: str | None
    currency: str
    amount_due: Money
    amount_paid: Money
    created: str
    due_date: str | None
    hosted_invoice_url: str | None


class PaymentMethodOut(BaseModel):
    id: str
    type: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    is_default: bool


class OrganizationOut(BaseModel):
    name: str
    subdomain: str | None
    subdomain_activated_at: str | None
    members_count: int


class TenantDetailsOut(TenantOut):
    """GET /v1/admin/tenants/{tenant_id}: the details with what Stripe holds for the tenant.
    When Stripe does not answer, `invoices` and `payment_methods` are null and `warnings` says why."""

    organization: OrganizationOut | None
    invoices: list[InvoiceOut] | None
    payment_methods: list[PaymentMethodOut] | None
    invoices_count: int | None
    warnings: list[str]


class UsageOut(BaseModel):
    current: int
    limit: int | None
    period: str


class BillingOut(BaseModel):
    billing_cycle: BillingCycle
    period_start: str | None
    period_end: str | None
    subscription_status: str | None
    trial_ends_at: str | None


class TenantPlanOut(BaseModel):
    """GET /v1/tenants/{tenant_id}/plan (seed 003 §3)."""

    tenant_id: str
    plan: PlanRef
    limits: dict[str, Limit]
    usage: dict[str, UsageOut]
    billing: BillingOut
    pending_downgrade: PlanRef | None = None


# --------------------------------------------------------------- lists, statistics, audit

class TenantSortField(StrEnum):
    CREATED_AT = "created_at"
    NAME = "name"
    EMAIL = "email"
    TYPE = "type"
    STATUS = "status"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class ListedSubscriptionOut(BaseModel):
    id: str
    plan: SubscribedPlanOut
    status: str
    billing_cycle: BillingCycle
    trial_ends_at: str | None
    current_period_end: str


class TenantListItemOut(BaseModel):
    """One tenant in GET /v1/admin/tenants (seed 002's list fields)."""

    id: str
    name: str
    email: str
    type: PlanType
    status: TenantStatus
    subdomain_preference: str | None
    plan_id: str
    is_on_trial: bool
    trial_days_remaining: int
    billing_cycle: BillingCycle
    has_active_subscription: bool
    active_subscription: ListedSubscriptionOut | None
    memberships_count: int
    created_at: str
    deleted_at: str | None


class TenantPage(BaseModel):
    items: list[TenantListItemOut]
    next_cursor: str | None
    per_page: int
    total: int | None = Field(description=(
        "Exact with no filter, with one filter (type and status together count as one) and with a "
        "search of one word of up to 5 characters; null for anything else, which is never counted by "
        "reading it"))


class PlanSubscriptionsOut(BaseModel):
    id: str
    name: str
    type: PlanType | None
    tier: str
    active_subscriptions: int


class TenantStatisticsOut(BaseModel):
    """GET /v1/admin/tenants/statistics (seed 002), live tenants only (deleted ones apart)."""

    total_tenants: int
    by_type: dict[str, int]
    by_status: dict[str, int]
    with_active_subscription: int
    on_trial: int
    subscription_by_plan: list[PlanSubscriptionsOut]
    recent_signups: int = Field(description="Tenants created in the last 30 days and not deleted")
    deleted_tenants: int


class TenantSubscriptionsOut(BaseModel):
    """GET /v1/admin/tenants/{tenant_id}/subscriptions: the history, newest first."""

    tenant: TenantOut
    subscriptions: list[SubscriptionOut]


class AuditActorOut(BaseModel):
    subject: str = Field(description="The token's subject, or `api-key` for the admin key")
    email: str | None
    via: str = Field(description="jwt, api_key, system, or stripe (an effect of a Stripe event or a reconciliation)")


class AuditEntryOut(BaseModel):
    at: str
    actor: AuditActorOut
    action: str
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    trace_id: str | None


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None
    per_page: int


class DifferenceOut(BaseModel):
    field: str = Field(description="Dotted path in the tenant record, e.g. subscription.status")
    local: Any
    stripe: Any


class StripeDriftOut(BaseModel):
    """The tenant against Stripe: every difference (status, plan, price, period, trial, cancel flags,
    pending change, what is owed); `repaired` when a POST wrote Stripe's side."""

    tenant_id: str
    in_step: bool
    repaired: bool
    differences: list[DifferenceOut]
    checked_at: str
