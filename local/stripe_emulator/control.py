"""The emulator's own endpoints under /_emulator (not Stripe's API, no auth):
the clock, faults, reset, the request log and webhook deliveries."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from local.stripe_emulator import renewals
from local.stripe_emulator.emulator import Emulator
from local.stripe_emulator.faults import FaultSpecError

DEFAULT_FLUSH_SECONDS = 10.0
Reply = tuple[int, dict[str, Any]]


class ControlError(ValueError):
    """A control request that cannot be done; answered 400."""


def handle(emulator: Emulator, method: str, path: str, query: str, body: str) -> Reply:
    action = _ACTIONS.get((method, path))
    if action is None:
        return 404, _error(f"No emulator control {method} {path}. See local/stripe_emulator/control.py.")
    try:
        payload = json.loads(body) if body.strip() else {}
        if not isinstance(payload, dict):
            raise ControlError("the body must be a JSON object")
        return 200, action(emulator, payload, dict(urllib.parse.parse_qsl(query)))
    except (ControlError, FaultSpecError, json.JSONDecodeError) as bad:
        return 400, _error(str(bad))


def _error(message: str) -> dict[str, Any]:
    return {"error": {"type": "invalid_request_error", "message": message}}


def _clock(emulator: Emulator, payload: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    return {"now": emulator.state.clock.now()}


def _advance(emulator: Emulator, payload: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """Move the clock forward by `seconds` or `to` a unix time, running everything that falls due."""
    state = emulator.state
    with state.lock:
        now = state.clock.now()
        target = _integer(payload, "to") if "to" in payload else now + _integer(payload, "seconds")
        if target < now:
            raise ControlError(f"the clock only moves forward (now is {now}, asked for {target})")
        renewals.advance(state, target)
        return {"now": state.clock.now()}


def _integer(payload: dict[str, Any], name: str) -> int:
    value = payload.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ControlError(f"send {{\"seconds\": n}} or {{\"to\": unix_time}} with an integer {name}")
    return value


def _add_fault(emulator: Emulator, payload: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    emulator.faults.add(payload)
    return {"faults": emulator.faults.active()}


def _list_faults(emulator: Emulator, payload: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    return {"faults": emulator.faults.active()}


def _clear_faults(emulator: Emulator, payload: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    emulator.faults.clear()
    return {"faults": []}


def _reset(emulator: Emulator, payload: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    emulator.reset()
    return {"reset": True, "now": emulator.state.clock.now()}


def _requests(emulator: Emulator, payload: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """?method=POST&path_prefix=/v1/customers narrows the list."""
    return {"requests": emulator.requests.entries(query.get("method"), query.get("path_prefix"))}


def _deliveries(emulator: Emulator, payload: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    return {"deliveries": emulator.deliverer.attempts()}


def _flush(emulator: Emulator, payload: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    timeout = payload.get("timeout", DEFAULT_FLUSH_SECONDS)
    if not isinstance(timeout, int | float):
        raise ControlError("timeout must be a number of seconds")
    drained = emulator.deliverer.flush(float(timeout))
    return {"drained": drained, "deliveries": emulator.deliverer.attempts()}


_ACTIONS: dict[tuple[str, str], Callable[[Emulator, dict[str, Any], dict[str, str]], dict[str, Any]]] = {
    ("GET", "/_emulator/clock"): _clock,
    ("POST", "/_emulator/clock/advance"): _advance,
    ("GET", "/_emulator/faults"): _list_faults,
    ("POST", "/_emulator/faults"): _add_fault,
    ("DELETE", "/_emulator/faults"): _clear_faults,
    ("POST", "/_emulator/reset"): _reset,
    ("GET", "/_emulator/requests"): _requests,
    ("GET", "/_emulator/deliveries"): _deliveries,
    ("POST", "/_emulator/deliveries/flush"): _flush,
}
