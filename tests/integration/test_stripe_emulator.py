"""The Stripe emulator, driven only through the real `stripe` SDK."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from local.stripe_emulator import EmulatorHandle, start_in_thread
from tests.conftest import emulator_call

DAY = 86400


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    handle = start_in_thread()
    yield handle
    handle.stop()


def sdk(handle: EmulatorHandle, key: str = "sk_test_emulator", **options: Any) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": handle.url}, max_network_retries=0, **options)


def a_price(client: stripe.StripeClient, amount: int = 1900, interval: str = "month") -> stripe.Price:
    product = client.v1.products.create({"name": "Pro"})
    recurring: Any = {"interval": interval}
    return client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": amount,
                                    "recurring": recurring})


def test_products_and_prices_are_stored_and_listed_by_product(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    product = client.v1.products.create({"name": "Business", "metadata": {"plan_id": "pln_business"}})
    monthly = client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": 29900,
                                       "recurring": {"interval": "month"}})
    annual = client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": 299000,
                                      "recurring": {"interval": "year"}})
    listed = client.v1.prices.list({"product": product.id})
    assert {price.id for price in listed.data} == {monthly.id, annual.id}
    assert client.v1.products.retrieve(product.id).metadata["plan_id"] == "pln_business"
    assert annual.recurring is not None
    assert annual.recurring.interval == "year"


def test_unknown_parameters_are_refused_by_name(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.products.create({"name": "x", "colour": "blue"})  # type: ignore[typeddict-unknown-key]
    assert refused.value.code == "parameter_unknown"
    assert refused.value.param == "colour"
    customer = client.v1.customers.create({})
    price = a_price(client)
    # mypy refuses this call too (the point of typing the product's calls); sent untyped on purpose.
    bogus_item: Any = {"price": price.id, "bogus": 1}
    with pytest.raises(stripe.InvalidRequestError) as nested:
        client.v1.subscriptions.create({"customer": customer.id, "items": [bogus_item]})
    assert nested.value.param == "items[0][bogus]"


def test_missing_objects_are_resource_missing(emulator: EmulatorHandle) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        sdk(emulator).v1.customers.retrieve("cus_nope")
    assert missing.value.code == "resource_missing"
    assert missing.value.http_status == 404


def test_an_idempotency_key_replays_and_refuses_other_parameters(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    first = client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k1"})
    again = client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k1"})
    assert again.id == first.id
    assert len(client.v1.customers.list().data) == 1
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create({"email": "b@example.com"}, {"idempotency_key": "k1"})


def test_a_subscription_with_two_items_and_a_trial(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    customer = client.v1.customers.create({"email": "a@example.com"})
    base, addon = a_price(client, 4900), a_price(client, 1000)
    subscription = client.v1.subscriptions.create({
        "customer": customer.id, "items": [{"price": base.id}, {"price": addon.id, "quantity": 2}],
        "trial_period_days": 14, "collection_method": "send_invoice", "days_until_due": 30,
    })
    assert subscription.status == "trialing"
    items = subscription["items"].data
    assert [item.price.id for item in items] == [base.id, addon.id]
    assert items[1].quantity == 2
    assert subscription.trial_end is not None
    assert items[0].current_period_end == subscription.trial_end


def test_moving_the_clock_ends_trials_and_rolls_periods_with_invoices(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    customer = client.v1.customers.create({})
    price = a_price(client, 4900)
    subscription = client.v1.subscriptions.create({
        "customer": customer.id, "items": [{"price": price.id}], "trial_period_days": 7,
        "collection_method": "send_invoice", "days_until_due": 30})
    emulator_call(emulator, "POST", "/_emulator/clock/advance", {"seconds": 8 * DAY})
    active = client.v1.subscriptions.retrieve(subscription.id)
    assert active.status == "active"
    first_period_end = active["items"].data[0].current_period_end
    invoices = client.v1.invoices.list({"subscription": subscription.id}).data
    assert sorted(invoice.billing_reason or "" for invoice in invoices) == ["subscription_create",
                                                                            "subscription_cycle"]
    assert max(invoice.amount_due for invoice in invoices) == 4900

    emulator_call(emulator, "POST", "/_emulator/clock/advance", {"to": first_period_end + 60})
    rolled = client.v1.subscriptions.retrieve(subscription.id)
    assert rolled["items"].data[0].current_period_start == first_period_end
    assert len(client.v1.invoices.list({"subscription": subscription.id}).data) == 3
    types = [event.type for event in client.v1.events.list({"type": "customer.subscription.updated"}).data]
    assert len(types) == 2


def test_live_and_test_keys_are_separate_accounts(emulator: EmulatorHandle) -> None:
    live, test = sdk(emulator, "sk_live_emulator"), sdk(emulator, "sk_test_emulator")
    customer = live.v1.customers.create({"email": "paying@example.com"})
    assert customer.livemode is True
    assert test.v1.customers.list().data == []
    with pytest.raises(stripe.InvalidRequestError):
        test.v1.customers.retrieve(customer.id)


def test_a_bad_key_is_an_authentication_error(emulator: EmulatorHandle) -> None:
    with pytest.raises(stripe.AuthenticationError):
        sdk(emulator, "pk_test_publishable").v1.customers.list()


def test_injected_failures_surface_as_the_sdk_errors(emulator: EmulatorHandle) -> None:
    emulator_call(emulator, "POST", "/_emulator/faults", {"mode": "error", "status": 500, "count": 1,
                                                          "path_prefix": "/v1/customers"})
    with pytest.raises(stripe.APIError):
        sdk(emulator).v1.customers.create({})
    assert sdk(emulator).v1.customers.create({}).id.startswith("cus_"), "a fault is consumed once"
    emulator_call(emulator, "POST", "/_emulator/faults", {"mode": "hang", "count": 1, "seconds": 5,
                                                          "path_prefix": "/v1/customers"})
    impatient = sdk(emulator, http_client=stripe.RequestsClient(timeout=0.5))
    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.customers.create({})
    emulator_call(emulator, "DELETE", "/_emulator/faults")


def test_a_product_with_prices_cannot_be_deleted(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    price = a_price(client)
    with pytest.raises(stripe.InvalidRequestError, match="cannot be deleted"):
        client.v1.products.delete(str(price.product))


def test_send_invoice_needs_days_until_due_and_inactive_prices_are_refused(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    customer = client.v1.customers.create({})
    price = a_price(client)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}],
                                        "collection_method": "send_invoice"})
    assert missing.value.param == "days_until_due"
    client.v1.prices.update(price.id, {"active": False})
    with pytest.raises(stripe.InvalidRequestError, match="inactive"):
        client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}]})


class Receiver:
    """A webhook endpoint that verifies signatures as the product will."""

    def __init__(self, secret: str) -> None:
        self.events: list[stripe.Event] = []
        received = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = self.rfile.read(int(self.headers["Content-Length"])).decode()
                event = stripe.Webhook.construct_event(payload, self.headers["Stripe-Signature"], secret)
                received.append(event)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Callable[[str], Receiver]]:
    made: list[Receiver] = []

    def make(secret: str) -> Receiver:
        made.append(Receiver(secret))
        return made[-1]

    yield make
    for one in made:
        one.server.shutdown()


def test_webhooks_are_signed_like_stripes(receiver: Callable[[str], Receiver]) -> None:
    secret = "whsec_test_secret"
    endpoint = receiver(secret)
    handle = start_in_thread(webhook_url=endpoint.url, webhook_secret=secret)
    try:
        customer = sdk(handle).v1.customers.create({"email": "hook@example.com"})
        deliveries = emulator_call(handle, "POST", "/_emulator/deliveries/flush")["deliveries"]
    finally:
        handle.stop()
    assert [event.type for event in endpoint.events] == ["customer.created"]
    assert endpoint.events[0].data.object["id"] == customer.id
    assert deliveries[0]["status"] == 200
    assert json.loads(json.dumps(deliveries))[0]["type"] == "customer.created"
