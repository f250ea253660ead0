"""Fixtures of the integration suites: a private Stripe emulator for the
emulator's own tests, and DynamoDB read back for the consistency checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import stripe

from local.stripe_emulator import EmulatorHandle, start_in_thread
from local.stripe_emulator.testing import client_for


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
