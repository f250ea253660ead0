"""The local stack of `make dev`, started once for the HTTP tests as a child
process (`python -m local.stack`), and a small HTTP client for it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stripe

STARTUP_SECONDS = 120
FUNCTION_SETTINGS = {"ADMIN_API_KEY", "TENANTS_TABLE", "PLANS_TABLE", "USAGE_TABLE", "IDEMPOTENCY_TABLE",
                     "PORT", "DEMO_TENANTS", "PARAMETER_OVERRIDES"}
DEMO_TENANTS = 4
# The tests send bursts (concurrent creates, many connections) the stage's default throttling would refuse;
# throttling itself is proven with small limits in tests/integration/test_gateway_api.py. Tenants of the
# test account get a test clock each, so a test moves one tenant's time; a Stripe event the worker fails
# comes back after 12 s rather than 6 minutes, so five receives and the dead-letter queue fit in a test
# (the worker's 10 s still leave room for the deadline's reserve, saas_core/deadline.py).
PARAMETER_OVERRIDES = ["ThrottlingRateLimit=10000", "ThrottlingBurstLimit=5000", "StripeTestClocks=true",
                       "StripeWorkerTimeoutSeconds=10", "StripeEventsVisibilitySeconds=12"]


@dataclass
class Stack:
    info: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.info["base_url"])

    def stripe(self, account: str) -> stripe.StripeClient:
        key = "sk_live_emulator" if account == "live" else "sk_test_emulator"
        return stripe.StripeClient(key, base_addresses={"api": self.info["stripe_url"]})


@dataclass
class HttpReply:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def data(self) -> Any:
        return self.body.get("data") if isinstance(self.body, dict) else None


def request(method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None,
            raw_body: bytes | None = None, timeout: float = 30) -> HttpReply:
    """`body` is sent as JSON; `raw_body` as the bytes given (a signed webhook must arrive byte for byte)."""
    data = raw_body if raw_body is not None else json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310 - loopback stack
            raw, status, reply_headers = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, reply_headers = error.read(), error.code, dict(error.headers)
    text = raw.decode()
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    return HttpReply(status=status, body=parsed, headers=reply_headers)


@contextlib.contextmanager
def running_stack(directory: Path, *, demo_tenants: int = DEMO_TENANTS) -> Iterator[Stack]:
    """`python -m local.stack` as `make dev` runs it (its own defaults, not the in-process tests' settings),
    stopped on exit."""
    info_file = directory / "info.json"
    env = {name: value for name, value in os.environ.items()
           if name not in FUNCTION_SETTINGS and not name.startswith(("STRIPE_", "JWT_", "AWS_ENDPOINT"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack", "--port", "0", "--demo-tenants", str(demo_tenants), "--quiet",
         "--info-file", str(info_file), "--parameter-overrides", *PARAMETER_OVERRIDES], env=env,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not info_file.exists():
            if process.poll() is not None:
                raise RuntimeError(f"the local stack exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("the local stack did not start in time")
            time.sleep(0.2)
        yield Stack(json.loads(info_file.read_text()))
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(Path(tmp_path_factory.mktemp("stack"))) as running:
        yield running
