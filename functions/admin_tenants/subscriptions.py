"""GET /v1/admin/tenants/{tenant_id}/subscriptions: the subscription history, newest first,
each with its plan as it was when subscribed."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import TenantSubscriptionsOut
from saas_core.services import tenant_views

app = ApiApp()


@app.endpoint("GET", "/v1/admin/tenants/{tenant_id}/subscriptions", access=Access.ADMIN,
              summary="A tenant's subscription history", tags=["admin: tenants"])
def subscriptions(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)]) -> Envelope[TenantSubscriptionsOut]:
    return ok(tenant_views.subscription_history(tenant_id))


handler = app.lambda_handler
