"""POST /v1/tenants/{tenant_id}/plan/check-downgrade: may the tenant downgrade, and what blocks it (seed 003 §6)?"""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.plan_changes import DowngradeCheckOut, TargetPlanIn
from saas_core.services import plan_changes

app = ApiApp()


@app.endpoint("POST", "/v1/tenants/{tenant_id}/plan/check-downgrade", access=Access.OWNER,
              summary="Check downgrade eligibility",
              tags=["tenant"], errors=(400,))
def check_downgrade(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
                    target: TargetPlanIn) -> Envelope[DowngradeCheckOut]:
    return ok(plan_changes.check_downgrade(tenant_id, target))


handler = app.lambda_handler
