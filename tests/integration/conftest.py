"""Fixtures of the integration suites: a private Stripe emulator for the
emulator's own tests, DynamoDB read back for the consistency checks, and
local gateways started on a template of the test's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import stripe

from local.gateway import Gateway
from local.stripe_emulator import EmulatorHandle, start_in_thread
from local.stripe_emulator.testing import client_for
from local.template import load_template


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    """An emulator of the test's own (the session's shared one serves the product's tests)."""
    handle = start_in_thread()
    yield handle
    handle.stop()


@pytest.fixture
def client(emulator: EmulatorHandle) -> stripe.StripeClient:
    return client_for(emulator.url)


@pytest.fixture
def start_gateway_from() -> Iterator[Callable[..., Gateway]]:
    """start_gateway_from(template, *, serve=True, **options): a Gateway on the template file at a free port,
    `options` being Gateway's keyword arguments, serving in a thread unless serve=False (the test then starts it
    itself). Every gateway made is shut down after the test."""
    started: list[Gateway] = []

    def start(template: Path, *, serve: bool = True, **options: Any) -> Gateway:
        gateway = Gateway(load_template(template), port=0, **options)
        if serve:
            gateway.start_in_thread()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.shutdown()


@pytest.fixture
def dynamodb(catalog: dict[str, Any]) -> Any:
    """The tables as a test reads them back (moto in-process), the default catalog loaded."""
    return boto3.resource("dynamodb", region_name="us-east-1")


@pytest.fixture
def transaction_conflicts(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """transaction_conflicts(n): the next n TransactWriteItems are cancelled with TransactionConflict, as
    DynamoDB cancels one that meets a concurrent transaction on the same item (moto serializes them all)."""
    import botocore.client
    from botocore.exceptions import ClientError

    left = [0]
    make_api_call = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]  # untyped internals

    def conflicting(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "TransactWriteItems" and left[0] > 0:
            left[0] -= 1
            reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
            reasons += [{"Code": "None"}] * (len(params["TransactItems"]) - 1)
            response: Any = {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                             "CancellationReasons": reasons}
            raise ClientError(response, operation)
        return make_api_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", conflicting)
    return lambda count: left.__setitem__(0, count)
