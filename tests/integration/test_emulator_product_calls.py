"""The Stripe calls the product makes, each as Stripe's API reference describes it,
through the real SDK: customer lookup by email, subscriptions of a customer
with their metadata, products with a chosen id, prices by product and by
lookup key, archiving, deleting a customer, canceling a subscription."""

from __future__ import annotations

import time
from typing import Any

import pytest
import stripe

from local.stripe_emulator import EmulatorHandle
from local.stripe_emulator.testing import advance_test_clock, client_for

DAY = 86400


def a_price(client: stripe.StripeClient, product: str | None = None, amount: int = 1900,
            **params: Any) -> stripe.Price:
    product = product or client.v1.products.create({"name": "Pro"}).id
    create: Any = {"product": product, "currency": "usd", "unit_amount": amount,
                   "recurring": {"interval": "month"}, **params}
    return client.v1.prices.create(create)


def ids(listed: Any) -> list[str]:
    return [obj.id for obj in listed.data]


# ------------------------------------------------------------- customers


def test_customers_list_by_email_is_exact_and_case_sensitive(client: stripe.StripeClient) -> None:
    ada = client.v1.customers.create({"email": "ada@example.com", "metadata": {"tenant_id": "t1"}})
    client.v1.customers.create({"email": "Ada@example.com"})
    client.v1.customers.create({"email": "ada@example.com.au"})
    gone = client.v1.customers.create({"email": "ada@example.com"})
    client.v1.customers.delete(gone.id)

    listed = client.v1.customers.list({"email": "ada@example.com"})

    assert ids(listed) == [ada.id]
    assert listed.data[0].metadata is not None
    assert listed.data[0].metadata["tenant_id"] == "t1"
    assert ids(client.v1.customers.list({"email": "nobody@example.com"})) == []


def test_deleting_a_customer_cancels_every_subscription_it_has(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"payment_method": "pm_card_visa",
                                           "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    trialing = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": a_price(client).id}],
                                               "trial_period_days": 14})
    active = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": a_price(client).id}]})

    deleted = client.v1.customers.delete(customer.id)

    assert (deleted.id, deleted.deleted) == (customer.id, True)
    for subscription in (trialing, active):
        ended = client.v1.subscriptions.retrieve(subscription.id)
        assert (ended.status, ended.cancellation_details and ended.cancellation_details.reason) == (
            "canceled", "cancellation_requested")
    events = client.v1.events.list({"type": "customer.subscription.deleted"}).data
    assert sorted(event.data.object["id"] for event in events) == sorted([trialing.id, active.id])
    assert client.v1.customers.retrieve(customer.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": a_price(client).id}]})
    assert (refused.value.code, refused.value.param) == ("resource_missing", "customer")


# --------------------------------------------------------- subscriptions


def test_subscriptions_list_by_customer_with_status_all_has_each_ones_metadata(
        client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({})
    other = client.v1.customers.create({})
    price = a_price(client)
    kept = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}],
                                           "trial_period_days": 7, "metadata": {"tenant_id": "t1", "plan": "a"}})
    canceled = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": a_price(client).id}],
                                               "trial_period_days": 7, "metadata": {"tenant_id": "t1", "plan": "b"}})
    client.v1.subscriptions.cancel(canceled.id)
    client.v1.subscriptions.create({"customer": other.id, "items": [{"price": price.id}], "trial_period_days": 7})

    everything = client.v1.subscriptions.list({"customer": customer.id, "status": "all"})

    assert ids(everything) == [canceled.id, kept.id]
    assert [(sub.status, sub.metadata["plan"]) for sub in everything.data] == [("canceled", "b"),
                                                                               ("trialing", "a")]
    assert ids(client.v1.subscriptions.list({"customer": customer.id})) == [kept.id], "canceled ones are left out"
    assert ids(client.v1.subscriptions.list({"customer": customer.id, "status": "canceled"})) == [canceled.id]


def test_by_default_only_canceled_subscriptions_are_left_out(client: stripe.StripeClient) -> None:
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": int(time.time())}).id
    customer = client.v1.customers.create({"test_clock": clock})
    unpaid = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": a_price(client).id}]})
    assert unpaid.status == "incomplete"

    advance_test_clock(client, clock, unpaid.created + DAY)

    assert client.v1.subscriptions.retrieve(unpaid.id).status == "incomplete_expired"
    assert ids(client.v1.subscriptions.list({"customer": customer.id})) == [unpaid.id]
    assert ids(client.v1.subscriptions.list({"customer": customer.id, "status": "ended"})) == [unpaid.id]


def test_canceling_a_subscription_ends_it_now_and_twice_is_resource_missing(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({})
    subscription = client.v1.subscriptions.create({
        "customer": customer.id, "items": [{"price": a_price(client).id}], "collection_method": "send_invoice",
        "days_until_due": 30})

    canceled = client.v1.subscriptions.cancel(subscription.id, {"cancellation_details": {"feedback": "unused"}})

    assert canceled.status == "canceled"
    assert canceled.ended_at is not None
    assert canceled.canceled_at == canceled.ended_at
    assert canceled.cancellation_details is not None
    assert (canceled.cancellation_details.reason, canceled.cancellation_details.feedback) == (
        "cancellation_requested", "unused")
    deleted = client.v1.events.list({"type": "customer.subscription.deleted"}).data
    assert [event.data.object["id"] for event in deleted] == [subscription.id]
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.subscriptions.cancel(subscription.id)
    assert again.value.code == "resource_missing"


# ---------------------------------------------------------------- catalog


def test_a_product_can_have_a_chosen_id_once(emulator: EmulatorHandle, client: stripe.StripeClient) -> None:
    product = client.v1.products.create({"id": "pln_pro", "name": "Pro", "metadata": {"plan_id": "pln_pro"}})

    assert product.id == "pln_pro"
    assert client.v1.products.retrieve("pln_pro").name == "Pro"
    with pytest.raises(stripe.InvalidRequestError) as taken:
        client.v1.products.create({"id": "pln_pro", "name": "Pro again"})
    assert (taken.value.http_status, taken.value.code, taken.value.param) == (400, "resource_already_exists", "id")
    assert ids(client.v1.products.list()) == ["pln_pro"]
    assert a_price(client, "pln_pro").product == "pln_pro"
    live = client_for(emulator.url, "sk_live_emulator")
    assert live.v1.products.create({"id": "pln_pro", "name": "Pro"}).livemode is True, "ids are per account"


def test_prices_list_by_product_and_active(client: stripe.StripeClient) -> None:
    product = client.v1.products.create({"name": "Business"}).id
    old, new = a_price(client, product, 2900), a_price(client, product, 3900)
    a_price(client)
    client.v1.prices.update(old.id, {"active": False})

    assert ids(client.v1.prices.list({"product": product})) == [new.id, old.id]
    assert ids(client.v1.prices.list({"product": product, "active": True})) == [new.id]
    assert ids(client.v1.prices.list({"product": product, "active": False})) == [old.id]
    assert client.v1.prices.retrieve(old.id).active is False


def test_a_lookup_key_belongs_to_one_price_and_moves_only_when_asked(client: stripe.StripeClient) -> None:
    product = client.v1.products.create({"name": "Pro"}).id
    first = a_price(client, product, 2900, lookup_key="pro_monthly")
    with pytest.raises(stripe.InvalidRequestError, match="already uses that lookup key") as taken:
        a_price(client, product, 3900, lookup_key="pro_monthly")
    assert taken.value.param == "lookup_key"

    second = a_price(client, product, 3900, lookup_key="pro_monthly", transfer_lookup_key=True)

    assert second.lookup_key == "pro_monthly"
    assert client.v1.prices.retrieve(first.id).lookup_key is None
    moved = client.v1.events.list({"type": "price.updated"}).data
    assert moved[0].data.object["id"] == first.id
    assert moved[0].data.previous_attributes is not None
    assert moved[0].data.previous_attributes["lookup_key"] == "pro_monthly"
    annual = a_price(client, product, 39000, lookup_key="pro_annual")
    listed = client.v1.prices.list({"lookup_keys": ["pro_monthly", "pro_annual", "missing"]})
    assert sorted(ids(listed)) == sorted([second.id, annual.id])
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.prices.list({"lookup_keys": [f"key{n}" for n in range(11)]})


def test_a_lookup_key_of_an_archived_price_is_still_taken(client: stripe.StripeClient) -> None:
    old = a_price(client, lookup_key="team_monthly")
    client.v1.prices.update(old.id, {"active": False})
    with pytest.raises(stripe.InvalidRequestError, match="already uses that lookup key"):
        a_price(client, lookup_key="team_monthly")
    moved = client.v1.prices.update(a_price(client).id, {"lookup_key": "team_monthly", "transfer_lookup_key": True})
    assert moved.lookup_key == "team_monthly"


def test_archiving_a_product_and_its_prices(client: stripe.StripeClient) -> None:
    price = a_price(client)
    product = str(price.product)

    archived = client.v1.products.update(product, {"active": False})
    retired = client.v1.prices.update(price.id, {"active": False})

    assert (archived.active, retired.active) == (False, False)
    assert ids(client.v1.products.list({"active": True})) == []
    assert ids(client.v1.products.list({"active": False})) == [product]
    restored = client.v1.products.update(product, {"active": True})
    assert restored.active is True
    customer = client.v1.customers.create({})
    with pytest.raises(stripe.InvalidRequestError, match="inactive"):
        client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}]})
