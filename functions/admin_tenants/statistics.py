"""GET /v1/admin/tenants/statistics: seed 002's figures, from counters kept exact by every
tenant change (two DynamoDB calls, however many tenants there are)."""

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.tenants import TenantStatisticsOut
from saas_core.services import tenant_lists

app = ApiApp()


@app.endpoint("GET", "/v1/admin/tenants/statistics", access=Access.ADMIN, summary="Tenant statistics",
              tags=["admin: tenants"])
def statistics() -> Envelope[TenantStatisticsOut]:
    return ok(tenant_lists.statistics())


handler = app.lambda_handler
