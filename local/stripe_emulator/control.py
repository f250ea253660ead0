"""The emulator's own endpoints under /_emulator (not Stripe's API, no auth).

    GET    /_emulator/clock             {"now": wall time}: read only, and how the local stack
                                        knows the emulator is up. Time moves only through
                                        Stripe's test clock API (/v1/test_helpers/test_clocks).
    POST   /_emulator/faults            make matching API requests fail, see faults.py:
                                        {"mode": "error" | "hang" | "lost" | "error_after",
                                         "status": 500, "count": 1, "method": "POST",
                                         "path_prefix": "/v1/customers", "seconds": 30}
                                        error: a Stripe-shaped error (a 5xx is kept under the
                                          Idempotency-Key and replayed; a 429 is not kept);
                                        hang: no answer for `seconds`;
                                        lost: the request runs, then its answer is never sent;
                                        error_after: the request runs, then answers `status`.
    GET    /_emulator/faults            the faults still armed
    DELETE /_emulator/faults            disarm every fault and release hung requests
    POST   /_emulator/reset             forget every object, event, key, fault and delivery
    GET    /_emulator/requests          the API requests served (?method=&path_prefix=)
    GET    /_emulator/deliveries        every webhook delivery attempt
    POST   /_emulator/deliveries/flush  wait until every queued delivery is done ({"timeout": s})
    POST   /_emulator/deliveries/mode   deliver as Stripe may on a bad day, until reset:
                                        {"duplicate": n} sends every event n more times (same
                                        event id, each copy signed); {"reorder": true} holds
                                        deliveries briefly and sends later events first.
    GET    /_emulator/deliveries/mode   the current delivery mode
    POST   /_emulator/events/<evt_id>/redeliver
                                        send a recorded event again, as Stripe's "resend" does:
                                        the same event (same id, same data) POSTed again to every
                                        enabled endpoint of its account that wants its type, or
                                        only to {"endpoint": "we_..."} (an endpoint of that
                                        account), each delivery signed anew with that endpoint's
                                        secret and the current time. Retried like any delivery,
                                        listed in /_emulator/deliveries with "redelivery": true;
                                        it does not count against the event's pending_webhooks
                                        unless that endpoint was still owed the event. Answers
                                        {"event": id, "redelivered_to": [{"endpoint_id", "url"}]};
                                        404 for an unknown event, 400 for an unknown endpoint.
                                        POST /_emulator/deliveries/flush waits for it.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from local.stripe_emulator.emulator import Emulator
from local.stripe_emulator.errors import StripeApiError
from local.stripe_emulator.faults import FaultSpecError
from local.stripe_emulator.webhooks import DeliveryModeError

DEFAULT_FLUSH_SECONDS = 10.0
Reply = tuple[int, dict[str, Any]]


class ControlError(ValueError):
    """A control request that cannot be done; answered 400."""


class ControlNotFound(LookupError):
    """A control request about something the emulator does not have; answered 404."""


def handle(emulator: Emulator, method: str, path: str, query: str, body: str) -> Reply:
    action = _ACTIONS.get((method, path))
    query_args = dict(urllib.parse.parse_qsl(query))
    redelivery = _REDELIVER.fullmatch(path) if method == "POST" else None
    if redelivery is not None:
        action, query_args = _redeliver, {**query_args, "event_id": urllib.parse.unquote(redelivery.group(1))}
    if action is None:
        return 404, _error(f"No emulator control {method} {path}. See local/stripe_emulator/control.py.")
    try:
        payload = json.loads(body) if body.strip() else {}
        if not isinstance(payload, dict):
            raise ControlError("the body must be a JSON object")
        return 200, action(emulator, payload, query_args)
    except ControlNotFound as missing:
        return 404, _error(str(missing))
    except (ControlError, FaultSpecError, DeliveryModeError, json.JSONDecodeError) as bad:
        return 400, _error(str(bad))


def _error(message: str) -> dict[str, Any]:
    return {"error": {"type": "invalid_request_error", "message": message}}


def _clock(emulator: Emulator, payload: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    return {"now": emulator.state.clock.wall_now()}


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
    return {"reset": True, "now": emulator.state.clock.wall_now()}


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


def _set_delivery_mode(emulator: Emulator, payload: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    return emulator.deliverer.set_mode(payload)


def _delivery_mode(emulator: Emulator, payload: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    return emulator.deliverer.mode()


_REDELIVER = re.compile(r"/_emulator/events/([^/]+)/redeliver")


def _redeliver(emulator: Emulator, payload: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """The event (its id in the path) again, to its account's endpoints or to payload["endpoint"]."""
    unknown = set(payload) - {"endpoint"}
    if unknown:
        raise ControlError(f"unknown redelivery fields: {', '.join(sorted(unknown))}")
    endpoint = payload.get("endpoint")
    if endpoint is not None and not isinstance(endpoint, str):
        raise ControlError("endpoint must be a webhook endpoint id (we_...)")
    try:
        targets = emulator.redeliver(query["event_id"], endpoint)
    except StripeApiError as error:
        raise ControlError(f"endpoint: {error.message}") from error
    if targets is None:
        raise ControlNotFound(f"No such event: '{query['event_id']}'")
    return {"event": query["event_id"],
            "redelivered_to": [{"endpoint_id": target.endpoint_id, "url": target.url} for target in targets]}


_ACTIONS: dict[tuple[str, str], Callable[[Emulator, dict[str, Any], dict[str, str]], dict[str, Any]]] = {
    ("GET", "/_emulator/clock"): _clock,
    ("GET", "/_emulator/faults"): _list_faults,
    ("POST", "/_emulator/faults"): _add_fault,
    ("DELETE", "/_emulator/faults"): _clear_faults,
    ("POST", "/_emulator/reset"): _reset,
    ("GET", "/_emulator/requests"): _requests,
    ("GET", "/_emulator/deliveries"): _deliveries,
    ("POST", "/_emulator/deliveries/flush"): _flush,
    ("POST", "/_emulator/deliveries/mode"): _set_delivery_mode,
    ("GET", "/_emulator/deliveries/mode"): _delivery_mode,
}
