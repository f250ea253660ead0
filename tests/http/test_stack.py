"""The product over HTTP on the local stack (`make dev`), with Stripe's side
checked in the emulator through the real SDK."""

from __future__ import annotations

import json
from pathlib import Path

from tests.http.conftest import Stack, request

REPO_ROOT = Path(__file__).resolve().parents[2]


def admin(stack: Stack) -> dict[str, str]:
    return {"X-Api-Key": stack.info["admin_api_key"]}


def test_the_public_catalog_is_served(stack: Stack) -> None:
    reply = request("GET", f"{stack.url}/v1/plans")
    assert reply.status == 200
    assert reply.body["success"] is True
    listed = {plan["id"] for plan in reply.data["plans"]}
    assert {"pln_free", "pln_starter", "pln_professional", "pln_enterprise", "pln_freemium", "pln_pro"} <= listed
    assert reply.data["count"] == len(listed)
    assert reply.headers["Content-Type"].startswith("application/json")


def test_unknown_routes_get_the_templates_gateway_response_in_the_envelope(stack: Stack) -> None:
    reply = request("GET", f"{stack.url}/v1/nothing")
    assert reply.status == 404
    assert reply.body["success"] is False
    assert reply.body["message"] == "Route not found"
    assert reply.body["trace_id"]


def test_openapi_json_is_the_committed_document_and_the_docs_page_renders_it(stack: Stack) -> None:
    reply = request("GET", f"{stack.url}/openapi.json")
    assert reply.status == 200
    assert reply.body == json.loads((REPO_ROOT / "openapi.json").read_text())
    page = request("GET", f"{stack.url}/docs")
    assert page.status == 200
    assert "swagger-ui" in page.body
    assert request("GET", f"{stack.url}/docs/swagger-ui-bundle.min.js").status == 200


def test_a_plan_is_created_with_its_stripe_prices_repriced_archived_and_kept_while_subscribed(
        stack: Stack) -> None:
    body = {"name": "Scale", "type": "organization", "tier": "scale", "price_monthly": 499.00,
            "price_annual": 4990.00, "max_users": 100, "is_published": True}
    created = request("POST", f"{stack.url}/v1/admin/plans", body=body, headers=admin(stack))
    assert created.status == 201, created.body
    plan = created.data
    sdk = stack.stripe("live")
    price = sdk.v1.prices.retrieve(plan["stripe"]["live"]["monthly_price_id"])
    assert price.recurring is not None
    assert (price.unit_amount, price.currency, price.recurring.interval) == (49900, "usd", "month")
    product_id = plan["stripe"]["live"]["product_id"]
    assert price.product == product_id
    assert sdk.v1.products.retrieve(product_id).metadata["plan_id"] == plan["id"]
    public = request("GET", f"{stack.url}/v1/plans/{plan['id']}")
    assert public.data["price_monthly"] == 499.0
    subscriber = request("POST", f"{stack.url}/v1/admin/tenants", headers=admin(stack), body={
        "name": "Early Bird", "email": "early@bird.example", "type": "organization", "plan_id": plan["id"],
        "billing_cycle": "monthly"}).data

    updated = request("PUT", f"{stack.url}/v1/admin/plans/{plan['id']}", body={"price_monthly": 549},
                      headers=admin(stack))
    assert updated.status == 200, updated.body
    assert updated.data["plan_version"] == "2.0.0"
    new_price = sdk.v1.prices.retrieve(updated.data["stripe"]["live"]["monthly_price_id"])
    assert new_price.unit_amount == 54900
    assert sdk.v1.prices.retrieve(price.id).active is False
    kept = sdk.v1.subscriptions.retrieve(subscriber["active_subscription"]["id"])
    assert kept["items"].data[0].price.id == price.id, "an existing subscriber keeps the price it bought"
    assert kept["items"].data[0].price.unit_amount == 49900

    archived = request("PUT", f"{stack.url}/v1/admin/plans/{plan['id']}", body={"is_archived": True},
                       headers=admin(stack))
    assert archived.status == 200
    assert request("GET", f"{stack.url}/v1/plans/{plan['id']}").status == 404
    assert sdk.v1.products.retrieve(product_id).active is False

    refused = request("DELETE", f"{stack.url}/v1/admin/plans/{plan['id']}", headers=admin(stack))
    assert refused.status == 400
    assert refused.body["message"] == "Cannot delete plan with 1 active subscriptions"


def test_a_tenant_is_created_with_customer_and_trial_and_its_owner_sees_the_plan(stack: Stack) -> None:
    body = {"name": "Globex", "email": "ceo@globex.example", "type": "organization", "plan_id": "pln_pro",
            "billing_cycle": "monthly", "owner_user_id": "user-globex", "chargeable": False}
    reply = request("POST", f"{stack.url}/v1/admin/tenants", body=body,
                    headers={"Authorization": f"Bearer {stack.info['admin_token']}"})
    assert reply.status == 201, reply.body
    tenant = reply.data
    sdk = stack.stripe("test")
    customer = sdk.v1.customers.retrieve(tenant["stripe_customer_id"])
    assert customer.metadata is not None
    assert customer.metadata.to_dict() == {"tenant_id": tenant["id"], "tenant_type": "organization"}
    subscription = sdk.v1.subscriptions.retrieve(tenant["active_subscription"]["id"])
    assert subscription.status == "trialing"
    assert (subscription.trial_start, subscription.trial_end) != (None, None)
    assert int(str(subscription.trial_end)) - int(str(subscription.trial_start)) == 14 * 86400

    details = request("GET", f"{stack.url}/v1/admin/tenants/{tenant['id']}", headers=admin(stack))
    assert details.data["memberships"][0]["role"] == "owner"

    deletion = request("DELETE", f"{stack.url}/v1/admin/plans/pln_pro", headers=admin(stack))
    assert deletion.status == 400
    assert deletion.body["message"].startswith("Cannot delete plan with ")
    assert deletion.body["message"].endswith(" active subscriptions")


def test_the_printed_owner_token_reads_its_tenant_and_no_other(stack: Stack) -> None:
    owner = {"Authorization": f"Bearer {stack.info['owner_token']}"}
    mine = request("GET", f"{stack.url}/v1/tenants/{stack.info['owner_tenant_id']}/plan", headers=owner)
    assert mine.status == 200, mine.body
    assert mine.data["tenant_id"] == stack.info["owner_tenant_id"]
    assert set(mine.data["usage"]) == set(mine.data["limits"])
    other = request("POST", f"{stack.url}/v1/admin/tenants", headers=admin(stack), body={
        "name": "Initech", "email": "boss@initech.example", "type": "personal", "plan_id": "pln_free",
        "billing_cycle": "monthly"}).data
    assert request("GET", f"{stack.url}/v1/tenants/{other['id']}/plan", headers=owner).status == 403
    assert request("GET", f"{stack.url}/v1/admin/plans", headers=owner).status == 403


def test_stripe_failing_over_http_is_a_502_with_no_tenant_left(stack: Stack) -> None:
    faults = f"{stack.info['stripe_url']}/_emulator/faults"
    request("POST", faults, body={"mode": "error", "status": 500, "count": 10, "method": "POST",
                                  "path_prefix": "/v1/customers"})
    try:
        reply = request("POST", f"{stack.url}/v1/admin/tenants", headers=admin(stack), body={
            "name": "Umbrella", "email": "it@umbrella.example", "type": "personal", "plan_id": "pln_free",
            "billing_cycle": "monthly", "subdomain_preference": "umbrella"})
    finally:
        request("DELETE", faults)
    assert reply.status == 502, reply.body
    assert reply.body["error"] == "stripe_unavailable"
    # The subdomain was never claimed: nothing was stored.
    again = request("POST", f"{stack.url}/v1/admin/tenants", headers=admin(stack), body={
        "name": "Umbrella", "email": "it@umbrella.example", "type": "personal", "plan_id": "pln_free",
        "billing_cycle": "monthly", "subdomain_preference": "umbrella"})
    assert again.status == 201, again.body


def test_an_unused_plan_is_deleted_and_its_stripe_product_archived(stack: Stack) -> None:
    body = {"name": "Pilot", "type": "personal", "tier": "pilot", "price_monthly": 5, "price_annual": 50}
    plan = request("POST", f"{stack.url}/v1/admin/plans", body=body, headers=admin(stack)).data
    deleted = request("DELETE", f"{stack.url}/v1/admin/plans/{plan['id']}", headers=admin(stack))
    assert deleted.status == 200, deleted.body
    assert request("GET", f"{stack.url}/v1/plans/{plan['id']}").status == 404
    assert stack.stripe("test").v1.products.retrieve(plan["stripe"]["test"]["product_id"]).active is False


def test_bad_input_over_http_is_a_422_naming_the_fields(stack: Stack) -> None:
    reply = request("POST", f"{stack.url}/v1/admin/plans", headers=admin(stack),
                    body={"name": "Bad", "type": "personal", "tier": "bad", "price_monthly": -1,
                          "price_annual": "lots", "colour": "red"})
    assert reply.status == 422
    assert set(reply.body["errors"]) == {"price_monthly", "price_annual", "colour"}
    assert "Bad" not in {plan["name"] for plan in request(
        "GET", f"{stack.url}/v1/admin/plans", headers=admin(stack)).data["items"]}
