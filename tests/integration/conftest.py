"""Fixtures of the integration suites: a private Stripe emulator for the
emulator's own tests, and DynamoDB read back for the consistency checks."""

from __future__ import annotations

from collections.abc import Iterator
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
