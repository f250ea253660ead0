"""POST /v1/tenants/{tenant_id}/usage (service): usage recorded against the plan's limit, exactly."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.usage import UsageIn, UsageRecordedOut
from saas_core.services import metering

app = ApiApp()


@app.endpoint("POST", "/v1/tenants/{tenant_id}/usage", access=Access.SERVICE, summary="Record usage",
              tags=["tenant"], errors=(400, 409, 429))
def record_usage(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
                 body: UsageIn) -> Envelope[UsageRecordedOut]:
    recorded = metering.record_usage(tenant_id, body)
    return ok(recorded, "Usage recorded" if recorded.recorded else "Already recorded under this idempotency_key")


handler = app.lambda_handler
