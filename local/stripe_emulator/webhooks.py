"""Webhook delivery: signed exactly as Stripe signs, sent by a background
thread (never inside the request that caused the event), retried a few times."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from local.stripe_emulator.store import State

ATTEMPTS = 3
BACKOFF_SECONDS = 0.2
TIMEOUT_SECONDS = 10


def signature_header(payload: str, secret: str, timestamp: int) -> str:
    signed = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signed}"


class Deliverer:
    def __init__(self, state: State) -> None:
        self.state = state
        self.attempts: list[dict[str, Any]] = []
        self._wakeup = threading.Condition()
        self._busy = False
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="stripe-webhooks", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        with self._wakeup:
            self._wakeup.notify_all()

    def stop(self) -> None:
        with self._wakeup:
            self._stopped = True
            self._wakeup.notify_all()

    def flush(self, timeout_seconds: float = 30) -> None:
        """Wait until every queued event has been delivered (or given up on)."""
        deadline = time.monotonic() + timeout_seconds
        with self._wakeup:
            self._wakeup.notify_all()
            while (self.state.outbox or self._busy) and time.monotonic() < deadline:
                self._wakeup.wait(0.05)

    def _next(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        with self._wakeup:
            while not self._stopped:
                with self.state.lock:
                    if self.state.outbox:
                        self._busy = True
                        return self.state.outbox.pop(0)
                self._busy = False
                self._wakeup.notify_all()
                self._wakeup.wait(0.5)
        return None

    def _run(self) -> None:
        while (job := self._next()) is not None:
            endpoint, event = job
            self._deliver(endpoint, event)

    def _deliver(self, endpoint: dict[str, Any], event: dict[str, Any]) -> None:
        payload = json.dumps(event)
        for attempt in range(1, ATTEMPTS + 1):
            status = self._post(endpoint, payload)
            self.attempts.append({"event_id": event["id"], "type": event["type"], "url": endpoint["url"],
                                  "status": status, "attempt": attempt})
            if 200 <= status < 300 or self._stopped:
                return
            time.sleep(BACKOFF_SECONDS * attempt)

    def _post(self, endpoint: dict[str, Any], payload: str) -> int:
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0 (+emulator)",
                   "Stripe-Signature": signature_header(payload, endpoint["secret"], int(time.time()))}
        request = urllib.request.Request(endpoint["url"], data=payload.encode(), headers=headers,  # noqa: S310
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - configured URL
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return 0
