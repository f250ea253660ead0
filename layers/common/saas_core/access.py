"""Access levels, the caller, and the rule deciding who may call what.

Kept apart from token verification (`saas_core.auth`) so public functions
never import the JWT and cryptography libraries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from saas_core.errors import Forbidden, Unauthorized


class Access(StrEnum):
    """The access level every route declares (API.md)."""

    PUBLIC = "public"
    MEMBER = "member"
    OWNER = "owner"
    ADMIN = "admin"
    SERVICE = "service"
    STRIPE = "stripe"


class Role(StrEnum):
    OWNER = "owner"
    MEMBER = "member"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. `subject` is the JWT `sub`, or `api-key`."""

    subject: str
    is_admin: bool
    email: str | None = None
    email_verified: bool = False
    via: str = "jwt"
    claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def identity_email(self) -> str | None:
        """The email a token may speak for: not when it says it is unverified."""
        return self.email.lower() if self.email and self.email_verified else None


ANONYMOUS = Principal(subject="anonymous", is_admin=False, via="none")

# Given (tenant_id, principal), the member's role, or None when not a member.
MembershipLookup = Callable[[str, Principal], Role | None]


def authorize(access: Access, principal: Principal, tenant_id: str | None,
              membership: MembershipLookup) -> Principal:
    """Raise Unauthorized/Forbidden unless `principal` may call a route of `access`."""
    if access in (Access.PUBLIC, Access.STRIPE):
        return principal
    if principal is ANONYMOUS:
        raise Unauthorized("Authentication required")
    if principal.is_admin:
        return principal
    if access in (Access.ADMIN, Access.SERVICE):
        raise Forbidden("Admin access required")
    if tenant_id is None:
        raise Forbidden("This route needs a tenant")
    role = membership(tenant_id, principal)
    if role is None:
        raise Forbidden("You are not a member of this tenant")
    if access is Access.OWNER and role is not Role.OWNER:
        raise Forbidden("Only the tenant's owner may do this")
    return principal
