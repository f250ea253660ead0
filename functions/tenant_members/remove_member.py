"""DELETE /v1/tenants/{tenant_id}/members/{user_id}: the owner removes a member (never the owner)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, current_principal, ok
from saas_core.models.common import TENANT_ID_PATTERN
from saas_core.models.tenants import MemberOut
from saas_core.services import members

app = ApiApp()
# A user id, or the email of a member invited without one.
MEMBER_REF_PATTERN = r"^[^/\s]{1,254}$"


@app.endpoint("DELETE", "/v1/tenants/{tenant_id}/members/{user_id}", access=Access.OWNER, summary="Remove a member",
              tags=["tenant"], errors=(400, 409))
def remove_member(tenant_id: Annotated[str, Path(pattern=TENANT_ID_PATTERN)],
                  user_id: Annotated[str, Path(pattern=MEMBER_REF_PATTERN)]) -> Envelope[MemberOut]:
    return ok(members.remove_member(tenant_id, user_id, current_principal()), "Member removed")


handler = app.lambda_handler
