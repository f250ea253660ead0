"""Test helpers: the route table, in-process invocation, and tokens."""

from __future__ import annotations

from typing import Any

from local.invoke import Reply, handler_module, invoke, routes
from local.stack import TABLE_NAMES
from local.template import Route
from local.tokens import issue_token
from saas_core.access import Access

__all__ = ["ADMIN_API_KEY", "JWT_SECRET", "SAMPLE_PREREQUISITES", "TABLE_NAMES", "Reply", "access_of", "admin_token",
           "invoke", "routes", "token"]

JWT_SECRET = "test-jwt-secret-of-a-decent-length-000"
ADMIN_API_KEY = "test-admin-key"


def access_of(route: Route) -> Access:
    """The access level the route's function declares (its ApiApp endpoint)."""
    spec = handler_module(route).app.spec
    assert spec is not None, f"{route.function_id} declares no endpoint"
    assert (spec.method, spec.path) == (route.method, route.path), (
        f"{route.function_id}: template says {route.method} {route.path}, code says {spec.method} {spec.path}")
    access: Access = spec.access
    return access


def token(subject: str, *, email: str | None = None, admin: bool = False, **claims: Any) -> str:
    return issue_token(JWT_SECRET, subject, email=email, admin=admin, **claims)


def admin_token() -> str:
    return token("admin-user", email="admin@example.com", admin=True)


# ------------------------------------------------------------ what a route's sample request needs first

def _sample_member_added(tenant_id: str) -> None:
    """The member the DELETE sample removes."""
    from local.sample_events import SAMPLES

    body = SAMPLES[("POST", "/v1/tenants/{tenant_id}/members")].body
    reply = invoke("POST", f"/v1/tenants/{tenant_id}/members", api_key=ADMIN_API_KEY, body=body)
    assert reply.status == 201, reply.body


def _on_plan(plan_id: str) -> Any:
    def move(tenant_id: str) -> None:
        reply = invoke("PUT", f"/v1/admin/tenants/{tenant_id}/subscription", api_key=ADMIN_API_KEY,
                       body={"plan_id": plan_id, "billing_cycle": "monthly", "starts_immediately": True})
        assert reply.status == 200, reply.body
    return move


# By function: what must hold for its sample request to succeed on a fresh organization tenant (its
# samples meter Pro's workflows, upgrade to Business and downgrade to Pro).
SAMPLE_PREREQUISITES: dict[str, Any] = {
    "RemoveMemberFunction": _sample_member_added,
    "RecordUsageFunction": _on_plan("pln_pro"),
    "CheckLimitFunction": _on_plan("pln_pro"),
    "UpgradePlanFunction": _on_plan("pln_pro"),
    "DowngradePlanFunction": _on_plan("pln_business"),
}


def prepare_sample(route: Route, tenant_id: str) -> None:
    """Bring the tenant to where the route's sample request succeeds, and its plan back to where it was."""
    prerequisite = SAMPLE_PREREQUISITES.get(route.function_id)
    if prerequisite is not None:
        prerequisite(tenant_id)
