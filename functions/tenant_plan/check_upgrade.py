"""POST /v1/tenants/{tenant_id}/plan/check-upgrade: may the tenant upgrade to the target plan (seed 003 §5)?"""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.plan_changes import TargetPlanIn, UpgradeCheckOut
from saas_core.services import plan_changes

app = ApiApp()


@app.endpoint("POST", "/v1/tenants/{tenant_id}/plan/check-upgrade", access=Access.OWNER,
              summary="Check upgrade eligibility",
              tags=["tenant"], errors=(400,))
def check_upgrade(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
                  target: TargetPlanIn) -> Envelope[UpgradeCheckOut]:
    return ok(plan_changes.check_upgrade(tenant_id, target))


handler = app.lambda_handler
