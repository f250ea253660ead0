"""DELETE /v1/admin/tenants/{tenant_id}: soft delete, the Stripe subscription canceled first."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.plans import DeletedOut
from saas_core.services import tenant_changes

app = ApiApp()


@app.endpoint("DELETE", "/v1/admin/tenants/{tenant_id}", access=Access.ADMIN, summary="Delete a tenant",
              tags=["admin: tenants"], idempotent=True, errors=(502,))
def delete_tenant(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)]) -> Envelope[DeletedOut]:
    tenant_changes.delete_tenant(tenant_id, current_principal())
    return ok(DeletedOut(id=tenant_id), "Tenant deleted successfully")


handler = app.lambda_handler
