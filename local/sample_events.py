"""A sample request for every route, used three ways: the `events/` files for
`sam local invoke -e`, the auth matrix's "right credential succeeds" case,
and the bench's calls-per-route count. A route without a sample fails the
tests, so a new route cannot slip past them.

`python -m local.sample_events` rewrites events/<FunctionId>.json.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.apigw import rest_event, scheduled_event
from local.template import Route, api_routes, load_template, schedule_functions

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"
# Placeholders replaced by real ids where the request is actually sent.
SAMPLE_TENANT_ID = "tnt_0123456789abcdef0123"
SAMPLE_PLAN_ID = "pln_pro"


@dataclass(frozen=True)
class SampleRequest:
    path_parameters: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    query: dict[str, str] | None = None


SAMPLES: dict[tuple[str, str], SampleRequest] = {
    ("GET", "/v1/plans"): SampleRequest(),
    ("GET", "/v1/plans/{plan_id}"): SampleRequest({"plan_id": SAMPLE_PLAN_ID}),
    ("POST", "/v1/plans/compare"): SampleRequest(body={"plan_id_1": "pln_freemium", "plan_id_2": SAMPLE_PLAN_ID}),
    ("GET", "/v1/admin/plans"): SampleRequest(query={"type": "organization", "per_page": "20"}),
    ("POST", "/v1/admin/plans"): SampleRequest(body={
        "name": "Startup", "type": "organization", "tier": "team", "price_monthly": 149.00,
        "price_annual": 1490.00, "max_users": 20, "max_agents": 50, "storage_gb": 100, "trial_days": 14,
        "features": ["All Pro features", "Up to 20 team members", "Team Collaboration"],
        "limits": {"agents_per_month": 10000, "api_calls_per_day": 5000},
        "description": "Perfect for growing startups", "is_published": True,
    }),
    ("PUT", "/v1/admin/plans/{plan_id}"): SampleRequest(
        {"plan_id": SAMPLE_PLAN_ID}, body={"price_monthly": 39.00, "price_annual": 390.00, "is_popular": True}),
    ("DELETE", "/v1/admin/plans/{plan_id}"): SampleRequest({"plan_id": "pln_trial"}),
    ("POST", "/v1/admin/tenants"): SampleRequest(body={
        "name": "Acme Corp", "email": "admin@acme.example", "type": "organization", "plan_id": SAMPLE_PLAN_ID,
        "billing_cycle": "monthly", "subdomain_preference": "acme", "phone": "+1234567890",
        "owner_user_id": "user_acme_owner", "chargeable": False,
    }),
    ("GET", "/v1/admin/tenants"): SampleRequest(query={"search": "acme", "type": "organization",
                                                         "sort_by": "name", "per_page": "50"}),
    ("GET", "/v1/admin/tenants/statistics"): SampleRequest(),
    ("GET", "/v1/admin/tenants/{tenant_id}"): SampleRequest({"tenant_id": SAMPLE_TENANT_ID}),
    ("GET", "/v1/admin/tenants/{tenant_id}/subscriptions"): SampleRequest({"tenant_id": SAMPLE_TENANT_ID}),
    ("GET", "/v1/admin/tenants/{tenant_id}/audit"): SampleRequest({"tenant_id": SAMPLE_TENANT_ID},
                                                                  query={"per_page": "10"}),
    ("PUT", "/v1/admin/tenants/{tenant_id}/status"): SampleRequest(
        {"tenant_id": SAMPLE_TENANT_ID}, body={"status": "suspended", "reason": "Payment overdue"}),
    ("PUT", "/v1/admin/tenants/{tenant_id}/subscription"): SampleRequest(
        {"tenant_id": SAMPLE_TENANT_ID},
        body={"plan_id": "pln_business", "billing_cycle": "annual", "starts_immediately": True, "prorate": False}),
    ("POST", "/v1/admin/tenants/{tenant_id}/extend-trial"): SampleRequest(
        {"tenant_id": SAMPLE_TENANT_ID}, body={"days": 30, "reason": "Customer requested demo extension"}),
    ("DELETE", "/v1/admin/tenants/{tenant_id}"): SampleRequest({"tenant_id": SAMPLE_TENANT_ID}),
    ("GET", "/v1/tenants/{tenant_id}/plan"): SampleRequest({"tenant_id": SAMPLE_TENANT_ID}),
    ("POST", "/v1/tenants/{tenant_id}/limits/check"): SampleRequest(
        {"tenant_id": SAMPLE_TENANT_ID}, body={"limit_type": "workflows", "increment": 1}),
    ("POST", "/v1/tenants/{tenant_id}/plan/check-upgrade"): SampleRequest(
        {"tenant_id": SAMPLE_TENANT_ID}, body={"target_plan_id": "pln_business"}),
    ("POST", "/v1/tenants/{tenant_id}/plan/check-downgrade"): SampleRequest(
        {"tenant_id": SAMPLE_TENANT_ID}, body={"target_plan_id": "pln_freemium"}),
    ("POST", "/v1/tenants/{tenant_id}/plan/upgrade"): SampleRequest(
        {"tenant_id": SAMPLE_TENANT_ID}, body={"target_plan_id": "pln_business"}),
    ("POST", "/v1/tenants/{tenant_id}/plan/downgrade"): SampleRequest(
        {"tenant_id": SAMPLE_TENANT_ID}, body={"target_plan_id": "pln_pro"}),
    ("PUT", "/v1/tenants/{tenant_id}/billing"): SampleRequest(
        {"tenant_id": SAMPLE_TENANT_ID}, body={"billing_email": "billing@acme.example", "billing_currency": "USD"}),
    ("POST", "/v1/tenants/{tenant_id}/billing/period"): SampleRequest(
        {"tenant_id": SAMPLE_TENANT_ID},
        body={"period_start": "2026-01-01T00:00:00Z", "period_end": "2026-02-01T00:00:00Z"}),
    ("GET", "/v1/tenants/{tenant_id}/members"): SampleRequest({"tenant_id": SAMPLE_TENANT_ID}),
    ("POST", "/v1/tenants/{tenant_id}/members"): SampleRequest(
        {"tenant_id": SAMPLE_TENANT_ID}, body={"email": "dana@acme.example", "user_id": "user_dana"}),
    ("DELETE", "/v1/tenants/{tenant_id}/members/{user_id}"): SampleRequest(
        {"tenant_id": SAMPLE_TENANT_ID, "user_id": "user_dana"}),
    ("POST", "/v1/tenants/{tenant_id}/usage"): SampleRequest(
        {"tenant_id": SAMPLE_TENANT_ID}, body={"metric": "workflows", "amount": 1,
                                               "idempotency_key": "workflow-created-wf_0001"}),
    ("GET", "/v1/admin/tenants/{tenant_id}/stripe-sync"): SampleRequest({"tenant_id": SAMPLE_TENANT_ID}),
    ("POST", "/v1/admin/tenants/{tenant_id}/stripe-sync"): SampleRequest({"tenant_id": SAMPLE_TENANT_ID}),
    # The sample's signature does not verify: a real delivery is signed by Stripe (or the emulator).
    ("POST", "/v1/webhooks/stripe"): SampleRequest(body={
        "id": "evt_1SampleEvent0000000000", "object": "event", "type": "customer.subscription.updated",
        "livemode": False, "created": 1767225600, "api_version": "2026-10-28.endive",
        "data": {"object": {"id": "sub_1SampleSubscription0000", "object": "subscription",
                            "customer": "cus_SampleCustomer0000", "status": "active"}}}),
}


def sample_for(route: Route) -> SampleRequest:
    try:
        return SAMPLES[(route.method, route.path)]
    except KeyError:
        raise KeyError(f"{route.method} {route.path} has no sample request in local/sample_events.py") from None


def concrete_path(route: Route, path_parameters: dict[str, str]) -> str:
    path = route.path
    for name, value in path_parameters.items():
        path = path.replace("{" + name + "}", value)
    return path


def sample_event(route: Route) -> dict[str, Any]:
    sample = sample_for(route)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer <jwt>"}
    return rest_event(route.method, concrete_path(route, sample.path_parameters), resource=route.path,
                      path_parameters=sample.path_parameters or None, headers=headers, query=sample.query,
                      body=json.dumps(sample.body) if sample.body is not None else None, stage="dev",
                      request_id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef")


def event_path(route: Route) -> Path:
    return EVENTS_DIR / f"{route.function_id}.json"


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2) + "\n"


def scheduled_sample(function_id: str) -> dict[str, Any]:
    """What EventBridge sends a scheduled function, at a fixed moment (the file never churns)."""
    rule = f"arn:aws:events:us-east-1:123456789012:rule/{function_id}"
    event = scheduled_event(rule, datetime(2026, 1, 1, tzinfo=UTC))
    event["id"] = "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c"
    return event


def scheduled_event_path(function_id: str) -> Path:
    return EVENTS_DIR / f"{function_id}.json"


def main() -> int:
    EVENTS_DIR.mkdir(exist_ok=True)
    template = load_template()
    written = [(event_path(route), sample_event(route)) for route in api_routes(template)]
    written += [(scheduled_event_path(function_id), scheduled_sample(function_id))
                for function_id, _ in schedule_functions(template)]
    for path, event in written:
        path.write_text(render(event))
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
