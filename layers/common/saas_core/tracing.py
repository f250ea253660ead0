"""The request being served, for whatever records it: the API Gateway request id is the
envelope's `trace_id`, every log line's correlation id and every audit record's `trace_id`."""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator

_trace_id: contextvars.ContextVar[str] = contextvars.ContextVar("trace_id", default="")


@contextlib.contextmanager
def serving(request_id: str) -> Iterator[None]:
    token = _trace_id.set(request_id)
    try:
        yield
    finally:
        _trace_id.reset(token)


def trace_id() -> str:
    """The request's id; a fresh one outside a request (scripts, scheduled runs)."""
    return _trace_id.get() or str(uuid.uuid4())


def current_trace_id() -> str | None:
    return _trace_id.get() or None
