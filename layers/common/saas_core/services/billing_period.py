"""An admin sets a tenant's billing period (seed 003 §10): its month counters restart.

Counters of `month` metrics are keyed by the start of the tenant's billing period, so a
new period is a new counter at zero: nothing is deleted or zeroed, and no increment can
race a reset. A period set here counts until Stripe's next period starts later (the later
start wins, `Tenant.billing_period`). The change is audited like any other.
"""

from __future__ import annotations

from saas_core.access import Principal
from saas_core.clock import iso
from saas_core.models.tenants import BillingPeriod, BillingPeriodIn, BillingPeriodOut
from saas_core.repositories import tenants


def set_billing_period(tenant_id: str, data: BillingPeriodIn, actor: Principal) -> BillingPeriodOut:
    before = tenants.require(tenant_id)
    period = BillingPeriod(start=iso(data.period_start), end=iso(data.period_end), set_by_admin=True)
    if before.set_period != period:
        after = before.changed(set_period=period)
        tenants.save(tenants.TenantChange(before, after, actor, "tenant.billing_period_set",
                                          reason=f"{period.start} to {period.end}"))
    return BillingPeriodOut(success=True, tenant_id=tenant_id, period_start=period.start, period_end=period.end)
