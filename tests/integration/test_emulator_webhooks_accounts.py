"""Webhooks per Stripe account: each account (test, live) has its own endpoint and signing secret,
every event says which account it is from (livemode) and carries what Stripe's events carry, and a
recorded event can be sent again on demand (Stripe's "resend").

A tiny receiver (local.stripe_emulator.testing.RecordingReceiver, http.server in a thread) keeps
each delivery as it came; the tests verify each one with stripe.Webhook.construct_event.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from stripe._api_version import _ApiVersion

from local.stripe_emulator import EmulatorHandle, __main__, start_in_thread
from local.stripe_emulator.testing import (
    Delivery,
    RecordingReceiver,
    advance_test_clock,
    client_for,
)
from tests.conftest import emulator_call

TEST_SECRET = "whsec_test_account_secret"
LIVE_SECRET = "whsec_live_account_secret"
SECRETS = {"test": TEST_SECRET, "live": LIVE_SECRET}
FROZEN = 1_924_000_000  # 2030-12-20


@pytest.fixture
def receiver() -> Iterator[RecordingReceiver]:
    made = RecordingReceiver()
    yield made
    made.close()


@pytest.fixture
def emulator(receiver: RecordingReceiver) -> Iterator[EmulatorHandle]:
    handle = start_in_thread(webhook_url=receiver.url, webhook_secrets=SECRETS)
    yield handle
    handle.stop()


def flush(handle: EmulatorHandle) -> list[dict[str, Any]]:
    flushed: dict[str, Any] = emulator_call(handle, "POST", "/_emulator/deliveries/flush")
    assert flushed["drained"] is True
    deliveries: list[dict[str, Any]] = flushed["deliveries"]
    return deliveries


def of_type(receiver: RecordingReceiver, event_type: str) -> list[Delivery]:
    return [delivery for delivery in receiver.deliveries if delivery.event["type"] == event_type]


# ------------------------------------------------------------- secrets


def test_each_account_signs_with_its_own_secret_and_says_which_account_it_is(
        emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    test_customer = client_for(emulator.url).v1.customers.create({"email": "test@example.com"})
    live_customer = client_for(emulator.url, "sk_live_emulator").v1.customers.create({"email": "live@example.com"})
    flush(emulator)

    deliveries = {delivery.event["data"]["object"]["id"]: delivery for delivery in receiver.wait_for(2)}
    assert set(deliveries) == {test_customer.id, live_customer.id}
    test_delivery, live_delivery = deliveries[test_customer.id], deliveries[live_customer.id]
    assert test_delivery.verified(TEST_SECRET).livemode is False
    assert live_delivery.verified(LIVE_SECRET).livemode is True
    with pytest.raises(stripe.SignatureVerificationError):
        test_delivery.verified(LIVE_SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        live_delivery.verified(TEST_SECRET)
    assert test_delivery.event["data"]["object"]["livemode"] is False
    assert live_delivery.event["data"]["object"]["livemode"] is True


def test_each_account_has_its_own_endpoint_and_the_handle_tells_both_secrets(
        emulator: EmulatorHandle) -> None:
    assert emulator.webhook_secrets == SECRETS
    assert (emulator.webhook_secret_test, emulator.webhook_secret_live) == (TEST_SECRET, LIVE_SECRET)
    assert emulator.webhook_secret is None, "no one secret for both accounts"
    test_endpoints = client_for(emulator.url).v1.webhook_endpoints.list().data
    live_endpoints = client_for(emulator.url, "sk_live_emulator").v1.webhook_endpoints.list().data
    assert [endpoint.livemode for endpoint in test_endpoints] == [False]
    assert [endpoint.livemode for endpoint in live_endpoints] == [True]
    assert test_endpoints[0].id != live_endpoints[0].id
    assert test_endpoints[0].url == live_endpoints[0].url


def test_one_secret_still_serves_both_accounts(receiver: RecordingReceiver) -> None:
    handle = start_in_thread(webhook_url=receiver.url, webhook_secret="whsec_shared")
    try:
        assert handle.webhook_secrets == {"test": "whsec_shared", "live": "whsec_shared"}
        assert handle.webhook_secret == "whsec_shared"
        client_for(handle.url).v1.customers.create({})
        client_for(handle.url, "sk_live_emulator").v1.customers.create({})
        flush(handle)
    finally:
        handle.stop()
    assert sorted(delivery.verified("whsec_shared").livemode for delivery in receiver.wait_for(2)) == [False, True]


def test_an_account_left_out_gets_the_shared_secret_or_one_of_its_own(receiver: RecordingReceiver) -> None:
    shared = start_in_thread(webhook_url=receiver.url, webhook_secret="whsec_shared",
                             webhook_secrets={"live": "whsec_live_only"})
    own = start_in_thread(webhook_url=receiver.url, webhook_secrets={"live": "whsec_live_only"})
    try:
        assert shared.webhook_secrets == {"test": "whsec_shared", "live": "whsec_live_only"}
        assert own.webhook_secret_live == "whsec_live_only"
        assert own.webhook_secret_test is not None
        assert own.webhook_secret_test.startswith("whsec_")
        assert own.webhook_secret_test != "whsec_live_only"
    finally:
        shared.stop()
        own.stop()
    with pytest.raises(ValueError, match="test and live"):
        start_in_thread(webhook_url=receiver.url, webhook_secrets={"sandbox": "whsec_x"})


def test_the_command_line_takes_a_secret_per_account() -> None:
    args = __main__.parse_arguments(["--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret-test",
                                     "whsec_t", "--webhook-secret-live", "whsec_l"])
    assert (args.webhook_secret, args.webhook_secret_test, args.webhook_secret_live) == (None, "whsec_t", "whsec_l")
    shared = __main__.parse_arguments(["--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret", "whsec_s",
                                       "--webhook-secret-live", "whsec_l"])
    assert (shared.webhook_secret, shared.webhook_secret_live) == ("whsec_s", "whsec_l")
    for incomplete in (["--webhook-url", "http://127.0.0.1:9/hook"],
                       ["--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret-test", "whsec_t"],
                       ["--webhook-secret-live", "whsec_l"]):
        with pytest.raises(SystemExit):
            __main__.parse_arguments(incomplete)


# --------------------------------------------------------------- events


def test_an_event_carries_stripes_fields(emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    client = client_for(emulator.url)
    customer = client.v1.customers.create({"email": "before@example.com"},
                                          {"idempotency_key": "create-customer-1"})
    client.v1.customers.update(customer.id, {"email": "after@example.com"})
    flush(emulator)

    created, updated = (delivery.verified(TEST_SECRET) for delivery in receiver.wait_for(2))
    assert (created.type, updated.type) == ("customer.created", "customer.updated")
    assert created.id != updated.id
    assert created.id.startswith("evt_")
    assert created.api_version == _ApiVersion.CURRENT
    assert created.request is not None
    assert created.request.id is not None
    assert created.request.id.startswith("req_")
    assert created.request.idempotency_key == "create-customer-1"
    assert updated.request is not None
    assert updated.request.id not in (None, created.request.id), "each event names the request that caused it"
    assert updated.request.idempotency_key != "create-customer-1", "the SDK's own key for that request"
    assert created.pending_webhooks == 1, "as sent: the one endpoint of the test account still owed it"
    assert client.v1.events.retrieve(created.id).pending_webhooks == 0, "delivered since"
    assert created.data.object["email"] == "before@example.com", "the object as it was then"
    assert updated.data.object["email"] == "after@example.com"
    assert updated.data.previous_attributes is not None
    assert updated.data.previous_attributes.to_dict() == {"email": "before@example.com"}
    assert created.created == customer.created


def test_an_event_of_a_customer_on_a_test_clock_is_dated_in_the_clocks_time(
        emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    client = client_for(emulator.url)
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": FROZEN})
    customer = client.v1.customers.create({"test_clock": clock.id})
    advance_test_clock(client, clock.id, FROZEN + 3600)
    client.v1.customers.update(customer.id, {"name": "Later"})
    flush(emulator)

    by_type = {delivery.event["type"]: delivery.verified(TEST_SECRET) for delivery in receiver.deliveries}
    assert by_type["customer.created"].created == FROZEN
    assert by_type["customer.updated"].created == FROZEN + 3600
    ready = by_type["test_helpers.test_clock.ready"]
    assert ready.livemode is False
    assert ready.request is not None
    assert (ready.request.id, ready.request.idempotency_key) == (None, None), "made by the clock, not a request"


# ----------------------------------------------------------- redelivery


def test_a_recorded_event_is_delivered_again_on_demand_signed_anew(
        emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    client = client_for(emulator.url, "sk_live_emulator")
    customer = client.v1.customers.create({})
    flush(emulator)
    (original,) = receiver.wait_for(1)
    event_id = original.event["id"]

    answer = emulator_call(emulator, "POST", f"/_emulator/events/{event_id}/redeliver")
    deliveries = flush(emulator)

    assert answer["event"] == event_id
    assert [target["url"] for target in answer["redelivered_to"]] == [receiver.url]
    _, again = receiver.wait_for(2)
    resent = again.verified(LIVE_SECRET)
    assert (resent.id, resent.type, resent.livemode) == (event_id, "customer.created", True)
    assert resent.data.object["id"] == customer.id
    with pytest.raises(stripe.SignatureVerificationError):
        again.verified(TEST_SECRET)
    assert [(attempt["event_id"], attempt["redelivery"], attempt["status"]) for attempt in deliveries] == [
        (event_id, False, 200), (event_id, True, 200)]
    assert client.v1.events.retrieve(event_id).pending_webhooks == 0


def test_a_redelivery_can_go_to_one_endpoint_only(emulator: EmulatorHandle, receiver: RecordingReceiver) -> None:
    other = RecordingReceiver()
    try:
        client = client_for(emulator.url)
        made = client.v1.webhook_endpoints.create({"url": other.url, "enabled_events": ["customer.created"]})
        assert made.secret is not None
        client.v1.customers.create({})
        flush(emulator)
        (first,) = other.wait_for(1)
        event_id = first.event["id"]
        assert len(receiver.deliveries) == 1

        answer = emulator_call(emulator, "POST", f"/_emulator/events/{event_id}/redeliver", {"endpoint": made.id})
        flush(emulator)

        assert answer["redelivered_to"] == [{"endpoint_id": made.id, "url": other.url}]
        assert [delivery.verified(made.secret).id for delivery in other.wait_for(2)] == [event_id, event_id]
        assert len(receiver.deliveries) == 1, "the other endpoint is not sent it again"
    finally:
        other.close()


def test_redelivering_an_unknown_event_or_to_an_unknown_endpoint_is_refused(emulator: EmulatorHandle) -> None:
    with pytest.raises(urllib.error.HTTPError) as unknown_event:
        emulator_call(emulator, "POST", "/_emulator/events/evt_nope/redeliver")
    assert unknown_event.value.code == 404
    client_for(emulator.url).v1.customers.create({})
    event_id = client_for(emulator.url).v1.events.list().data[0].id
    for bad in ({"endpoint": "we_nope"}, {"endpoint": 7}, {"to": "everyone"}):
        with pytest.raises(urllib.error.HTTPError) as refused:
            emulator_call(emulator, "POST", f"/_emulator/events/{event_id}/redeliver", bad)
        assert refused.value.code == 400
