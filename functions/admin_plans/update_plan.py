"""PUT /v1/admin/plans/{plan_id}: partial update; archive with is_archived; a price
change makes new Stripe prices and bumps plan_version, subscribers keep theirs."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.common import PLAN_ID_PATTERN
from saas_core.models.plans import AdminPlanOut, PlanUpdateIn
from saas_core.services import plans_admin

app = ApiApp()


@app.endpoint("PUT", "/v1/admin/plans/{plan_id}", access=Access.ADMIN, summary="Update or archive a plan",
              tags=["admin: plans"], idempotent=True, errors=(502,))
def update_plan(plan_id: Annotated[str, Path(pattern=PLAN_ID_PATTERN)],
                changes: PlanUpdateIn) -> Envelope[AdminPlanOut]:
    return ok(plans_admin.update_plan(plan_id, changes, current_principal()), "Plan updated successfully")


handler = app.lambda_handler
