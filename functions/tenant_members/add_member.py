"""POST /v1/tenants/{tenant_id}/members: the owner adds a member, within the plan's member limit."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import MemberIn, MemberOut
from saas_core.services import members

app = ApiApp()


@app.endpoint("POST", "/v1/tenants/{tenant_id}/members", access=Access.OWNER, summary="Add a member",
              tags=["tenant"], status_code=201, errors=(400, 409))
def add_member(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)], member: MemberIn) -> Envelope[MemberOut]:
    return ok(members.add_member(tenant_id, member, current_principal()), "Member added")


handler = app.lambda_handler
