"""GET /v1/admin/tenants/{tenant_id}/audit: every change to the tenant, newest first: when,
who (token subject and email, or the admin key), what, why, before and after, trace id."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import AuditPage
from saas_core.services import tenant_views

app = ApiApp()


@app.endpoint("GET", "/v1/admin/tenants/{tenant_id}/audit", access=Access.ADMIN,
              summary="A tenant's audit trail", tags=["admin: tenants"])
def audit(
    tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Envelope[AuditPage]:
    return ok(tenant_views.audit_trail(tenant_id, per_page=per_page, cursor_text=cursor))


handler = app.lambda_handler
