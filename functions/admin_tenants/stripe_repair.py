"""POST /v1/admin/tenants/{tenant_id}/stripe-sync: the tenant repaired from Stripe (audited)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import StripeDriftOut
from saas_core.services import stripe_sync

app = ApiApp()


@app.endpoint("POST", "/v1/admin/tenants/{tenant_id}/stripe-sync", access=Access.ADMIN,
              summary="Repair a tenant from Stripe", tags=["admin: tenants"], idempotent=True, errors=(400, 502))
def repair_from_stripe(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)]) -> Envelope[StripeDriftOut]:
    report = stripe_sync.repair_from_stripe(tenant_id, current_principal())
    return ok(report, "Tenant repaired from Stripe" if report.repaired else "Tenant already in step with Stripe")


handler = app.lambda_handler
