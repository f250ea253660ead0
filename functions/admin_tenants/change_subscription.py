"""PUT /v1/admin/tenants/{tenant_id}/subscription: another plan or cycle, now (prorated or not)
or at the end of the period (a Stripe subscription schedule); `preview` changes nothing."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import SubscriptionChangeIn, SubscriptionChangeOut
from saas_core.services import tenant_changes

app = ApiApp()


@app.endpoint("PUT", "/v1/admin/tenants/{tenant_id}/subscription", access=Access.ADMIN,
              summary="Change a tenant's subscription", tags=["admin: tenants"], idempotent=True,
              errors=(400, 502))
def change_subscription(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
                        change: SubscriptionChangeIn) -> Envelope[SubscriptionChangeOut]:
    changed = tenant_changes.change_subscription(tenant_id, change, current_principal())
    message = "Subscription change previewed" if change.preview else "Subscription changed successfully"
    return ok(changed, message)


handler = app.lambda_handler
