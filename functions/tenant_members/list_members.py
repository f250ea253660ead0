"""GET /v1/tenants/{tenant_id}/members: the tenant's members, the owner first, then as they joined."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import MemberOut
from saas_core.services import members

app = ApiApp()


@app.endpoint("GET", "/v1/tenants/{tenant_id}/members", access=Access.MEMBER, summary="List the tenant's members",
              tags=["tenant"])
def list_members(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)]) -> Envelope[list[MemberOut]]:
    return ok(members.list_members(tenant_id))


handler = app.lambda_handler
