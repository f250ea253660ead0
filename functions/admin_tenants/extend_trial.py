"""POST /v1/admin/tenants/{tenant_id}/extend-trial: move the Stripe trial end by N days."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import ExtendTrialIn, TrialOut
from saas_core.services import tenant_changes

app = ApiApp()


@app.endpoint("POST", "/v1/admin/tenants/{tenant_id}/extend-trial", access=Access.ADMIN,
              summary="Extend a tenant's trial", tags=["admin: tenants"], idempotent=True, errors=(400, 502))
def extend_trial(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
                 extension: ExtendTrialIn) -> Envelope[TrialOut]:
    trial = tenant_changes.extend_trial(tenant_id, extension, current_principal())
    return ok(trial, f"Trial extended by {extension.days} days")


handler = app.lambda_handler
