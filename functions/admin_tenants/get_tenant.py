"""GET /v1/admin/tenants/{tenant_id}: details, subscriptions and members."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import TenantOut
from saas_core.services import tenant_views

app = ApiApp()


@app.endpoint("GET", "/v1/admin/tenants/{tenant_id}", access=Access.ADMIN, summary="Get tenant details",
              tags=["admin: tenants"])
def get_tenant(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)]) -> Envelope[TenantOut]:
    return ok(tenant_views.tenant_details(tenant_id))


handler = app.lambda_handler
