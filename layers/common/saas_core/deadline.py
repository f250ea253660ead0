"""The time one request may use, taken from the Lambda's remaining time.

API Gateway gives up at 29 s and Lambda kills the function at its timeout,
in the middle of whatever it was doing. A request therefore works within a
deadline: forward steps (Stripe calls) stop early enough to leave time for
undoing what was done, and the undo itself stops before the function would
be killed. Outside a request (scripts, seeding) there is no deadline.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

# Left at the end for writing the response and the logs.
RESPONSE_MARGIN_SECONDS = 1.0
# API Gateway gives up on the integration then, counting from when it received the
# request: a cold start's initialisation is part of it, not of the Lambda's timeout.
API_GATEWAY_TIMEOUT_SECONDS = 29.0
# Kept back from forward steps so that a failure can still be undone.
UNDO_RESERVE_SECONDS = 6.0


class HasRemainingTime(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True)
class Deadline:
    hard_stop: float  # time.monotonic() by which the response must be on its way
    undoing: bool = False

    def remaining(self) -> float:
        """Seconds left for the current kind of work (forward steps keep the undo reserve back)."""
        left = self.hard_stop - time.monotonic()
        return left if self.undoing else left - UNDO_RESERVE_SECONDS


_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("deadline", default=None)


def seconds_left(context: HasRemainingTime, received_at_epoch_ms: int | None) -> float:
    """Until the first of: Lambda stopping the function, API Gateway giving up on it."""
    seconds = context.get_remaining_time_in_millis() / 1000
    if received_at_epoch_ms is not None:
        waited = min(max(0.0, time.time() - received_at_epoch_ms / 1000), API_GATEWAY_TIMEOUT_SECONDS)
        seconds = min(seconds, API_GATEWAY_TIMEOUT_SECONDS - waited)
    return seconds - RESPONSE_MARGIN_SECONDS


@contextlib.contextmanager
def within(context: HasRemainingTime | None, received_at_epoch_ms: int | None = None) -> Iterator[None]:
    """Run a request against the Lambda context's remaining time and, for an API request,
    API Gateway's clock (`requestContext.requestTimeEpoch`)."""
    if context is None:
        yield
        return
    token = _current.set(Deadline(time.monotonic() + seconds_left(context, received_at_epoch_ms)))
    try:
        yield
    finally:
        _current.reset(token)


@contextlib.contextmanager
def undoing() -> Iterator[None]:
    """Compensation may use the reserve the forward steps left for it."""
    deadline = _current.get()
    if deadline is None:
        yield
        return
    token = _current.set(Deadline(deadline.hard_stop, undoing=True))
    try:
        yield
    finally:
        _current.reset(token)


def remaining() -> float:
    """Seconds left for the current step; infinite outside a request."""
    deadline = _current.get()
    return math.inf if deadline is None else deadline.remaining()


@contextlib.contextmanager
def capped(seconds: float) -> Iterator[None]:
    """At most `seconds` more for what runs inside (a read that must not wait long on Stripe)."""
    current = _current.get()
    stop = time.monotonic() + seconds + (0 if current is None or current.undoing else UNDO_RESERVE_SECONDS)
    if current is not None:
        stop = min(stop, current.hard_stop)
    token = _current.set(Deadline(stop, undoing=current.undoing if current else False))
    try:
        yield
    finally:
        _current.reset(token)
