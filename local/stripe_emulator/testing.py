"""Helpers for tests that drive the emulator, or Stripe test mode, through the real SDK.

Nothing here knows it talks to the emulator: `advance_test_clock` is what a
test against Stripe test mode does too (advance, then poll until ready).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import stripe

POLL_SECONDS = 0.02
DEFAULT_TIMEOUT_SECONDS = 30.0


def client_for(url: str, key: str = "sk_test_emulator", **options: Any) -> stripe.StripeClient:
    """The real SDK pointed at an emulator, without retries unless asked for."""
    options.setdefault("max_network_retries", 0)
    return stripe.StripeClient(key, base_addresses={"api": url}, **options)


def wait_until(condition: Callable[[], bool], timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(POLL_SECONDS)


def advance_test_clock(client: stripe.StripeClient, clock_id: str, frozen_time: int,
                       timeout: float = DEFAULT_TIMEOUT_SECONDS) -> stripe.test_helpers.TestClock:
    """Advance a test clock and wait until it is ready again, as Stripe's docs ask."""
    client.v1.test_helpers.test_clocks.advance(clock_id, {"frozen_time": frozen_time})
    ready: list[stripe.test_helpers.TestClock] = []

    def is_ready() -> bool:
        clock = client.v1.test_helpers.test_clocks.retrieve(clock_id)
        if clock.status == "internal_failure":
            raise RuntimeError(f"test clock {clock_id} failed to advance")
        ready[:] = [clock]
        return clock.status == "ready"

    wait_until(is_ready, timeout)
    return ready[0]
