"""Helpers for tests that drive the emulator, or Stripe test mode, through the real SDK.

Nothing here knows it talks to the emulator: `advance_test_clock` is what a
test against Stripe test mode does too (advance, then poll until ready), and
`WebhookReceiver` verifies deliveries as the product's webhook endpoint does.
`RecordingReceiver` keeps every delivery as it came (body and Stripe-Signature),
for tests that verify each one themselves, e.g. against each account's secret.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class WebhookReceiver:
    """A webhook endpoint at `url` (on 127.0.0.1, serving in a thread) that verifies each delivery's
    Stripe-Signature with stripe.Webhook.construct_event, as the product does, and records the signature
    header and the event it verified to. A delivery that does not verify is not recorded and is not answered
    200. `secret` may be set after it starts (Stripe shows an endpoint's secret only once it is created).
    close() stops it."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.deliveries: list[tuple[str, stripe.Event]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = self.rfile.read(int(self.headers["Content-Length"])).decode()
                signature = self.headers["Stripe-Signature"]
                event = stripe.Webhook.construct_event(payload, signature, receiver.secret)
                receiver.deliveries.append((signature, event))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def events(self) -> list[stripe.Event]:
        return [event for _, event in self.deliveries]

    def types(self) -> list[str]:
        return [event.type for event in self.events]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery as it came: the raw body and its Stripe-Signature header."""

    payload: str
    signature: str

    @property
    def event(self) -> dict[str, Any]:
        """The event, parsed without verifying (verify with `verified`)."""
        parsed: dict[str, Any] = json.loads(self.payload)
        return parsed

    def verified(self, secret: str) -> stripe.Event:
        """The event, once its signature verifies with `secret` (else stripe.SignatureVerificationError)."""
        event: stripe.Event = stripe.Webhook.construct_event(self.payload, self.signature, secret)
        return event


class RecordingReceiver:
    """A webhook endpoint at `url` (on 127.0.0.1, serving in a thread) that answers 200 to every POST
    and keeps each delivery as it came; verifying is left to the test. close() stops it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with receiver._lock:
                    receiver._deliveries.append(Delivery(payload, self.headers.get("Stripe-Signature", "")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/webhooks/stripe"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def wait_for(self, count: int, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> list[Delivery]:
        """Every delivery so far, once there are at least `count`."""
        wait_until(lambda: len(self.deliveries) >= count, timeout)
        return self.deliveries

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
