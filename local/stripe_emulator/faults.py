"""Injected failures: the next `count` matching API requests (every attempt, SDK
retries included, takes one) go wrong in one of these ways (`mode`):

    error        fails with a Stripe-shaped error at `status`. A 5xx is what a
                 crash inside the endpoint looks like: nothing changes, but the
                 answer is stored under the request's Idempotency-Key and a
                 retry with that key gets the same 500 again, as on Stripe. A
                 4xx (429: rate limiting) refuses the request before it runs:
                 nothing is stored, a retry with the same key runs afresh.
    hang         never reaches the API: the connection hangs `seconds` (or until
                 the faults are cleared), then answers `status`; the client has
                 usually timed out long before.
    lost         runs fully (objects change, events are emitted, the answer is
                 stored under its Idempotency-Key), then the answer is never
                 sent: the connection hangs `seconds` (or until the faults are
                 cleared) and closes. A timeout after the change happened. A
                 retry that the key replays loses its answer the same way while
                 the fault lasts.
    error_after  runs fully, then answers the 5xx `status` instead, and that
                 5xx is what the Idempotency-Key replays.

`method` ("*" for any) and `path_prefix` choose the requests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

MODES = ("error", "hang", "lost", "error_after")
DEFAULT_HANG_SECONDS = 30.0


class FaultSpecError(ValueError):
    """A /_emulator/faults request the emulator cannot act on."""


@dataclass
class Fault:
    mode: str
    status: int
    count: int  # requests left to fail; every attempt (SDK retries too) takes one
    method: str  # "*" for any
    path_prefix: str
    seconds: float
    # Set on DELETE /_emulator/faults, reset or shutdown, so hung requests end at once.
    released: threading.Event = field(repr=False, compare=False, default_factory=threading.Event)

    def matches(self, method: str, path: str) -> bool:
        return self.count > 0 and self.method in ("*", method) and path.startswith(self.path_prefix)

    def hang(self) -> None:
        self.released.wait(self.seconds)

    @property
    def refuses_before_running(self) -> bool:
        """A 4xx error (rate limiting): Stripe refuses it before the endpoint runs, and keeps nothing."""
        return self.mode == "error" and self.status < 500

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "status": self.status, "count": self.count, "method": self.method,
                "path_prefix": self.path_prefix, "seconds": self.seconds}


def fault_from(spec: dict[str, Any], released: threading.Event) -> Fault:
    mode = spec.get("mode", "error")
    if mode not in MODES:
        raise FaultSpecError(f"mode must be one of {', '.join(MODES)}")
    try:
        fault = Fault(mode=mode, status=int(spec.get("status", 500)), count=int(spec.get("count", 1)),
                      method=str(spec.get("method", "*")).upper(), path_prefix=str(spec.get("path_prefix", "/v1/")),
                      seconds=float(spec.get("seconds", DEFAULT_HANG_SECONDS)), released=released)
    except (TypeError, ValueError) as bad:
        raise FaultSpecError(f"status, count and seconds must be numbers ({bad})") from None
    if not 400 <= fault.status <= 599:
        raise FaultSpecError("status must be an HTTP error status (400-599)")
    if fault.mode == "error_after" and fault.status < 500:
        raise FaultSpecError("error_after answers a server error: status must be 500-599")
    return fault


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._released = threading.Event()

    def add(self, spec: dict[str, Any]) -> Fault:
        with self._lock:
            fault = fault_from(spec, self._released)
            self._faults.append(fault)
            return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The fault this request consumes, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    return fault
            return None

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.describe() for fault in self._faults if fault.count > 0]

    def clear(self) -> None:
        """Forget every fault and wake every hung request; later faults hang afresh."""
        with self._lock:
            self._faults.clear()
            self._released.set()
            self._released = threading.Event()
