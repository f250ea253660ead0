"""POST /v1/admin/plans: a plan with its Stripe product and monthly and annual prices."""

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.plans import AdminPlanOut, PlanIn
from saas_core.services import plans_admin

app = ApiApp()


@app.endpoint("POST", "/v1/admin/plans", access=Access.ADMIN, summary="Create a plan", status_code=201,
              tags=["admin: plans"], idempotent=True, errors=(502,))
def create_plan(plan: PlanIn) -> Envelope[AdminPlanOut]:
    created = plans_admin.create_plan(plan, current_principal(), app.request_key())
    return ok(created, "Subscription plan created successfully")


handler = app.lambda_handler
