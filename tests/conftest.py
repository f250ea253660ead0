"""Fixtures shared by every suite: the functions' environment, moto with the
tables of template.yaml, the Stripe emulator, and the default catalog."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from local.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER
from tests.support import ADMIN_API_KEY, JWT_SECRET, TABLE_NAMES

# Set before anything reads settings: what template.yaml and the local stack give the functions.
os.environ.update({
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "TENANTS_TABLE": TABLE_NAMES["TenantsTable"],
    "PLANS_TABLE": TABLE_NAMES["PlansTable"],
    "USAGE_TABLE": TABLE_NAMES["UsageTable"],
    "IDEMPOTENCY_TABLE": TABLE_NAMES["IdempotencyTable"],
    "JWT_ISSUER": LOCAL_ISSUER,
    "JWT_AUDIENCE": LOCAL_AUDIENCE,
    "JWT_SECRET": JWT_SECRET,
    "ADMIN_API_KEY": ADMIN_API_KEY,
    "STRIPE_LIVE_SECRET_KEY": "sk_live_emulator",
    "STRIPE_TEST_SECRET_KEY": "sk_test_emulator",
    "STRIPE_TIMEOUT_SECONDS": "1",
    "STRIPE_MAX_RETRIES": "1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_NAMESPACE": "SaasBillingTests",
})
os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
os.environ.pop("STRIPE_SECRET_KEY", None)


def reset_caches() -> None:
    """Forget everything read once per cold start, as a new container would."""
    from saas_core import auth, cursor, idempotency, settings, stripe_gateway
    from saas_core.repositories import dynamo

    settings.get_settings.cache_clear()
    dynamo.client.cache_clear()
    stripe_gateway._client_for_key.cache_clear()
    cursor._signing_key.cache_clear()
    idempotency._persistence.cache_clear()
    auth._key_stores.clear()


@pytest.fixture(scope="session")
def stripe_emulator() -> Iterator[Any]:
    from local.stripe_emulator import start_in_thread

    handle = start_in_thread()
    os.environ["STRIPE_API_BASE"] = handle.url
    yield handle
    handle.stop()


@pytest.fixture
def aws(stripe_emulator: Any) -> Iterator[None]:
    """moto in-process with the tables of template.yaml, and a fresh emulator state."""
    import boto3
    from moto import mock_aws

    from local.template import create_tables

    urllib.request.urlopen(urllib.request.Request(  # noqa: S310 - loopback emulator
        f"{stripe_emulator.url}/_emulator/reset", method="POST")).close()
    with mock_aws():
        reset_caches()
        create_tables(boto3.client("dynamodb", region_name="us-east-1"), TABLE_NAMES)
        yield
    reset_caches()


@pytest.fixture
def catalog(aws: None) -> dict[str, Any]:
    from local.default_catalog import seed_catalog

    return {plan.id: plan for plan in seed_catalog()}
