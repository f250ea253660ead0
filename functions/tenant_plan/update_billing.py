"""PUT /v1/tenants/{tenant_id}/billing: the owner's Stripe ids, billing email and currency (seed 003 §9)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import BillingIn, BillingInfoOut
from saas_core.services import billing

app = ApiApp()


@app.endpoint("PUT", "/v1/tenants/{tenant_id}/billing", access=Access.OWNER, summary="Update billing information",
              tags=["tenant"], errors=(400, 409, 502))
def update_billing(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
                   details: BillingIn) -> Envelope[BillingInfoOut]:
    return ok(billing.update_billing(tenant_id, details, current_principal()),
              "Billing information updated successfully.")


handler = app.lambda_handler
