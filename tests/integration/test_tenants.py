"""Tenant creation and details (seed 002), and a member's view of its plan (seed 003 §3)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.support import ADMIN_API_KEY, invoke, token

ACME = {
    "name": "Acme Corp", "email": "Admin@Acme.example", "type": "organization", "plan_id": "pln_business",
    "billing_cycle": "annual", "subdomain_preference": "acme", "phone": "+1234567890",
    "owner_user_id": "user-acme",
}


def tenant_items() -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("tenants")
    return table.scan()["Items"]


def plan_counter(plan_id: str) -> int:
    item = boto3.resource("dynamodb", region_name="us-east-1").Table("plans").get_item(
        Key={"pk": f"PLAN#{plan_id}", "sk": "PLAN"})["Item"]
    return int(str(item.get("active_subscriptions", 0)))


def test_creating_a_tenant_makes_its_owner_customer_and_trialing_subscription(
        catalog: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    reply = invoke("POST", "/v1/admin/tenants", body=ACME, api_key=ADMIN_API_KEY)
    assert reply.status == 201, reply.body
    tenant = reply.data
    assert tenant["email"] == "admin@acme.example"
    assert tenant["status"] == "active"
    assert tenant["is_on_trial"] is True
    assert tenant["trial_days_remaining"] == 14
    assert tenant["has_active_subscription"] is True
    assert tenant["memberships"] == [
        {"email": "admin@acme.example", "user_id": "user-acme", "role": "owner", "joined_at": tenant["created_at"]}]
    sdk = stripe_sdk("live")  # chargeable defaults to true: the live account
    customer = sdk.v1.customers.retrieve(tenant["stripe_customer_id"])
    assert customer.metadata["tenant_id"] == tenant["id"]
    subscription = sdk.v1.subscriptions.retrieve(tenant["active_subscription"]["id"])
    assert subscription.status == "trialing"
    assert subscription.customer == customer.id
    assert subscription["items"].data[0].price.id == catalog["pln_business"].stripe["live"].annual_price_id
    assert subscription.trial_end is not None
    assert tenant["active_subscription"]["billing_cycle"] == "annual"
    assert plan_counter("pln_business") == 1


def test_a_tenant_that_is_not_chargeable_is_billed_in_the_test_account(
        catalog: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    tenant = invoke("POST", "/v1/admin/tenants", body={**ACME, "chargeable": False}, api_key=ADMIN_API_KEY).data
    assert stripe_sdk("test").v1.customers.retrieve(tenant["stripe_customer_id"]).metadata["tenant_id"] == tenant["id"]
    assert stripe_sdk("live").v1.customers.list().data == []


def test_with_test_clocks_on_each_test_account_customer_gets_its_own_clock_and_live_ones_none(
        catalog: dict[str, Any], stripe_sdk: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from local.invoke import cold_start

    monkeypatch.setenv("STRIPE_TEST_CLOCKS", "true")
    cold_start()
    made = [invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        **ACME, "chargeable": chargeable, "email": f"{name}@acme.example", "subdomain_preference": name}).data
        for name, chargeable in (("first", False), ("second", False), ("paying", True))]
    test_customers = [stripe_sdk("test").v1.customers.retrieve(tenant["stripe_customer_id"]) for tenant in made[:2]]
    clocks = [customer.test_clock for customer in test_customers]
    assert all(isinstance(clock, str) and clock.startswith("clock_") for clock in clocks)
    assert clocks[0] != clocks[1]  # moving one tenant's time moves nobody else's
    assert stripe_sdk("live").v1.customers.retrieve(made[2]["stripe_customer_id"]).test_clock is None


def test_a_plan_without_trial_starts_active(catalog: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    body = {**ACME, "type": "personal", "plan_id": "pln_starter", "billing_cycle": "monthly"}
    tenant = invoke("POST", "/v1/admin/tenants", body=body, api_key=ADMIN_API_KEY).data
    assert tenant["is_on_trial"] is False
    assert tenant["active_subscription"]["status"] == "active"


def test_the_tenant_details_route_returns_what_was_created(catalog: dict[str, Any]) -> None:
    created = invoke("POST", "/v1/admin/tenants", body=ACME, api_key=ADMIN_API_KEY).data
    reply = invoke("GET", f"/v1/admin/tenants/{created['id']}", token=token("root", role="system_admin"))
    assert reply.status == 200
    assert {field: reply.data[field] for field in created} == created
    assert reply.data["subscriptions_count"] == 1
    assert [invoice["amount_due"] for invoice in reply.data["invoices"]] == [0.0]  # the trial's first invoice
    assert reply.data["payment_methods"] == []
    assert reply.data["warnings"] == []
    assert reply.data["subscriptions"][0]["plan"]["name"] == "Business"


def test_an_unknown_tenant_and_a_forged_id_are_both_404(catalog: dict[str, Any]) -> None:
    assert invoke("GET", "/v1/admin/tenants/tnt_00000000000000000000", api_key=ADMIN_API_KEY).status == 404
    reply = invoke("GET", "/v1/admin/tenants/..%2F..%2Fetc", api_key=ADMIN_API_KEY)
    assert reply.status == 404
    assert reply.body["message"] == "Tenant not found"


@pytest.mark.parametrize(("change", "field"), [
    ({"email": "not-an-email"}, "email"),
    ({"type": "company"}, "type"),
    ({"billing_cycle": "weekly"}, "billing_cycle"),
    ({"plan_id": 42}, "plan_id"),
    ({"plan_id": "pln_does_not_exist"}, "plan_id"),
    ({"plan_id": "pln_starter"}, "plan_id"),  # a personal plan for an organization
    ({"subdomain_preference": "Not valid!"}, "subdomain_preference"),
    ({"chargeable": "yes please"}, "chargeable"),
    ({"is_admin": True}, "is_admin"),
])
def test_bad_tenant_input_is_422_and_creates_nothing(
        catalog: dict[str, Any], change: dict[str, Any], field: str, stripe_sdk: Callable[[str], Any]) -> None:
    reply = invoke("POST", "/v1/admin/tenants", body={**ACME, **change}, api_key=ADMIN_API_KEY)
    assert reply.status == 422, reply.body
    assert field in reply.body["errors"]
    assert tenant_items() == []
    assert stripe_sdk("live").v1.customers.list().data == []


def test_missing_fields_are_named(catalog: dict[str, Any]) -> None:
    reply = invoke("POST", "/v1/admin/tenants", body={"name": "Acme"}, api_key=ADMIN_API_KEY)
    assert reply.status == 422
    assert {"email", "type", "plan_id", "billing_cycle"} <= set(reply.body["errors"])


def test_a_taken_subdomain_is_a_409(catalog: dict[str, Any]) -> None:
    assert invoke("POST", "/v1/admin/tenants", body=ACME, api_key=ADMIN_API_KEY).status == 201
    reply = invoke("POST", "/v1/admin/tenants", body={**ACME, "email": "other@acme.example"}, api_key=ADMIN_API_KEY)
    assert reply.status == 409
    assert "acme" in reply.body["message"]


@pytest.mark.parametrize(("mode", "path"), [("error", "/v1/customers"), ("error", "/v1/subscriptions"),
                                            ("hang", "/v1/subscriptions")])
def test_stripe_failing_on_tenant_create_is_502_and_leaves_nothing(
        catalog: dict[str, Any], stripe_fault: Callable[..., None], stripe_sdk: Callable[[str], Any],
        mode: str, path: str) -> None:
    stripe_fault(mode, path_prefix=path, seconds=3)
    reply = invoke("POST", "/v1/admin/tenants", body=ACME, api_key=ADMIN_API_KEY)
    assert reply.status == 502, reply.body
    assert tenant_items() == []
    assert plan_counter("pln_business") == 0
    # The customer made before the subscription failed was deleted again.
    assert stripe_sdk("live").v1.customers.list().data == []


def test_an_idempotent_retry_returns_the_same_tenant(catalog: dict[str, Any]) -> None:
    headers = {"Idempotency-Key": "acme-signup"}
    first = invoke("POST", "/v1/admin/tenants", body=ACME, headers=headers, api_key=ADMIN_API_KEY)
    again = invoke("POST", "/v1/admin/tenants", body=ACME, headers=headers, api_key=ADMIN_API_KEY)
    assert first.data["id"] == again.data["id"]
    assert plan_counter("pln_business") == 1


def test_a_retry_after_a_stripe_failure_succeeds_with_the_same_key(
        catalog: dict[str, Any], stripe_fault: Callable[..., None]) -> None:
    headers = {"Idempotency-Key": "acme-retry"}
    stripe_fault("error", path_prefix="/v1/subscriptions", count=2)
    assert invoke("POST", "/v1/admin/tenants", body=ACME, headers=headers, api_key=ADMIN_API_KEY).status == 502
    reply = invoke("POST", "/v1/admin/tenants", body=ACME, headers=headers, api_key=ADMIN_API_KEY)
    assert reply.status == 201, reply.body


# -------------------------------------------------------- the tenant's view

def test_a_member_sees_the_plan_usage_and_billing_period(catalog: dict[str, Any]) -> None:
    tenant = invoke("POST", "/v1/admin/tenants", body=ACME, api_key=ADMIN_API_KEY).data
    reply = invoke("GET", f"/v1/tenants/{tenant['id']}/plan", token=token("user-acme"))
    assert reply.status == 200, reply.body
    view = reply.data
    assert view["plan"]["id"] == "pln_business"
    assert view["usage"]["members"] == {"current": 1, "limit": 50, "period": "none"}
    assert view["usage"]["api_calls"] == {"current": 0, "limit": 10000, "period": "day"}
    assert view["usage"]["agents"] == {"current": 0, "limit": 20000, "period": "month"}
    subscription = tenant["active_subscription"]
    assert view["billing"]["period_start"] == subscription["current_period_start"]
    assert view["billing"]["period_end"] == subscription["current_period_end"]
    assert view["billing"]["subscription_status"] == "trialing"


def test_the_owner_is_recognised_by_a_verified_email_too(catalog: dict[str, Any]) -> None:
    tenant = invoke("POST", "/v1/admin/tenants", body=ACME, api_key=ADMIN_API_KEY).data
    path = f"/v1/tenants/{tenant['id']}/plan"
    verified = token("idp-123", email="admin@acme.example", email_verified=True)
    assert invoke("GET", path, token=verified).status == 200
    unverified = token("idp-123", email="admin@acme.example", email_verified=False)
    assert invoke("GET", path, token=unverified).status == 403


def test_a_created_tenant_is_counted_as_a_business_metric(
        catalog: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    capsys.readouterr()
    invoke("POST", "/v1/admin/tenants", body=ACME, api_key=ADMIN_API_KEY)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    emitted = [line for line in lines if "TenantCreated" in line]
    assert len(emitted) == 1
    assert emitted[0]["TenantCreated"] == [1.0]
    assert emitted[0]["tenant_type"] == "organization"
    assert emitted[0]["stripe_account"] == "live"
