"""A tenant's members managed by its owner (seed 002 memberships, the plan's member limit), in-process."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import ADMIN_API_KEY, invoke, token

OWNER = "user-team-owner"


@pytest.fixture
def tenant(catalog: dict[str, Any]) -> dict[str, Any]:
    """A tenant on a plan allowing three members."""
    plan = invoke("POST", "/v1/admin/plans", api_key=ADMIN_API_KEY, body={
        "name": "Trio", "type": "organization", "tier": "trio", "price_monthly": 10, "price_annual": 100,
        "limits": {"max_members_per_workspace": 3}})
    assert plan.status == 201, plan.body
    reply = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Team Corp", "email": "owner@team.example", "type": "organization", "plan_id": plan.data["id"],
        "billing_cycle": "monthly", "owner_user_id": OWNER})
    assert reply.status == 201, reply.body
    return dict(reply.data)


def add(tenant_id: str, name: str) -> Any:
    return invoke("POST", f"/v1/tenants/{tenant_id}/members", token=token(OWNER),
                  body={"email": f"{name}@team.example", "user_id": f"user-{name}"})


def members_in_use(tenant_id: str) -> tuple[int, int]:
    """The member count as the plan view and the limit check read it."""
    plan = invoke("GET", f"/v1/tenants/{tenant_id}/plan", token=token(OWNER)).data
    check = invoke("POST", f"/v1/tenants/{tenant_id}/limits/check", token=token(OWNER),
                   body={"limit_type": "members", "increment": 0}).data
    return plan["usage"]["members"]["current"], check["current"]


def test_the_owner_adds_members_up_to_the_plans_limit_and_no_further(tenant: dict[str, Any]) -> None:
    assert add(tenant["id"], "ann").status == 201
    assert add(tenant["id"], "bob").status == 201
    refused = add(tenant["id"], "cy")
    assert refused.status == 400
    assert refused.body["message"].startswith("members: 3 in use, Trio allows 3")
    assert members_in_use(tenant["id"]) == (3, 3)
    listed = invoke("GET", f"/v1/tenants/{tenant['id']}/members", token=token("user-ann")).data
    assert [(member["user_id"], member["role"]) for member in listed] == [
        (OWNER, "owner"), ("user-ann", "member"), ("user-bob", "member")]


def test_removing_a_member_frees_a_place_and_the_owner_cannot_be_removed(tenant: dict[str, Any]) -> None:
    add(tenant["id"], "ann")
    add(tenant["id"], "bob")
    owner_removed = invoke("DELETE", f"/v1/tenants/{tenant['id']}/members/{OWNER}", token=token(OWNER))
    assert owner_removed.status == 400
    assert "owner cannot be removed" in owner_removed.body["message"]
    removed = invoke("DELETE", f"/v1/tenants/{tenant['id']}/members/user-bob", token=token(OWNER))
    assert removed.status == 200, removed.body
    assert members_in_use(tenant["id"]) == (2, 2)
    assert add(tenant["id"], "cy").status == 201
    gone = invoke("GET", f"/v1/tenants/{tenant['id']}/members", token=token("user-bob"))
    assert gone.status == 403, "a removed member is no member"


def test_a_member_twice_is_a_409_and_changes_nothing(tenant: dict[str, Any]) -> None:
    assert add(tenant["id"], "ann").status == 201
    again = add(tenant["id"], "ann")
    assert again.status == 409
    assert members_in_use(tenant["id"]) == (2, 2)


def test_each_change_of_members_is_audited(tenant: dict[str, Any]) -> None:
    add(tenant["id"], "ann")
    invoke("DELETE", f"/v1/tenants/{tenant['id']}/members/ann@team.example", token=token(OWNER))
    audit = invoke("GET", f"/v1/admin/tenants/{tenant['id']}/audit", api_key=ADMIN_API_KEY).data["items"]
    actions = [(entry["action"], entry["reason"], entry["actor"]["subject"]) for entry in audit]
    assert ("member.added", "ann@team.example", OWNER) in actions
    assert ("member.removed", "ann@team.example", OWNER) in actions


def test_only_the_owner_manages_members(tenant: dict[str, Any]) -> None:
    add(tenant["id"], "ann")
    by_member = invoke("POST", f"/v1/tenants/{tenant['id']}/members", token=token("user-ann"),
                       body={"email": "eve@team.example"})
    assert by_member.status == 403
    assert members_in_use(tenant["id"]) == (2, 2)
