"""POST /v1/tenants/{tenant_id}/plan/downgrade: scheduled in Stripe for the end of the billing period (seed 003 §8)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.plan_changes import PlanDowngradedOut, TargetPlanIn
from saas_core.services import plan_changes

app = ApiApp()


@app.endpoint("POST", "/v1/tenants/{tenant_id}/plan/downgrade", access=Access.OWNER, summary="Downgrade the plan",
              tags=["tenant"], errors=(400, 409, 502))
def downgrade_plan(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
                   target: TargetPlanIn) -> Envelope[PlanDowngradedOut]:
    return ok(plan_changes.downgrade(tenant_id, target, current_principal()), "Plan downgrade scheduled.")


handler = app.lambda_handler
