"""Webhook delivery: each event POSTed as JSON to each endpoint that wants it,
signed exactly as Stripe signs, by one background thread (never inside the
request that caused the event), retried with backoff when an endpoint fails.

Stripe may deliver an event more than once and in any order; a delivery mode
(POST /_emulator/deliveries/mode) makes that happen on purpose: `duplicate`
sends every event that many more times (the same event, each copy signed on
its own), `reorder` holds deliveries for a short window and sends each
window's events newest first.

Each account (test, live) signs with the secret of its own endpoint, as on
Stripe, so a receiver that knows only the test secret cannot verify a live
event. A recorded event can be sent again on demand (Stripe's "resend",
POST /_emulator/events/<id>/redeliver): the same event, signed anew.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.stripe_emulator.store import StripeObject, WebhookTarget

MAX_ATTEMPTS = 4
FIRST_RETRY_SECONDS = 0.25
REQUEST_TIMEOUT_SECONDS = 5.0
MAX_RECORDED_ATTEMPTS = 5000
MAX_DUPLICATES = 5
# How long `reorder` holds deliveries: events recorded within one window go out newest first.
REORDER_WINDOW_SECONDS = 0.3
# Straight to the endpoint: an HTTP(S)_PROXY meant for the internet must not swallow local receivers.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def signature_header(payload: str, secret: str, timestamp: int) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`, what stripe.Webhook.construct_event verifies."""
    signed = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signed}"


class DeliveryModeError(ValueError):
    """A delivery mode the emulator cannot act on."""


@dataclass(frozen=True)
class DeliveryMode:
    duplicate: int = 0  # extra copies of every event
    reorder: bool = False

    def describe(self) -> dict[str, Any]:
        return {"duplicate": self.duplicate, "reorder": self.reorder}


def mode_from(spec: dict[str, Any], current: DeliveryMode) -> DeliveryMode:
    """The mode a POST /_emulator/deliveries/mode asks for; what it leaves out stays as it was."""
    unknown = set(spec) - {"duplicate", "reorder"}
    if unknown:
        raise DeliveryModeError(f"unknown delivery mode fields: {', '.join(sorted(unknown))}")
    duplicate = spec.get("duplicate", current.duplicate)
    reorder = spec.get("reorder", current.reorder)
    if not isinstance(duplicate, int) or isinstance(duplicate, bool) or not 0 <= duplicate <= MAX_DUPLICATES:
        raise DeliveryModeError(f"duplicate must be an integer from 0 to {MAX_DUPLICATES}")
    if not isinstance(reorder, bool):
        raise DeliveryModeError("reorder must be true or false")
    return DeliveryMode(duplicate, reorder)


@dataclass(order=True)
class _Delivery:
    due: float  # time.monotonic() at which to (re)try
    sequence: int  # ties go in this order: the order events were recorded in, or reversed
    target: WebhookTarget = field(compare=False)
    event: StripeObject = field(compare=False)
    payload: str = field(compare=False)
    attempt: int = field(compare=False, default=1)
    copy: int = field(compare=False, default=0)  # 0: the delivery Stripe owes; more: a duplicate
    redelivery: bool = field(compare=False, default=False)  # asked for again (POST /_emulator/events/.../redeliver)


class Deliverer:
    def __init__(self, on_delivered: Callable[[WebhookTarget, StripeObject], None] | None = None) -> None:
        self._on_delivered = on_delivered
        self._queue: list[_Delivery] = []
        self._sequence = itertools.count()
        self._attempts: list[dict[str, Any]] = []
        self._in_flight = 0
        self._stopped = False
        self._mode = DeliveryMode()
        self._reorder_until: float | None = None  # when the current reorder window is released
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="stripe-emulator-webhooks", daemon=True)
        self._thread.start()

    def enqueue(self, target: WebhookTarget, event: StripeObject, redelivery: bool = False) -> None:
        """Queue the event for the endpoint; a redelivery (Stripe's resend) goes once, whatever the mode."""
        # Serialized now: the payload is the event as recorded, whatever happens to the dict later.
        payload = json.dumps(event, indent=2)
        with self._changed:
            due = self._due_now()
            for copy in range(1 if redelivery else 1 + self._mode.duplicate):
                sequence = next(self._sequence)
                heapq.heappush(self._queue, _Delivery(due, -sequence if self._mode.reorder else sequence, target,
                                                      event, payload, copy=copy, redelivery=redelivery))
            self._changed.notify_all()

    def _due_now(self) -> float:
        """Now, or with `reorder` the end of the current window (one due time: the sequence decides)."""
        now = time.monotonic()
        if not self._mode.reorder:
            return now
        if self._reorder_until is None or self._reorder_until <= now:
            self._reorder_until = now + REORDER_WINDOW_SECONDS
        return self._reorder_until

    def set_mode(self, spec: dict[str, Any]) -> dict[str, Any]:
        with self._changed:
            self._mode = mode_from(spec, self._mode)
            self._reorder_until = None
            return self._mode.describe()

    def mode(self) -> dict[str, Any]:
        with self._changed:
            return self._mode.describe()

    def attempts(self) -> list[dict[str, Any]]:
        with self._changed:
            return list(self._attempts)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or being sent (retries included); False if `timeout` ran out."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def clear(self) -> None:
        with self._changed:
            self._queue.clear()
            self._attempts.clear()
            self._mode, self._reorder_until = DeliveryMode(), None
            self._changed.notify_all()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._queue.clear()
            self._changed.notify_all()
        self._thread.join(timeout=REQUEST_TIMEOUT_SECONDS + 1)

    def _run(self) -> None:
        while (delivery := self._next_due()) is not None:
            status, error = _post(delivery)
            self._finish(delivery, status, error)

    def _next_due(self) -> _Delivery | None:
        with self._changed:
            while not self._stopped:
                if self._queue and self._queue[0].due <= time.monotonic():
                    self._in_flight += 1
                    return heapq.heappop(self._queue)
                wait = self._queue[0].due - time.monotonic() if self._queue else None
                self._changed.wait(wait)
        return None

    def _finish(self, delivery: _Delivery, status: int, error: str | None) -> None:
        succeeded = 200 <= status < 300
        # Before the delivery counts as done (flush waits for that), and outside self._changed:
        # the callback takes the state lock, which is held while enqueue takes self._changed.
        # A duplicate is not owed, so it does not count against the event's pending_webhooks.
        if succeeded and delivery.copy == 0 and self._on_delivered is not None:
            self._on_delivered(delivery.target, delivery.event)
        with self._changed:
            self._attempts.append({
                "event_id": delivery.event["id"], "type": delivery.event["type"], "url": delivery.target.url,
                "endpoint_id": delivery.target.endpoint_id, "status": status, "attempt": delivery.attempt,
                "copy": delivery.copy, "redelivery": delivery.redelivery, "error": error})
            del self._attempts[:-MAX_RECORDED_ATTEMPTS]
            if not succeeded and delivery.attempt < MAX_ATTEMPTS and not self._stopped:
                delivery.due = time.monotonic() + FIRST_RETRY_SECONDS * 2 ** (delivery.attempt - 1)
                delivery.attempt += 1
                heapq.heappush(self._queue, delivery)
            self._in_flight -= 1
            self._changed.notify_all()


def _post(delivery: _Delivery) -> tuple[int, str | None]:
    """POST one signed payload; (status, None), or (0, why) when there was no HTTP answer."""
    # The signature carries wall-clock time, not the emulator's clock: receivers check it
    # against their own clock (stripe.Webhook's 300 s tolerance).
    headers = {"Content-Type": "application/json; charset=utf-8",
               "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
               "Stripe-Signature": signature_header(delivery.payload, delivery.target.secret, int(time.time()))}
    # The URL the endpoint was configured with (the API accepts only http and https ones).
    request = urllib.request.Request(delivery.target.url, data=delivery.payload.encode(),  # noqa: S310
                                     headers=headers, method="POST")
    try:
        with _DIRECT.open(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            return int(response.status), None
    except urllib.error.HTTPError as refused:
        return int(refused.code), None
    except OSError as failure:
        return 0, str(failure)
