"""Tenants: workspaces, organizations and personal accounts (API.md)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from saas_core.access import Role
from saas_core.clock import iso, parse_iso, utc_now
from saas_core.models.common import Email, Name, PlanId, Slug, StrictInput, single_line
from saas_core.models.plans import BillingCycle, Limit, PlanRef, PlanType

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


class Member(BaseModel):
    tenant_id: str
    email: str
    user_id: str | None = None
    role: Role
    joined_at: str


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


class PendingChange(BaseModel):
    """A plan change Stripe will make at the end of the current period (a subscription schedule)."""

    schedule_id: str
    plan_id: str
    plan_version: str
    price_id: str
    billing_cycle: BillingCycle
    starts_at: str


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
        """Whole days left, a started day counting as one (seed 002's figure)."""
        if self.subscription is None or self.subscription.trial_ends_at is None:
            return 0
        remaining = parse_iso(self.subscription.trial_ends_at) - now
        return max(0, remaining.days + (1 if remaining.seconds else 0))


# --------------------------------------------------------------- responses


class SubscriptionOut(BaseModel):
    id: str
    plan: PlanRef
    plan_version: str
    status: str
    billing_cycle: BillingCycle
    starts_at: str
    trial_ends_at: str | None
    current_period_start: str
    current_period_end: str
    canceled_at: str | None
    created_at: str


class MemberOut(BaseModel):
    email: str
    user_id: str | None
    role: Role
    joined_at: str


class TenantOut(BaseModel):
    """Seed 002's tenant details, as far as they exist so far."""

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
    version: int
    created_at: str
    updated_at: str


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
