"""Injected failures: the next `count` matching API requests fail (a Stripe-shaped
error at a chosen status) or hang without answering."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

MODES = ("error", "hang")
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
