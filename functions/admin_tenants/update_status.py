"""PUT /v1/admin/tenants/{tenant_id}/status: activate, suspend, deactivate (a reason for the last two)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import TenantOut, TenantStatusIn
from saas_core.services import tenant_changes

app = ApiApp()


@app.endpoint("PUT", "/v1/admin/tenants/{tenant_id}/status", access=Access.ADMIN, summary="Update a tenant's status",
              tags=["admin: tenants"], idempotent=True)
def update_status(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
                  change: TenantStatusIn) -> Envelope[TenantOut]:
    return ok(tenant_changes.change_status(tenant_id, change, current_principal()),
              "Tenant status updated successfully")


handler = app.lambda_handler
