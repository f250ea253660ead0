"""POST /v1/plans/compare: limits, pricing and features of two public plans side by side."""

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.plans import CompareIn, CompareOut
from saas_core.services import catalog

app = ApiApp()


@app.endpoint("POST", "/v1/plans/compare", access=Access.PUBLIC, summary="Compare two plans", tags=["catalog"],
              errors=(400, 404))
def compare_plans(request: CompareIn) -> Envelope[CompareOut]:
    return ok(catalog.compare(request.plan_id_1, request.plan_id_2))


handler = app.lambda_handler
