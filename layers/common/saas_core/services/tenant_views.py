"""What admins see of a tenant (seed 002 tenant details). Only the admin details load
Stripe (invoices and payment methods), and only when the tenant has a customer."""

from __future__ import annotations

from saas_core import cursor
from saas_core.clock import from_unix, iso, utc_now
from saas_core.errors import InvalidInput
from saas_core.models.plans import PlanRef, PlanType
from saas_core.models.tenants import (
    AuditActorOut,
    AuditEntryOut,
    AuditPage,
    BillingStandingOut,
    InvoiceOut,
    Member,
    MemberOut,
    OrganizationOut,
    PaymentMethodOut,
    PendingChangeOut,
    SubscribedPlan,
    SubscribedPlanOut,
    Subscription,
    SubscriptionOut,
    Tenant,
    TenantDetailsOut,
    TenantOut,
    TenantSubscriptionsOut,
)
from saas_core.money import from_minor
from saas_core.repositories import tenants
from saas_core.services.catalog import plan_ref_by_id


def subscribed_plan_out(plan_id: str, snapshot: SubscribedPlan) -> SubscribedPlanOut:
    """The plan as the subscription has it: its names and prices then, not what the plan is now."""
    return SubscribedPlanOut(id=plan_id, name=snapshot.name, display_name=snapshot.display_name,
                             tier=snapshot.tier, currency=snapshot.currency,
                             price_monthly=from_minor(snapshot.price_monthly_minor, snapshot.currency),
                             price_annual=from_minor(snapshot.price_annual_minor, snapshot.currency))


def subscription_out(subscription: Subscription) -> SubscriptionOut:
    return SubscriptionOut(plan=subscribed_plan_out(subscription.plan_id, subscription.plan),
                           **subscription.model_dump(exclude={"plan_id", "price_id", "row", "plan"}))


RECENT_INVOICES = 10
STRIPE_READ_SECONDS = 5.0
STRIPE_SILENT = "Stripe did not answer: invoices and payment methods are not shown"


def tenant_details(tenant_id: str) -> TenantOut:
    tenant = tenants.require(tenant_id)
    return details_of(tenant, tenants.members(tenant.id), tenants.subscriptions(tenant.id), {})


def admin_details(tenant_id: str) -> TenantDetailsOut:
    """Everything an admin sees of a tenant, deleted ones too, with its invoices and payment
    methods from Stripe. A read never fails because Stripe is down: those are then null."""
    tenant = tenants.require_including_deleted(tenant_id)
    base = details_of(tenant, tenants.members(tenant.id), tenants.subscriptions(tenant.id), {})
    invoices, methods, warnings = _from_stripe(tenant)
    organization = None
    if tenant.type is PlanType.ORGANIZATION:
        organization = OrganizationOut(name=tenant.name, subdomain=tenant.subdomain_preference,
                                       subdomain_activated_at=tenant.subdomain_activated_at,
                                       members_count=tenant.members_count)
    return TenantDetailsOut(**base.model_dump(), organization=organization, invoices=invoices,
                            payment_methods=methods, invoices_count=None if invoices is None else len(invoices),
                            warnings=warnings)


def _from_stripe(tenant: Tenant) -> tuple[list[InvoiceOut] | None, list[PaymentMethodOut] | None, list[str]]:
    if tenant.stripe_customer_id is None:
        return [], [], []
    # Imported here: of the read functions, only this one ever talks to Stripe.
    from saas_core import deadline, stripe_gateway
    from saas_core.errors import StripeUnavailable

    try:
        with deadline.capped(STRIPE_READ_SECONDS):
            invoices = stripe_gateway.recent_invoices(tenant.stripe_account, tenant.stripe_customer_id,
                                                      RECENT_INVOICES)
            methods = stripe_gateway.payment_methods(tenant.stripe_account, tenant.stripe_customer_id)
    except StripeUnavailable:
        return None, None, [STRIPE_SILENT]
    return ([InvoiceOut(id=invoice.id, number=invoice.number, status=invoice.status, currency=invoice.currency,
                        amount_due=from_minor(invoice.amount_due, invoice.currency),
                        amount_paid=from_minor(invoice.amount_paid, invoice.currency),
                        created=iso(from_unix(invoice.created)),
                        due_date=iso(from_unix(invoice.due_date)) if invoice.due_date else None,
                        hosted_invoice_url=invoice.hosted_invoice_url) for invoice in invoices],
            [PaymentMethodOut(**vars(method)) for method in methods], [])


def details_of(tenant: Tenant, members: list[Member], subscriptions: list[Subscription],
               plan_refs: dict[str, PlanRef]) -> TenantOut:
    """The details view from records already in hand (a create has them all)."""
    history = [subscription_out(s) for s in subscriptions]
    active = None
    if tenant.subscription is not None and tenant.has_active_subscription:
        active = subscription_out(tenant.subscription)
    members_out = [MemberOut(**m.model_dump(exclude={"tenant_id"})) for m in members]
    return TenantOut(
        id=tenant.id, name=tenant.name, email=tenant.email, phone=tenant.phone, type=tenant.type,
        status=tenant.status, subdomain_preference=tenant.subdomain_preference,
        plan=plan_refs.get(tenant.plan_id) or plan_ref_by_id(tenant.plan_id),
        is_on_trial=tenant.subscription is not None and tenant.subscription.status == "trialing",
        trial_days_remaining=tenant.trial_days_remaining(utc_now()),
        billing_cycle=tenant.billing_cycle, chargeable=tenant.chargeable,
        stripe_customer_id=tenant.stripe_customer_id, has_active_subscription=tenant.has_active_subscription,
        active_subscription=active, subscriptions=history, memberships=members_out,
        memberships_count=tenant.members_count, subscriptions_count=tenant.subscriptions_count,
        pending_change=_pending_out(tenant, plan_refs), billing=billing_out(tenant), status_reason=tenant.status_reason,
        subdomain_activated_at=tenant.subdomain_activated_at,
        version=tenant.version, created_at=tenant.created_at, updated_at=tenant.updated_at,
        deleted_at=tenant.deleted_at,
    )


def billing_out(tenant: Tenant) -> BillingStandingOut:
    standing = tenant.billing
    currency = standing.currency or "usd"
    return BillingStandingOut(unpaid_balance=from_minor(standing.unpaid_minor, currency), currency=standing.currency,
                              overdue_since=standing.overdue_since,
                              stripe_customer_deleted=standing.customer_deleted_at is not None)


def _pending_out(tenant: Tenant, plan_refs: dict[str, PlanRef]) -> PendingChangeOut | None:
    pending = tenant.pending_change
    if pending is None:
        return None
    plan = plan_refs.get(pending.plan_id) or plan_ref_by_id(pending.plan_id)
    return PendingChangeOut(plan=plan, billing_cycle=pending.billing_cycle, starts_at=pending.starts_at)


def subscription_history(tenant_id: str) -> TenantSubscriptionsOut:
    """Every subscription the tenant had, newest first, each with its plan as it was then."""
    tenant = tenants.require_including_deleted(tenant_id)
    history = tenants.all_subscriptions(tenant.id)
    details = details_of(tenant, tenants.members(tenant.id), history[:tenants.RECENT_SUBSCRIPTIONS], {})
    return TenantSubscriptionsOut(tenant=details, subscriptions=[subscription_out(row) for row in history])


def audit_trail(tenant_id: str, *, per_page: int, cursor_text: str | None) -> AuditPage:
    """Every change to the tenant, newest first, a page at a time."""
    tenants.require_including_deleted(tenant_id)
    query = f"audit|{tenant_id}"
    start = cursor.decode(cursor_text, query).get("sk") if cursor_text else None
    if start is not None and not (isinstance(start, str) and start.startswith("AUDIT#")):
        raise InvalidInput("Invalid cursor", {"cursor": ["is not a cursor issued for this query"]})
    records = tenants.audit_records(tenant_id, per_page + 1, start)
    more = len(records) > per_page
    records = records[:per_page]
    entries = [AuditEntryOut(
        at=record["at"], action=record["action"], reason=record.get("reason"), before=record.get("before"),
        after=record.get("after"), trace_id=record.get("trace_id"),
        actor=AuditActorOut(subject=record["actor"], email=record.get("actor_email"),
                            via=record.get("actor_via") or "jwt")) for record in records]
    next_cursor = cursor.encode({"sk": records[-1]["sk"]}, query) if more else None
    return AuditPage(items=entries, next_cursor=next_cursor, per_page=per_page)
