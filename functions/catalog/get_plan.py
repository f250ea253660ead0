"""GET /v1/plans/{plan_id}: one public plan with limits, features and pricing."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import PLAN_ID_PATTERN
from saas_core.models.plans import PlanOut
from saas_core.services import catalog

app = ApiApp()


@app.endpoint("GET", "/v1/plans/{plan_id}", access=Access.PUBLIC, summary="Get plan details", tags=["catalog"])
def get_plan(plan_id: Annotated[str, Path(pattern=PLAN_ID_PATTERN)]) -> Envelope[PlanOut]:
    return ok(catalog.public_plan(plan_id))


handler = app.lambda_handler
