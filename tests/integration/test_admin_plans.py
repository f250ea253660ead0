"""Plan management (seed 002) with Stripe in step, in-process on moto and the emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from local.default_catalog import SEEDER
from saas_core import stripe_gateway
from saas_core.errors import NotEligible
from saas_core.models.tenants import TenantIn
from saas_core.repositories import dynamo
from saas_core.repositories import plans as plans_repository
from saas_core.services import tenants_admin
from tests.support import ADMIN_API_KEY, invoke

NEW_PLAN = {
    "name": "Startup", "type": "organization", "tier": "team", "price_monthly": 149.00, "price_annual": 1490.00,
    "max_users": 20, "max_agents": 50, "storage_gb": 100, "trial_days": 14,
    "features": ["All Pro features", "Up to 20 team members"],
    "limits": {"agents_per_month": 10000, "api_calls_per_day": 5000},
    "description": "Perfect for growing startups", "is_published": True,
}


def stored_plans() -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("plans")
    return [item for item in table.scan()["Items"] if item["sk"] == "PLAN"]


def audit_actions(plan_id: str) -> list[str]:
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("plans")
    items = table.query(KeyConditionExpression="pk = :pk AND begins_with(sk, :a)",
                        ExpressionAttributeValues={":pk": f"PLAN#{plan_id}", ":a": "AUDIT#"})["Items"]
    return [str(item["action"]) for item in items]


def subscribe(plan_id: str, email: str = "owner@acme.example", tenant_type: str = "organization") -> str:
    created = tenants_admin.create_tenant(TenantIn.model_validate({
        "name": "Acme", "email": email, "type": tenant_type, "plan_id": plan_id, "billing_cycle": "monthly",
        "chargeable": False}), SEEDER, None)
    return created.id


# ------------------------------------------------------------------ create

def test_creating_a_plan_creates_its_stripe_product_and_prices_in_both_accounts(
        aws: None, stripe_sdk: Callable[[str], Any]) -> None:
    reply = invoke("POST", "/v1/admin/plans", body=NEW_PLAN, api_key=ADMIN_API_KEY)
    assert reply.status == 201, reply.body
    plan = reply.data
    assert reply.body["message"] == "Subscription plan created successfully"
    assert plan["price_monthly"] == 149.0
    assert plan["plan_version"] == "1.0.0"
    assert plan["limits"] == {
        "members": {"max": 20, "period": "none"}, "active_agents": {"max": 50, "period": "none"},
        "storage_gb": {"max": 100, "period": "none"}, "agents": {"max": 10000, "period": "month"},
        "api_calls": {"max": 5000, "period": "day"},
    }
    assert plan["feature_list"] == ["All Pro features", "Up to 20 team members"]
    assert plan["max_users"] == 20
    for account in ("live", "test"):
        ids = plan["stripe"][account]
        sdk = stripe_sdk(account)
        product = sdk.v1.products.retrieve(ids["product_id"])
        assert product.metadata["plan_id"] == plan["id"]
        monthly = sdk.v1.prices.retrieve(ids["monthly_price_id"])
        annual = sdk.v1.prices.retrieve(ids["annual_price_id"])
        assert (monthly.unit_amount, monthly.recurring.interval) == (14900, "month")
        assert (annual.unit_amount, annual.recurring.interval) == (149000, "year")
    # The product's id is the plan's in each account: a retried create finds it instead of making another.
    assert plan["stripe"]["live"]["product_id"] == plan["stripe"]["test"]["product_id"] == plan["id"]
    assert plan["stripe"]["live"]["monthly_price_id"] != plan["stripe"]["test"]["monthly_price_id"]
    assert audit_actions(plan["id"]) == ["plan.created"]


def test_seed_002_limits_keep_their_periods(aws: None) -> None:
    plan = invoke("POST", "/v1/admin/plans", body=NEW_PLAN, api_key=ADMIN_API_KEY).data
    assert plan["limits"]["agents"] == {"max": 10000, "period": "month"}
    assert plan["limits"]["api_calls"] == {"max": 5000, "period": "day"}
    assert plan["limits"]["members"] == {"max": 20, "period": "none"}


def test_the_same_idempotency_key_and_body_replays_the_first_response(aws: None) -> None:
    headers = {"Idempotency-Key": "create-startup-1"}
    first = invoke("POST", "/v1/admin/plans", body=NEW_PLAN, headers=headers, api_key=ADMIN_API_KEY)
    again = invoke("POST", "/v1/admin/plans", body=NEW_PLAN, headers=headers, api_key=ADMIN_API_KEY)
    assert first.status == again.status == 201
    assert again.data["id"] == first.data["id"]
    assert again.body["trace_id"] == first.body["trace_id"], "the stored response is returned as it was"
    assert len(stored_plans()) == 1


def test_the_same_idempotency_key_with_another_body_is_refused(aws: None) -> None:
    headers = {"Idempotency-Key": "create-startup-2"}
    invoke("POST", "/v1/admin/plans", body=NEW_PLAN, headers=headers, api_key=ADMIN_API_KEY)
    reply = invoke("POST", "/v1/admin/plans", body={**NEW_PLAN, "name": "Other"}, headers=headers,
                   api_key=ADMIN_API_KEY)
    assert reply.status == 422
    assert "Idempotency-Key" in reply.body["errors"]
    assert len(stored_plans()) == 1


@pytest.mark.parametrize(("change", "field"), [
    ({"price_monthly": "free"}, "price_monthly"),
    ({"price_monthly": -1}, "price_monthly"),
    ({"price_annual": 10.999}, "price_annual"),
    ({"type": "enterprise"}, "type"),
    ({"trial_days": 9999}, "trial_days"),
    ({"name": ""}, "name"),
    ({"tier": "Not A Slug!"}, "tier"),
    ({"surprise": True}, "surprise"),
    ({"limits": {"api_calls": {"max": -5, "period": "day"}}}, "limits.api_calls.max"),
    ({"limits": {"api_calls": {"max": 5, "period": "fortnight"}}}, "limits.api_calls.period"),
    ({"is_published": "maybe"}, "is_published"),
])
def test_bad_plan_input_is_422_per_field_and_stores_nothing(
        aws: None, change: dict[str, Any], field: str, stripe_sdk: Callable[[str], Any]) -> None:
    reply = invoke("POST", "/v1/admin/plans", body={**NEW_PLAN, **change}, api_key=ADMIN_API_KEY)
    assert reply.status == 422, reply.body
    assert field in reply.body["errors"], reply.body["errors"]
    assert stored_plans() == []
    assert stripe_sdk("live").v1.products.list().data == []


@pytest.mark.parametrize("missing", ["name", "type", "tier", "price_monthly", "price_annual"])
def test_missing_required_fields_are_named(aws: None, missing: str) -> None:
    body = {key: value for key, value in NEW_PLAN.items() if key != missing}
    reply = invoke("POST", "/v1/admin/plans", body=body, api_key=ADMIN_API_KEY)
    assert reply.status == 422
    assert missing in reply.body["errors"]


def test_a_body_that_is_not_json_is_422(aws: None) -> None:
    reply = invoke("POST", "/v1/admin/plans", body="{not json", api_key=ADMIN_API_KEY)
    assert reply.status == 422
    assert reply.body["success"] is False


@pytest.mark.parametrize(("mode", "path"), [("error", "/v1/products"), ("error", "/v1/prices"),
                                            ("hang", "/v1/prices")])
def test_stripe_failing_on_plan_create_is_502_and_leaves_no_plan(
        aws: None, stripe_fault: Callable[..., None], mode: str, path: str,
        stripe_sdk: Callable[[str], Any]) -> None:
    stripe_fault(mode, path_prefix=path, seconds=3)
    reply = invoke("POST", "/v1/admin/plans", body=NEW_PLAN, api_key=ADMIN_API_KEY)
    assert reply.status == 502, reply.body
    assert reply.body["error"] == "stripe_unavailable"
    assert "Traceback" not in str(reply.body)
    assert stored_plans() == []


# ------------------------------------------------------------------ update

def test_a_price_change_makes_new_prices_and_subscribers_keep_theirs(
        catalog: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    tenant_id = subscribe("pln_pro")
    before = catalog["pln_pro"]
    reply = invoke("PUT", "/v1/admin/plans/pln_pro", body={"price_monthly": 39, "price_annual": 390},
                   api_key=ADMIN_API_KEY)
    assert reply.status == 200, reply.body
    plan = reply.data
    assert plan["plan_version"] == "2.0.0"
    assert plan["price_monthly"] == 39.0
    old_ids, new_ids = before.stripe["test"], plan["stripe"]["test"]
    assert new_ids["product_id"] == old_ids.product_id
    assert new_ids["monthly_price_id"] != old_ids.monthly_price_id
    sdk = stripe_sdk("test")
    assert sdk.v1.prices.retrieve(new_ids["monthly_price_id"]).unit_amount == 3900
    assert sdk.v1.prices.retrieve(old_ids.monthly_price_id).active is False
    tenant = invoke("GET", f"/v1/admin/tenants/{tenant_id}", api_key=ADMIN_API_KEY).data
    subscription = sdk.v1.subscriptions.retrieve(tenant["active_subscription"]["id"])
    assert subscription["items"].data[0].price.id == old_ids.monthly_price_id
    assert tenant["active_subscription"]["plan_version"] == "1.0.0"


def test_editing_limits_bumps_the_minor_version_without_touching_prices(catalog: dict[str, Any]) -> None:
    reply = invoke("PUT", "/v1/admin/plans/pln_pro",
                   body={"limits": {"members": {"max": 25, "period": "none"}}}, api_key=ADMIN_API_KEY)
    assert reply.data["plan_version"] == "1.1.0"
    assert reply.data["stripe"] == catalog["pln_pro"].model_dump(mode="json")["stripe"]


def test_archiving_hides_a_plan_from_the_public_catalog_only(catalog: dict[str, Any]) -> None:
    assert invoke("PUT", "/v1/admin/plans/pln_pro", body={"is_archived": True}, api_key=ADMIN_API_KEY).status == 200
    public_ids = [plan["id"] for plan in invoke("GET", "/v1/plans").data["plans"]]
    assert "pln_pro" not in public_ids
    assert invoke("GET", "/v1/plans/pln_pro").status == 404
    admin_ids = [plan["id"] for plan in invoke("GET", "/v1/admin/plans", api_key=ADMIN_API_KEY).data["items"]]
    assert "pln_pro" in admin_ids


def test_a_stale_version_is_a_409(catalog: dict[str, Any]) -> None:
    reply = invoke("PUT", "/v1/admin/plans/pln_pro", body={"name": "Pro+", "version": 7}, api_key=ADMIN_API_KEY)
    assert reply.status == 409
    assert invoke("GET", "/v1/plans/pln_pro").data["name"] == "Pro"


def test_updating_a_missing_plan_is_404_whatever_its_id_looks_like(catalog: dict[str, Any]) -> None:
    assert invoke("PUT", "/v1/admin/plans/pln_nope", body={"name": "x"}, api_key=ADMIN_API_KEY).status == 404
    reply = invoke("PUT", "/v1/admin/plans/DROP TABLE", body={"name": "x"}, api_key=ADMIN_API_KEY)
    assert reply.status == 404
    assert reply.body["message"] == "Plan not found"


@pytest.mark.parametrize("field", ["name", "price_monthly", "limits", "is_archived"])
def test_a_null_cannot_erase_a_plan_field(catalog: dict[str, Any], field: str) -> None:
    reply = invoke("PUT", "/v1/admin/plans/pln_pro", body={field: None}, api_key=ADMIN_API_KEY)
    assert reply.status == 422
    assert field in reply.body["errors"]
    assert invoke("GET", "/v1/plans/pln_pro").data["name"] == "Pro"


def test_unknown_fields_on_update_are_refused(catalog: dict[str, Any]) -> None:
    reply = invoke("PUT", "/v1/admin/plans/pln_pro", body={"active_subscriptions": 0}, api_key=ADMIN_API_KEY)
    assert reply.status == 422
    assert "active_subscriptions" in reply.body["errors"]


# ------------------------------------------------------------------ delete

def test_a_plan_with_active_subscriptions_cannot_be_deleted(catalog: dict[str, Any]) -> None:
    subscribe("pln_pro", "a@one.example")
    subscribe("pln_pro", "b@two.example")
    reply = invoke("DELETE", "/v1/admin/plans/pln_pro", api_key=ADMIN_API_KEY)
    assert reply.status == 400
    assert reply.body["message"] == "Cannot delete plan with 2 active subscriptions"
    assert invoke("GET", "/v1/plans/pln_pro").status == 200


def test_deleting_an_unused_plan_removes_it_and_archives_its_stripe_product(
        catalog: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    reply = invoke("DELETE", "/v1/admin/plans/pln_trial", api_key=ADMIN_API_KEY)
    assert reply.status == 200, reply.body
    assert invoke("GET", "/v1/plans/pln_trial").status == 404
    product = stripe_sdk("live").v1.products.retrieve(catalog["pln_trial"].stripe["live"].product_id)
    assert product.active is False
    assert audit_actions("pln_trial")[-1] == "plan.deleted"


# -------------------------------------------------------------------- list

def test_the_admin_list_filters_and_pages_with_a_signed_cursor(catalog: dict[str, Any]) -> None:
    first = invoke("GET", "/v1/admin/plans", query={"type": "personal", "per_page": "2"}, api_key=ADMIN_API_KEY).data
    assert first["total"] == 5
    assert [plan["id"] for plan in first["items"]] == ["pln_free", "pln_trial"]
    second = invoke("GET", "/v1/admin/plans", query={"type": "personal", "per_page": "2",
                                                     "cursor": first["next_cursor"]}, api_key=ADMIN_API_KEY).data
    assert [plan["id"] for plan in second["items"]] == ["pln_starter", "pln_professional"]
    elsewhere = invoke("GET", "/v1/admin/plans", query={"type": "organization", "per_page": "2",
                                                        "cursor": first["next_cursor"]}, api_key=ADMIN_API_KEY)
    assert elsewhere.status == 422, "a cursor only works for the query that issued it"


@pytest.mark.parametrize(("query", "field"), [
    ({"per_page": "1000"}, "per_page"), ({"per_page": "0"}, "per_page"), ({"per_page": "many"}, "per_page"),
    ({"type": "enterprise"}, "type"), ({"active": "perhaps"}, "active"), ({"cursor": "forged.cursor"}, "cursor"),
])
def test_bad_list_queries_are_422(catalog: dict[str, Any], query: dict[str, str], field: str) -> None:
    reply = invoke("GET", "/v1/admin/plans", query=query, api_key=ADMIN_API_KEY)
    assert reply.status == 422
    assert field in reply.body["errors"]


def test_no_tenant_can_take_a_plan_while_it_is_being_deleted(
        catalog: dict[str, Any], monkeypatch: pytest.MonkeyPatch, stripe_sdk: Callable[[str], Any]) -> None:
    archive = stripe_gateway.set_product_active
    refusals: list[Exception] = []

    def archive_while_someone_subscribes(product_id: str, account: str, *, active: bool) -> None:
        archive(product_id, account, active=active)
        try:
            dynamo.transact([plans_repository.take_place("pln_trial")])
        except NotEligible as refused:
            refusals.append(refused)

    monkeypatch.setattr(stripe_gateway, "set_product_active", archive_while_someone_subscribes)
    reply = invoke("DELETE", "/v1/admin/plans/pln_trial", api_key=ADMIN_API_KEY)
    assert reply.status == 200, reply.body
    assert refusals, "the plan being deleted must refuse a new subscriber"
    ids = catalog["pln_trial"].stripe["live"]
    assert stripe_sdk("live").v1.products.retrieve(ids.product_id).active is False
