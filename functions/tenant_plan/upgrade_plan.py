"""POST /v1/tenants/{tenant_id}/plan/upgrade: the owner upgrades now, prorated in Stripe (seed 003 §7)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.plan_changes import PlanUpgradedOut, TargetPlanIn
from saas_core.services import plan_changes

app = ApiApp()


@app.endpoint("POST", "/v1/tenants/{tenant_id}/plan/upgrade", access=Access.OWNER, summary="Upgrade the plan",
              tags=["tenant"], errors=(400, 409, 502))
def upgrade_plan(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
                 target: TargetPlanIn) -> Envelope[PlanUpgradedOut]:
    return ok(plan_changes.upgrade(tenant_id, target, current_principal()), "Plan upgraded successfully.")


handler = app.lambda_handler
