"""GET /v1/admin/tenants/{tenant_id}/stripe-sync: every difference between the tenant and Stripe."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import StripeDriftOut
from saas_core.services import stripe_sync

app = ApiApp()


@app.endpoint("GET", "/v1/admin/tenants/{tenant_id}/stripe-sync", access=Access.ADMIN,
              summary="Compare a tenant with Stripe", tags=["admin: tenants"], errors=(400, 502))
def stripe_drift(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)]) -> Envelope[StripeDriftOut]:
    return ok(stripe_sync.drift_report(tenant_id))


handler = app.lambda_handler
