"""POST /v1/tenants/{tenant_id}/limits/check (member): would an increment stay within the plan's limit?"""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.usage import LimitCheckIn, LimitCheckOut
from saas_core.services import metering

app = ApiApp()


@app.endpoint("POST", "/v1/tenants/{tenant_id}/limits/check", access=Access.MEMBER, summary="Check a limit",
              tags=["tenant"], errors=(400,))
def check_limit(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
                body: LimitCheckIn) -> Envelope[LimitCheckOut]:
    return ok(metering.check_limit(tenant_id, body))


handler = app.lambda_handler
