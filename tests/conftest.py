"""Fixtures shared by every suite: the functions' environment, moto with the
tables of template.yaml, the Stripe emulator, and the default catalog."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local import strict_dynamodb
from local.invoke import cold_start
from local.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER
from tests.support import ADMIN_API_KEY, JWT_SECRET, TABLE_NAMES

# moto in-process refuses what DynamoDB refuses, as the local stack's server does;
# installed before any botocore session exists, so every client gets it.
strict_dynamodb.install_botocore_hook()

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
    "STRIPE_LIVE_WEBHOOK_SECRET": "whsec_tests_live_account",
    "STRIPE_TEST_WEBHOOK_SECRET": "whsec_tests_test_account",
    "STRIPE_RECONCILE_REQUESTS_PER_SECOND": "100",
    "STRIPE_TIMEOUT_SECONDS": "1",
    "STRIPE_MAX_RETRIES": "1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_NAMESPACE": "SaasBillingTests",
    "POWERTOOLS_METRICS_DISABLED": "true",
})
os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
os.environ.pop("STRIPE_SECRET_KEY", None)


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
        strict_dynamodb.reset()  # a fresh moto remembers no client request token
        cold_start()
        create_tables(boto3.client("dynamodb", region_name="us-east-1"), TABLE_NAMES)
        yield
    cold_start()


@pytest.fixture
def catalog(aws: None) -> dict[str, Any]:
    from local.default_catalog import seed_catalog

    return {plan.id: plan for plan in seed_catalog()}


def emulator_call(emulator: Any, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    """The emulator's control API (/_emulator/...), which is not Stripe's."""
    import json

    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{emulator.url}{path}", data=data, method=method,  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback emulator
        body = response.read()
    return json.loads(body) if body else None


@pytest.fixture
def stripe_fault(stripe_emulator: Any) -> Iterator[Callable[..., None]]:
    """Make the emulator fail: stripe_fault(mode, path_prefix=..., method=..., count=...), mode one of
    "error" (a Stripe-shaped error; a 5xx is kept under the request's idempotency key), "hang" (no
    answer), "lost" (done, then the answer is never sent) or "error_after" (done, then a 5xx)."""

    def inject(mode: str = "error", *, path_prefix: str = "/v1/", method: str = "POST", count: int = 100,
               status: int = 500, seconds: float = 5) -> None:
        emulator_call(stripe_emulator, "POST", "/_emulator/faults", {
            "mode": mode, "status": status, "count": count, "method": method, "path_prefix": path_prefix,
            "seconds": seconds,
        })

    yield inject
    emulator_call(stripe_emulator, "DELETE", "/_emulator/faults")


@pytest.fixture
def stripe_sdk(stripe_emulator: Any) -> Callable[[str], Any]:
    """The real SDK pointed at the emulator, to check Stripe's side: stripe_sdk("live") or ("test")."""
    import stripe

    def client(account: str) -> stripe.StripeClient:
        key = "sk_live_emulator" if account == "live" else "sk_test_emulator"
        return stripe.StripeClient(key, base_addresses={"api": stripe_emulator.url})

    return client
