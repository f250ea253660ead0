"""Idempotency keys and injected faults, through the real SDK.

Stripe keeps the first answer under an Idempotency-Key once the endpoint has
started running, whatever it was (500s included), and replays it byte for
byte; a request refused before that (validation, rate limiting) is not kept.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import stripe

from local.stripe_emulator import EmulatorHandle
from local.stripe_emulator.testing import client_for, wait_until
from tests.conftest import emulator_call


def fault(handle: EmulatorHandle, **spec: Any) -> None:
    emulator_call(handle, "POST", "/_emulator/faults", {"method": "POST", "path_prefix": "/v1/customers", **spec})


def body_of(obj: stripe.StripeObject) -> str:
    assert obj.last_response is not None
    return obj.last_response.body


def customers(handle: EmulatorHandle) -> list[str]:
    return [customer.id for customer in client_for(handle.url).v1.customers.list().data]


def raw_post(handle: EmulatorHandle, key: str, **params: str) -> tuple[int, str, dict[str, str]]:
    """A POST /v1/customers without the SDK, to compare exact bodies of errors too."""
    import urllib.error
    import urllib.parse
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - loopback emulator
        f"{handle.url}/v1/customers", data=urllib.parse.urlencode(params).encode(), method="POST",
        headers={"Authorization": "Bearer sk_test_emulator", "Idempotency-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode(), dict(refused.headers)


# ------------------------------------------------------------ replays


def test_a_replay_is_the_first_answer_byte_for_byte_not_the_object_as_it_is_now(emulator: EmulatorHandle) -> None:
    client = client_for(emulator.url)
    first = client.v1.customers.create({"email": "before@example.com"}, {"idempotency_key": "k-replay"})
    client.v1.customers.update(first.id, {"email": "after@example.com"})

    again = client.v1.customers.create({"email": "before@example.com"}, {"idempotency_key": "k-replay"})

    assert body_of(again) == body_of(first)
    assert again.email == "before@example.com"
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert client.v1.customers.retrieve(first.id).email == "after@example.com"


def test_the_same_key_with_other_parameters_is_an_idempotency_error(emulator: EmulatorHandle) -> None:
    client = client_for(emulator.url)
    client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k-other"})
    with pytest.raises(stripe.IdempotencyError) as refused:
        client.v1.customers.create({"email": "b@example.com"}, {"idempotency_key": "k-other"})
    assert refused.value.http_status == 400


def test_a_validation_error_is_not_kept_so_a_corrected_retry_runs(emulator: EmulatorHandle) -> None:
    client = client_for(emulator.url)
    not_an_email: Any = {"email": "a@example.com", "colour": "blue"}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.create(not_an_email, {"idempotency_key": "k-valid"})

    created = client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k-valid"})

    assert created.last_response is not None
    assert "Idempotent-Replayed" not in created.last_response.headers
    assert customers(emulator) == [created.id]


def test_exclusive_parameters_are_validation_so_a_corrected_retry_runs(emulator: EmulatorHandle) -> None:
    client = client_for(emulator.url)
    customer = client.v1.customers.create({})
    product = client.v1.products.create({"name": "Pro"})
    price = client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": 100,
                                     "recurring": {"interval": "month"}})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}],
                                        "trial_period_days": 7, "trial_end": "now"}, {"idempotency_key": "k-excl"})
    assert refused.value.code == "parameters_exclusive"

    created = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}],
                                              "trial_period_days": 7}, {"idempotency_key": "k-excl"})

    assert created.status == "trialing"


def test_a_key_longer_than_255_characters_is_refused(emulator: EmulatorHandle) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="Idempotency-Key"):
        client_for(emulator.url).v1.customers.create({}, {"idempotency_key": "k" * 256})
    assert customers(emulator) == []


# ----------------------------------------------------- faults and keys


def test_an_injected_500_is_kept_under_its_key_and_a_retry_gets_it_again(emulator: EmulatorHandle) -> None:
    fault(emulator, mode="error", status=500, count=1)

    first = raw_post(emulator, "k-500", email="a@example.com")
    again = raw_post(emulator, "k-500", email="a@example.com")

    assert (first[0], again[0]) == (500, 500)
    assert again[1] == first[1]
    assert again[2]["Idempotent-Replayed"] == "true"
    assert customers(emulator) == [], "the endpoint failed: nothing was made"
    with pytest.raises(stripe.IdempotencyError):
        client_for(emulator.url).v1.customers.create({"email": "b@example.com"}, {"idempotency_key": "k-500"})
    assert client_for(emulator.url).v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k-new"})


def test_the_sdks_own_retries_replay_the_stored_500(emulator: EmulatorHandle) -> None:
    fault(emulator, mode="error", status=500, count=1)
    retrying = client_for(emulator.url, max_network_retries=2)

    with pytest.raises(stripe.APIError) as failed:
        retrying.v1.customers.create({"email": "a@example.com"})

    assert failed.value.http_status == 500
    attempts = emulator_call(emulator, "GET", "/_emulator/requests?path_prefix=/v1/customers")["requests"]
    assert len(attempts) == 3
    assert len({attempt["idempotency_key"] for attempt in attempts}) == 1
    assert [attempt["fault"] for attempt in attempts] == ["error", None, None]
    assert customers(emulator) == []


def test_an_injected_429_is_not_kept_so_a_retry_with_the_same_key_runs(emulator: EmulatorHandle) -> None:
    fault(emulator, mode="error", status=429, count=1)
    client = client_for(emulator.url)

    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k-429"})
    created = client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k-429"})

    assert created.last_response is not None
    assert "Idempotent-Replayed" not in created.last_response.headers
    assert customers(emulator) == [created.id]


def test_a_lost_answer_changed_everything_and_its_key_replays_the_result(emulator: EmulatorHandle) -> None:
    fault(emulator, mode="lost", count=1, seconds=30)
    impatient = client_for(emulator.url, http_client=stripe.RequestsClient(timeout=1))

    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.customers.create({"email": "lost@example.com"}, {"idempotency_key": "k-lost"})

    made = customers(emulator)
    assert len(made) == 1, "the request ran before its answer was lost"
    client = client_for(emulator.url)
    assert [event.data.object["id"] for event in client.v1.events.list({"type": "customer.created"}).data] == made
    replayed = client.v1.customers.create({"email": "lost@example.com"}, {"idempotency_key": "k-lost"})
    assert replayed.id == made[0]
    assert replayed.last_response is not None
    assert replayed.last_response.headers["Idempotent-Replayed"] == "true"
    emulator_call(emulator, "DELETE", "/_emulator/faults")


def test_the_sdk_retrying_a_lost_answer_gets_the_one_result(emulator: EmulatorHandle) -> None:
    fault(emulator, mode="lost", count=1, seconds=30)
    retrying = client_for(emulator.url, max_network_retries=1, http_client=stripe.RequestsClient(timeout=1))

    created = retrying.v1.customers.create({"email": "once@example.com"})

    assert customers(emulator) == [created.id]
    emulator_call(emulator, "DELETE", "/_emulator/faults")


def test_while_answers_are_lost_a_replayed_retry_is_lost_too(emulator: EmulatorHandle) -> None:
    fault(emulator, mode="lost", count=2, seconds=30)
    retrying = client_for(emulator.url, max_network_retries=1, http_client=stripe.RequestsClient(timeout=1))

    with pytest.raises(stripe.APIConnectionError):
        retrying.v1.customers.create({"email": "twice@example.com"}, {"idempotency_key": "k-lost-twice"})

    assert len(customers(emulator)) == 1, "the retry replayed the first run; it did not run again"
    again = client_for(emulator.url).v1.customers.create({"email": "twice@example.com"},
                                                         {"idempotency_key": "k-lost-twice"})
    assert [again.id] == customers(emulator)
    emulator_call(emulator, "DELETE", "/_emulator/faults")


def test_a_lost_answer_is_never_sent_even_when_the_hang_ends(emulator: EmulatorHandle) -> None:
    fault(emulator, mode="lost", count=1, seconds=30)
    patient = client_for(emulator.url, http_client=stripe.RequestsClient(timeout=20))
    outcome: list[BaseException] = []

    def create() -> None:
        try:
            patient.v1.customers.create({"email": "patient@example.com"})
        except stripe.StripeError as error:
            outcome.append(error)

    waiting = threading.Thread(target=create)
    waiting.start()
    wait_until(lambda: len(customers(emulator)) == 1, timeout=5)
    emulator_call(emulator, "DELETE", "/_emulator/faults")  # ends the hang: the connection closes unanswered
    waiting.join(timeout=10)

    assert len(outcome) == 1
    assert isinstance(outcome[0], stripe.APIConnectionError)


def test_error_after_runs_the_request_then_answers_and_replays_the_5xx(emulator: EmulatorHandle) -> None:
    fault(emulator, mode="error_after", status=503, count=1)

    first = raw_post(emulator, "k-after", email="after@example.com")
    again = raw_post(emulator, "k-after", email="after@example.com")

    assert (first[0], again[0]) == (503, 503)
    assert again[1] == first[1]
    assert len(customers(emulator)) == 1, "the request ran before its answer was replaced"
    types = [event.type for event in client_for(emulator.url).v1.events.list().data]
    assert types == ["customer.created"]


def test_error_after_and_unknown_modes_are_refused_without_a_server_error(emulator: EmulatorHandle) -> None:
    import urllib.error

    for spec in ({"mode": "error_after", "status": 429}, {"mode": "sideways"}):
        with pytest.raises(urllib.error.HTTPError) as refused:
            emulator_call(emulator, "POST", "/_emulator/faults", spec)
        assert refused.value.code == 400
