"""POST /v1/admin/tenants: tenant, owner, Stripe customer and subscription with the plan's trial."""

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.tenants import TenantIn, TenantOut
from saas_core.services import tenants_admin

app = ApiApp()


@app.endpoint("POST", "/v1/admin/tenants", access=Access.ADMIN, summary="Create a tenant", status_code=201,
              tags=["admin: tenants"], idempotent=True, errors=(400, 502))
def create_tenant(tenant: TenantIn) -> Envelope[TenantOut]:
    created = tenants_admin.create_tenant(tenant, current_principal(), app.request_key())
    return ok(created, "Tenant created successfully")


handler = app.lambda_handler
