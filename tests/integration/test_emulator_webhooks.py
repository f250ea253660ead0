"""Webhook deliveries as Stripe may make them on a bad day: duplicated and out of order.

The receiver verifies every delivery with stripe.Webhook.construct_event, as
the product does, so a copy with a bad signature fails the test.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator
from typing import Any

import pytest

from local.stripe_emulator import EmulatorHandle, start_in_thread
from local.stripe_emulator.testing import WebhookReceiver, client_for
from tests.conftest import emulator_call

SECRET = "whsec_bad_day_secret"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    made = WebhookReceiver(SECRET)
    yield made
    made.close()


@pytest.fixture
def emulator(receiver: WebhookReceiver) -> Iterator[EmulatorHandle]:
    handle = start_in_thread(webhook_url=receiver.url, webhook_secret=SECRET)
    yield handle
    handle.stop()


def flush(handle: EmulatorHandle) -> dict[str, Any]:
    flushed: dict[str, Any] = emulator_call(handle, "POST", "/_emulator/deliveries/flush")
    assert flushed["drained"] is True
    return flushed


def test_a_duplicated_event_arrives_twice_with_its_id_and_a_valid_signature_each_time(
        emulator: EmulatorHandle, receiver: WebhookReceiver) -> None:
    assert emulator_call(emulator, "POST", "/_emulator/deliveries/mode", {"duplicate": 1}) == {
        "duplicate": 1, "reorder": False}
    client = client_for(emulator.url)
    customer = client.v1.customers.create({"email": "twice@example.com"})

    flushed = flush(emulator)

    assert receiver.types() == ["customer.created", "customer.created"]
    (first_signature, first), (second_signature, second) = receiver.deliveries
    assert first.id == second.id
    assert first.data.object["id"] == second.data.object["id"] == customer.id
    assert "v1=" in first_signature
    assert "v1=" in second_signature
    assert [(attempt["event_id"], attempt["copy"], attempt["status"]) for attempt in flushed["deliveries"]] == [
        (first.id, 0, 200), (first.id, 1, 200)]
    assert client.v1.events.retrieve(first.id).pending_webhooks == 0


def test_reordering_delivers_a_later_event_before_an_earlier_one(emulator: EmulatorHandle,
                                                                 receiver: WebhookReceiver) -> None:
    emulator_call(emulator, "POST", "/_emulator/deliveries/mode", {"reorder": True})
    client = client_for(emulator.url)
    product = client.v1.products.create({"name": "First"})
    customer = client.v1.customers.create({"email": "second@example.com"})

    flush(emulator)

    assert receiver.types() == ["customer.created", "product.created"]
    assert [event.data.object["id"] for _, event in receiver.deliveries] == [customer.id, product.id]
    recorded = [event.id for event in client.v1.events.list().data]
    assert [event.id for _, event in receiver.deliveries] == recorded, "newest first: the reverse of recording"


def test_duplicates_and_reordering_together(emulator: EmulatorHandle, receiver: WebhookReceiver) -> None:
    emulator_call(emulator, "POST", "/_emulator/deliveries/mode", {"duplicate": 2, "reorder": True})
    client = client_for(emulator.url)
    client.v1.products.create({"name": "First"})
    client.v1.customers.create({})

    flush(emulator)

    assert receiver.types() == ["customer.created"] * 3 + ["product.created"] * 3
    assert len({event.id for _, event in receiver.deliveries}) == 2


def test_the_delivery_mode_is_read_back_refused_when_malformed_and_forgotten_on_reset(
        emulator: EmulatorHandle, receiver: WebhookReceiver) -> None:
    emulator_call(emulator, "POST", "/_emulator/deliveries/mode", {"duplicate": 1})
    assert emulator_call(emulator, "POST", "/_emulator/deliveries/mode", {"reorder": True}) == {
        "duplicate": 1, "reorder": True}
    for bad in ({"duplicate": -1}, {"duplicate": "1"}, {"reorder": "yes"}, {"shuffle": True}):
        with pytest.raises(urllib.error.HTTPError) as refused:
            emulator_call(emulator, "POST", "/_emulator/deliveries/mode", bad)
        assert refused.value.code == 400

    emulator_call(emulator, "POST", "/_emulator/reset")

    assert emulator_call(emulator, "GET", "/_emulator/deliveries/mode") == {"duplicate": 0, "reorder": False}
    client_for(emulator.url).v1.customers.create({})
    flush(emulator)
    assert receiver.types() == ["customer.created"]
