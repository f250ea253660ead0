"""A tenant's members, managed by its owner (seed 002 memberships, seed 003 limits).

The member count the plan's `members` limit is checked against, that the plan view
and check-downgrade report, is the tenant's own `members_count`: it moves in the
same transaction that writes or deletes the member (a TenantChange whose version
condition also makes two concurrent adds one success and one conflict, so they
can never pass the limit together).
"""

from __future__ import annotations

from saas_core.access import Principal, Role
from saas_core.clock import iso, utc_now
from saas_core.errors import BadRequest, Conflict, NotFound
from saas_core.models.tenants import Member, MemberIn, MemberOut, Tenant
from saas_core.repositories import plans, tenants
from saas_core.services.metering import MEMBERS_METRIC


def _out(member: Member) -> MemberOut:
    return MemberOut(email=member.email, user_id=member.user_id, role=member.role, joined_at=member.joined_at)


def list_members(tenant_id: str) -> list[MemberOut]:
    tenants.require(tenant_id)
    # The owner first, then members as they joined (a second's joins by email).
    ordered = sorted(tenants.members(tenant_id),
                     key=lambda member: (member.role is not Role.OWNER, member.joined_at, member.email))
    return [_out(member) for member in ordered]


def _check_room(tenant: Tenant) -> None:
    plan = plans.require(tenant.plan_id)
    limit = plan.limits.get(MEMBERS_METRIC)
    if limit is not None and limit.max is not None and tenant.members_count + 1 > limit.max:
        raise BadRequest(f"members: {tenant.members_count} in use, {plan.name} allows {limit.max}; "
                         "remove a member or upgrade the plan first")


def add_member(tenant_id: str, data: MemberIn, actor: Principal) -> MemberOut:
    before = tenants.require(tenant_id)
    _check_room(before)
    member = Member(tenant_id=tenant_id, email=data.email, user_id=data.user_id, role=Role.MEMBER,
                    joined_at=iso(utc_now()))
    after = before.changed(members_count=before.members_count + 1)
    write = tenants.member_write(member, on_exists=Conflict(f"{data.email} is a member already"))
    tenants.save(tenants.TenantChange(before, after, actor, "member.added", reason=data.email, extra=(write,)))
    return _out(member)


def remove_member(tenant_id: str, user_id: str, actor: Principal) -> MemberOut:
    """`user_id` names the member by its user id, or by its email for one invited without one."""
    before = tenants.require(tenant_id)
    wanted = user_id.lower()
    member = next((member for member in tenants.members(tenant_id)
                   if member.user_id == user_id or member.email.lower() == wanted), None)
    if member is None:
        raise NotFound("Member not found")
    if member.role is Role.OWNER:
        raise BadRequest("The owner cannot be removed from the tenant")
    after = before.changed(members_count=before.members_count - 1)
    write = tenants.member_removal(member)
    tenants.save(tenants.TenantChange(before, after, actor, "member.removed", reason=member.email, extra=(write,)))
    return _out(member)

