"""The Stripe webhook route and the events worker, in-process against moto and the emulator."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from saas_core.repositories import tenants
from tests.integration.stripe_events_support import Queues, deliver, events_of, make_queue, run_worker
from tests.support import ADMIN_API_KEY, invoke


@pytest.fixture
def queue(catalog: dict[str, Any]) -> tuple[Queues, str]:
    return make_queue()


@pytest.fixture
def tenant(catalog: dict[str, Any]) -> dict[str, Any]:
    reply = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Acme Corp", "email": "admin@acme.example", "type": "organization", "plan_id": "pln_pro",
        "billing_cycle": "monthly", "owner_user_id": "user-acme"})
    assert reply.status == 201, reply.body
    data: dict[str, Any] = reply.data
    return data


def test_an_event_is_queued_once_and_a_duplicate_queues_nothing(queue: tuple[Queues, str], tenant: dict[str, Any],
                                                               stripe_sdk: Callable[[str], Any]) -> None:
    queues, _ = queue
    event = events_of(stripe_sdk("live"), types=["customer.subscription.created"])[0]
    first = deliver(event)
    assert first.status == 200, first.body
    assert first.data == {"event_id": event["id"], "type": event["type"], "queued": True}
    again = deliver(event)
    assert again.status == 200
    assert again.data["queued"] is False
    assert queues.depth() == 1


@pytest.mark.parametrize("how", ["unsigned", "tampered", "too old", "other account's secret"])
def test_a_bad_signature_gets_400_and_writes_nothing(how: str, queue: tuple[Queues, str], tenant: dict[str, Any],
                                                    stripe_sdk: Callable[[str], Any]) -> None:
    queues, _ = queue
    event = events_of(stripe_sdk("live"), types=["customer.subscription.created"])[0]
    import json

    from local.stripe_emulator.webhooks import signature_header
    from tests.integration.stripe_events_support import SECRETS

    payload = json.dumps(event)
    if how == "unsigned":
        reply = deliver(payload, signature="")
    elif how == "tampered":
        signature = signature_header(payload, SECRETS["live"], int(__import__("time").time()))
        reply = deliver(payload.replace('"livemode": true', '"livemode": true ', 1) + " ", signature=signature)
    elif how == "too old":
        reply = deliver(payload, age_seconds=600)
    else:
        reply = deliver(payload, secret=SECRETS["test"])
    assert reply.status == 400, reply.body
    assert queues.depth() == 0
    assert deliver(event).data["queued"] is True  # nothing was recorded by the refused delivery


def test_the_worker_follows_a_cancel_in_stripe_in_any_order(queue: tuple[Queues, str], tenant: dict[str, Any],
                                                            stripe_sdk: Callable[[str], Any]) -> None:
    queues, arn = queue
    client = stripe_sdk("live")
    subscription_id = tenant["active_subscription"]["id"]
    client.v1.subscriptions.update(subscription_id, {"cancel_at_period_end": True})
    client.v1.subscriptions.cancel(subscription_id)
    events = events_of(client)
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)
    for event in [*reversed(events), *shuffled]:
        assert deliver(event).status == 200
    assert run_worker(queues, arn) == []
    stored = tenants.require(tenant["id"])
    assert stored.subscription is not None
    assert stored.subscription.status == "canceled"
    assert not stored.has_active_subscription
