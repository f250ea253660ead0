"""DELETE /v1/admin/plans/{plan_id}: refused while the plan has active subscriptions."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.common import PLAN_ID_PATTERN
from saas_core.models.plans import DeletedOut
from saas_core.services import plans_admin

app = ApiApp()


@app.endpoint("DELETE", "/v1/admin/plans/{plan_id}", access=Access.ADMIN, summary="Delete a plan",
              tags=["admin: plans"], idempotent=True, errors=(400, 502))
def delete_plan(plan_id: Annotated[str, Path(pattern=PLAN_ID_PATTERN)]) -> Envelope[DeletedOut]:
    plans_admin.delete_plan(plan_id, current_principal())
    return ok(DeletedOut(id=plan_id), "Plan deleted successfully")


handler = app.lambda_handler
