"""GET /v1/tenants/{tenant_id}/plan: the tenant's plan, usage per limit and billing period."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import TenantPlanOut
from saas_core.services import tenant_plan

app = ApiApp()


@app.endpoint("GET", "/v1/tenants/{tenant_id}/plan", access=Access.MEMBER, summary="Get the tenant's current plan",
              tags=["tenant"])
def get_plan(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)]) -> Envelope[TenantPlanOut]:
    return ok(tenant_plan.current_plan(tenant_id))


handler = app.lambda_handler
