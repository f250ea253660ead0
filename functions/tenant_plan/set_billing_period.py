"""POST /v1/tenants/{tenant_id}/billing/period (admin): set the billing period; month counters restart."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import BillingPeriodIn, BillingPeriodOut
from saas_core.services import billing_period

app = ApiApp()


@app.endpoint("POST", "/v1/tenants/{tenant_id}/billing/period", access=Access.ADMIN,
              summary="Update the billing period", tags=["tenant"], idempotent=True)
def set_billing_period(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
                       period: BillingPeriodIn) -> Envelope[BillingPeriodOut]:
    return ok(billing_period.set_billing_period(tenant_id, period, current_principal()),
              "Billing period updated successfully.")


handler = app.lambda_handler
