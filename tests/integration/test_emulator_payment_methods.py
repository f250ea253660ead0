"""Payment methods through the real SDK: attaching test tokens, listing a customer's
(both list endpoints), the customer's default for invoices, detaching (which clears
that default and retires the payment method for good), and test clock time."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from local.stripe_emulator import EmulatorHandle
from tests.conftest import emulator_call
from tests.integration.test_emulator_billing import START, Scenario


def ids(listed: Any) -> list[str]:
    return [obj.id for obj in listed.data]


def default_of(client: stripe.StripeClient, customer_id: str, expand: list[str] | None = None) -> Any:
    settings = client.v1.customers.retrieve(customer_id, {"expand": expand or []}).invoice_settings
    assert settings is not None
    return settings.default_payment_method


def test_each_attached_test_token_is_a_new_card_listed_for_its_customer_newest_first(
        client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"email": "pay@example.com"})
    other = client.v1.customers.create({})

    visa = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    mastercard = client.v1.payment_methods.attach("pm_card_mastercard", {"customer": customer.id})
    second_visa = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    client.v1.payment_methods.attach("pm_card_amex", {"customer": other.id})

    assert visa.id.startswith("pm_")
    assert visa.id != second_visa.id
    assert (visa.customer, visa.type) == (customer.id, "card")
    assert visa.card is not None
    assert mastercard.card is not None
    assert (visa.card.brand, visa.card.last4, mastercard.card.brand) == ("visa", "4242", "mastercard")
    newest_first = [second_visa.id, mastercard.id, visa.id]
    assert ids(client.v1.customers.payment_methods.list(customer.id)) == newest_first
    assert ids(client.v1.payment_methods.list({"customer": customer.id})) == newest_first
    assert ids(client.v1.payment_methods.list({"customer": customer.id, "type": "card", "limit": 2})) == \
        newest_first[:2]
    assert client.v1.customers.payment_methods.retrieve(customer.id, visa.id).id == visa.id
    attached = client.v1.events.list({"type": "payment_method.attached"}).data
    assert len(attached) == 4
    assert default_of(client, customer.id) is None, "attaching does not make a default"


def test_the_default_payment_method_is_set_through_the_customer_and_pays_its_invoices(
        client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({})
    card = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})

    updated = client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})

    assert updated.invoice_settings is not None
    assert updated.invoice_settings.default_payment_method == card.id
    event = client.v1.events.list({"type": "customer.updated"}).data[0]
    assert event.data.previous_attributes is not None
    assert event.data.previous_attributes["invoice_settings"].to_dict() == {"default_payment_method": None}
    expanded = default_of(client, customer.id, expand=["invoice_settings.default_payment_method"])
    assert isinstance(expanded, stripe.PaymentMethod)
    product = client.v1.products.create({"name": "Pro"})
    price = client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": 1900,
                                     "recurring": {"interval": "month"}})
    subscription = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}],
                                                   "expand": ["latest_invoice"]})
    assert subscription.status == "active"
    assert isinstance(subscription.latest_invoice, stripe.Invoice)
    assert subscription.latest_invoice.status == "paid"


def test_a_default_must_be_attached_to_that_customer(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({})
    other = client.v1.customers.create({})
    theirs = client.v1.payment_methods.attach("pm_card_visa", {"customer": other.id})

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": theirs.id}})

    assert refused.value.param == "invoice_settings[default_payment_method]"
    assert default_of(client, customer.id) is None
    with pytest.raises(stripe.InvalidRequestError) as moved:
        client.v1.payment_methods.attach(theirs.id, {"customer": customer.id})
    assert "already been attached" in str(moved.value)


def test_detaching_the_default_clears_it_and_the_card_can_never_be_used_again(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"payment_method": "pm_card_visa",
                                           "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    card = default_of(client, customer.id)
    spare = client.v1.payment_methods.attach("pm_card_mastercard", {"customer": customer.id})

    detached = client.v1.payment_methods.detach(card)

    assert detached.customer is None
    assert default_of(client, customer.id) is None
    assert ids(client.v1.customers.payment_methods.list(customer.id)) == [spare.id]
    types = [event.type for event in client.v1.events.list({"limit": 3}).data]
    assert types[:2] == ["payment_method.detached", "customer.updated"]
    with pytest.raises(stripe.InvalidRequestError) as reused:
        client.v1.payment_methods.attach(card, {"customer": customer.id})
    assert "may not be used again" in str(reused.value)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_methods.detach(card)
    with pytest.raises(stripe.InvalidRequestError) as as_default:
        client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card}})
    assert as_default.value.param == "invoice_settings[default_payment_method]"


def test_detaching_another_card_keeps_the_default(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"payment_method": "pm_card_visa",
                                           "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    default = default_of(client, customer.id)
    spare = client.v1.payment_methods.attach("pm_card_mastercard", {"customer": customer.id})

    client.v1.payment_methods.detach(spare.id)

    assert default_of(client, customer.id) == default
    assert client.v1.events.list({"type": "customer.updated"}).data == []


def test_a_card_declined_on_attach_and_unknown_ids(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({})
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_methods.attach("pm_card_chargeDeclined", {"customer": customer.id})
    assert declined.value.code == "card_declined"
    with pytest.raises(stripe.InvalidRequestError) as unknown_card:
        client.v1.payment_methods.attach("pm_nope", {"customer": customer.id})
    assert unknown_card.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError) as unknown_customer:
        client.v1.payment_methods.attach("pm_card_visa", {"customer": "cus_nope"})
    assert (unknown_customer.value.http_status, unknown_customer.value.param) == (400, "customer")
    with pytest.raises(stripe.InvalidRequestError) as unknown_owner:
        client.v1.customers.payment_methods.list("cus_nope")
    assert unknown_owner.value.http_status == 404
    assert ids(client.v1.customers.payment_methods.list(customer.id)) == []


def test_payment_methods_of_a_customer_on_a_test_clock_live_in_its_time_and_are_logged(
        emulator: EmulatorHandle, client: stripe.StripeClient) -> None:
    scenario = Scenario(client, frozen_time=START)
    customer = scenario.customer.id

    card = client.v1.payment_methods.attach("pm_card_mastercard", {"customer": customer})
    client.v1.customers.update(customer, {"invoice_settings": {"default_payment_method": card.id}})
    client.v1.payment_methods.detach(card.id)

    assert card.created == START
    for event in client.v1.events.list({"types": ["payment_method.attached", "payment_method.detached"]}).data:
        assert event.created == START, event.type
    logged = emulator_call(emulator, "GET", "/_emulator/requests?path_prefix=/v1/payment_methods")["requests"]
    assert [(entry["method"], entry["path"], entry["status"]) for entry in logged] == [
        ("POST", "/v1/payment_methods/pm_card_mastercard/attach", 200),
        ("POST", f"/v1/payment_methods/{card.id}/detach", 200)]
