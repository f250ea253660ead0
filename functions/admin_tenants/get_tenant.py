"""GET /v1/admin/tenants/{tenant_id}: details, subscriptions, members, and invoices and payment
methods from Stripe (null, with a warning, when Stripe does not answer). Deleted tenants too."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import TenantDetailsOut
from saas_core.services import tenant_views

app = ApiApp()


@app.endpoint("GET", "/v1/admin/tenants/{tenant_id}", access=Access.ADMIN, summary="Get tenant details",
              tags=["admin: tenants"])
def get_tenant(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)]) -> Envelope[TenantDetailsOut]:
    return ok(tenant_views.admin_details(tenant_id))


handler = app.lambda_handler
