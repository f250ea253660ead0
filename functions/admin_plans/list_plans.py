"""GET /v1/admin/plans: the whole catalog, archived plans included."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import Page
from saas_core.models.plans import AdminPlanOut, PlanType
from saas_core.services import catalog

app = ApiApp()


@app.endpoint("GET", "/v1/admin/plans", access=Access.ADMIN, summary="List all plans", tags=["admin: plans"])
def list_plans(
    type: Annotated[PlanType | None, Query(description="personal or organization")] = None,  # noqa: A002
    active: Annotated[bool | None, Query(description="Only active (true) or inactive (false) plans")] = None,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Envelope[Page[AdminPlanOut]]:
    return ok(catalog.admin_plans_page(plan_type=type, active=active, per_page=per_page, cursor_text=cursor))


handler = app.lambda_handler
