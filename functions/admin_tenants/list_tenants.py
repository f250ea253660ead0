"""GET /v1/admin/tenants: search, filter and sort the tenants, a page at a time (seed 002)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import PlanId
from saas_core.models.plans import PlanType
from saas_core.models.tenants import SortOrder, TenantPage, TenantSortField, TenantStatus
from saas_core.services.tenant_lists import TenantQuery, list_tenants

app = ApiApp()


@app.endpoint("GET", "/v1/admin/tenants", access=Access.ADMIN, summary="List tenants", tags=["admin: tenants"])
def list_all(
    search: Annotated[str | None, Query(max_length=100, description=(
        "Case-insensitive: matches the start of any word of the name, the email (whole, local part or "
        "domain) or the subdomain"))] = None,
    type: Annotated[PlanType | None, Query()] = None,  # noqa: A002 - seed 002's parameter name
    status: Annotated[TenantStatus | None, Query()] = None,
    plan_id: Annotated[PlanId | None, Query()] = None,
    has_subscription: Annotated[bool | None, Query(description="Has a live (trialing, active, past_due) one")] = None,
    sort_by: Annotated[TenantSortField, Query()] = TenantSortField.CREATED_AT,
    sort_order: Annotated[SortOrder, Query()] = SortOrder.DESC,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    include_deleted: Annotated[bool, Query(description="Deleted tenants too, with deleted_at")] = False,
) -> Envelope[TenantPage]:
    query = TenantQuery(search=search, type=type, status=status, plan_id=plan_id, has_subscription=has_subscription,
                        sort_by=sort_by, descending=sort_order is SortOrder.DESC, include_deleted=include_deleted)
    return ok(list_tenants(query, per_page=per_page, cursor_text=cursor))


handler = app.lambda_handler
