"""GET /v1/plans: published, unarchived plans."""

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.plans import PlanListOut
from saas_core.services import catalog

app = ApiApp()


@app.endpoint("GET", "/v1/plans", access=Access.PUBLIC, summary="List available plans", tags=["catalog"])
def list_plans() -> Envelope[PlanListOut]:
    return ok(catalog.public_plans())


handler = app.lambda_handler
