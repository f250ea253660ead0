"""The owner's billing details (seed 003 §9), in-process against moto and the Stripe emulator: Stripe ids
must be the tenant's own, the email goes to Stripe, the currency must be Stripe's and the plan's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from saas_core.repositories import tenants
from tests.support import ADMIN_API_KEY, invoke, token

OWNER = "user-billing-owner"


@pytest.fixture
def tenant(catalog: dict[str, Any]) -> dict[str, Any]:
    reply = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Billing Corp", "email": "owner@billing.example", "type": "organization", "plan_id": "pln_pro",
        "billing_cycle": "monthly", "owner_user_id": OWNER})
    assert reply.status == 201, reply.body
    return dict(reply.data)


def put_billing(tenant_id: str, **body: Any) -> Any:
    return invoke("PUT", f"/v1/tenants/{tenant_id}/billing", token=token(OWNER), body=body)


def test_the_billing_email_is_written_to_the_stripe_customer(tenant: dict[str, Any],
                                                            stripe_sdk: Callable[[str], Any]) -> None:
    reply = put_billing(tenant["id"], billing_email="Invoices@Billing.example", billing_currency="USD")
    assert reply.status == 200, reply.body
    assert reply.data == {"tenant_id": tenant["id"], "stripe_customer_id": tenant["stripe_customer_id"],
                          "stripe_subscription_id": tenant["active_subscription"]["id"],
                          "billing_email": "invoices@billing.example", "billing_currency": "USD"}
    customer = stripe_sdk("live").v1.customers.retrieve(tenant["stripe_customer_id"])
    assert customer.email == "invoices@billing.example"


@pytest.mark.parametrize(("currency", "says"), [("EUR", "priced in USD, not EUR"),
                                                ("XYZ", "XYZ is not a currency Stripe charges in")])
def test_a_currency_that_is_not_the_plans_or_not_stripes_is_refused(tenant: dict[str, Any], currency: str,
                                                                    says: str) -> None:
    reply = put_billing(tenant["id"], billing_currency=currency, billing_email="x@billing.example")
    assert reply.status == 400
    assert says in reply.body["message"]
    assert tenants.require(tenant["id"]).billing_email is None, "nothing changed"


def test_stripe_ids_that_are_not_the_tenants_own_are_refused_and_change_nothing(
        tenant: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    client = stripe_sdk("live")
    strangers = client.v1.customers.create({"email": "someone@else.example", "metadata": {"tenant_id": "tnt_other"}})
    anonymous = client.v1.customers.create({"email": "nobody@else.example"})
    cases = [({"stripe_customer_id": "cus_NoSuchCustomer"}, "No customer cus_NoSuchCustomer in this tenant's"),
             ({"stripe_customer_id": strangers.id}, "does not carry this tenant's id"),
             ({"stripe_customer_id": anonymous.id}, "does not carry this tenant's id"),
             ({"stripe_subscription_id": "sub_NoSuchSubscription"}, "No subscription sub_NoSuchSubscription")]
    for body, says in cases:
        reply = put_billing(tenant["id"], **body)
        assert reply.status == 400, (body, reply.body)
        assert says in reply.body["message"]
    stored = tenants.require(tenant["id"])
    assert stored.stripe_customer_id == tenant["stripe_customer_id"]
    assert stored.version == tenants.require(tenant["id"]).version
    assert tenants.tenant_of_customer(strangers.id) is None


def test_a_customer_of_this_tenant_is_linked_and_its_events_find_the_tenant(
        tenant: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    client = stripe_sdk("live")
    replacement = client.v1.customers.create({"email": "new@billing.example",
                                              "metadata": {"tenant_id": tenant["id"]}})
    reply = put_billing(tenant["id"], stripe_customer_id=replacement.id)
    assert reply.status == 200, reply.body
    assert reply.data["stripe_customer_id"] == replacement.id
    assert tenants.tenant_of_customer(replacement.id) == tenant["id"]
    assert tenants.tenant_of_customer(tenant["stripe_customer_id"]) is None
    audit = invoke("GET", f"/v1/admin/tenants/{tenant['id']}/audit", api_key=ADMIN_API_KEY).data["items"]
    assert "tenant.billing_updated" in [entry["action"] for entry in audit]


def test_a_subscription_of_another_customer_is_refused(tenant: dict[str, Any],
                                                       stripe_sdk: Callable[[str], Any]) -> None:
    client = stripe_sdk("live")
    other = client.v1.customers.create({"email": "o@billing.example", "metadata": {"tenant_id": tenant["id"]}})
    price = client.v1.subscriptions.retrieve(tenant["active_subscription"]["id"])["items"].data[0].price.id
    foreign = client.v1.subscriptions.create({"customer": other.id, "items": [{"price": price}],
                                              "collection_method": "send_invoice", "days_until_due": 30,
                                              "metadata": {"tenant_id": tenant["id"]}})
    reply = put_billing(tenant["id"], stripe_subscription_id=foreign.id)
    assert reply.status == 400
    assert f"bills customer {other.id}, not {tenant['stripe_customer_id']}" in reply.body["message"]


def test_an_empty_update_is_a_422(tenant: dict[str, Any]) -> None:
    reply = put_billing(tenant["id"])
    assert reply.status == 422
    assert "at least one" in str(reply.body)


def test_stripe_failing_is_a_502_and_nothing_changes(tenant: dict[str, Any],
                                                     stripe_fault: Callable[..., None]) -> None:
    stripe_fault("error", path_prefix=f"/v1/customers/{tenant['stripe_customer_id']}", method="POST", count=10)
    reply = put_billing(tenant["id"], billing_email="late@billing.example")
    assert reply.status == 502
    assert tenants.require(tenant["id"]).billing_email is None
