"""One Stripe API request, from headers and body to status and JSON.

In order: faults that strike before the API (hang, 429), authentication, then
under the state lock: what wall time has brought (renewals.py), routing, the
stored answer of an Idempotency-Key, parameter validation, faults that strike
inside the endpoint, the handler in its customer's time (a test clock's, or
wall time) and `expand`, and storing the answer under its key. Stripe keeps
an answer once the endpoint has started running, 500s included; a request
refused before that (authentication, validation, rate limiting) is not kept.
"""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import json
import sys
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any

from local.stripe_emulator import renewals, routes, test_clocks
from local.stripe_emulator.errors import StripeApiError, authentication_failed, injected_failure, invalid_parameter
from local.stripe_emulator.expand import expand
from local.stripe_emulator.faults import Fault, FaultInjector
from local.stripe_emulator.forms import decode
from local.stripe_emulator.params import validate
from local.stripe_emulator.store import API_VERSION, Account, IdempotentResult, State

MAX_LOGGED_REQUESTS = 5000
MAX_IDEMPOTENCY_KEY_LENGTH = 255
# Parameter validation, which Stripe does before its endpoint starts executing: it does not
# remember these under an idempotency key ("if incoming parameters fail validation ... no
# idempotent result is saved"), so a corrected retry with the same key is served afresh.
_NOT_REMEMBERED = {"parameter_unknown", "parameter_missing", "parameter_invalid_empty", "parameter_invalid_integer",
                   "parameters_exclusive"}


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    query: str
    body: str
    authorization: str | None
    idempotency_key: str | None
    request_id: str


@dataclass
class ApiResponse:
    status: int
    payload: str
    headers: dict[str, str] = field(default_factory=dict)
    # A `lost` fault: the request ran, and the HTTP layer must hang and never send this.
    lost: Fault | None = None


class RequestLog:
    """Recent API requests, for tests that count Stripe calls per route."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_LOGGED_REQUESTS)

    def add(self, request: ApiRequest, status: int, mode: str | None, fault: Fault | None) -> None:
        with self._lock:
            self._entries.append({"method": request.method, "path": request.path, "status": status,
                                  "idempotency_key": request.idempotency_key, "request_id": request.request_id,
                                  "mode": mode, "fault": fault.mode if fault else None})

    def entries(self, method: str | None = None, path_prefix: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [entry for entry in self._entries if (method is None or entry["method"] == method)
                    and (path_prefix is None or entry["path"].startswith(path_prefix))]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def mode_for(authorization: str | None) -> str:
    """test or live, from `Bearer sk_test_...` (or curl's `-u sk_test_...:`)."""
    if not authorization:
        raise authentication_failed("You did not provide an API key. You need to provide your API key in the "
                                    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                                    "YOUR_SECRET_KEY').")
    scheme, _, credential = authorization.partition(" ")
    key = _basic_user(credential) if scheme.lower() == "basic" else credential.strip()
    if scheme.lower() in ("bearer", "basic"):
        if key.startswith(("sk_test_", "rk_test_")):
            return "test"
        if key.startswith(("sk_live_", "rk_live_")):
            return "live"
    masked = f"{key[:8]}{'*' * max(0, len(key) - 12)}{key[-4:]}" if len(key) > 12 else key
    raise authentication_failed(f"Invalid API Key provided: {masked}")


def _basic_user(credential: str) -> str:
    try:
        return base64.b64decode(credential).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return ""


def fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
    canonical = json.dumps([method, path, params], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Api:
    def __init__(self, state: State, faults: FaultInjector, log: RequestLog) -> None:
        self.state = state
        self.faults = faults
        self.log = log

    def serve(self, request: ApiRequest) -> ApiResponse:
        mode: str | None = None
        fault = self.faults.take(request.method, request.path)
        try:
            _strike_before_the_api(fault)
            mode = mode_for(request.authorization)
            response = self._serve_locked(request, mode, fault)
        except StripeApiError as error:
            response = _error_response(error, request.request_id)
        except Exception as bug:  # a bug in the emulator answers as Stripe's 500s do
            traceback.print_exc(file=sys.stderr)
            response = _error_response(StripeApiError(500, f"Emulator error: {bug!r}", error_type="api_error"),
                                       request.request_id)
        response.headers.update({"Request-Id": request.request_id, "Stripe-Version": API_VERSION})
        self.log.add(request, response.status, mode, fault)
        return response

    def _serve_locked(self, request: ApiRequest, mode: str, fault: Fault | None) -> ApiResponse:
        route, ids = routes.find(request.method, request.path)
        params = decode(request.body if request.method == "POST" else request.query)
        key = _idempotency_key(request)
        with self.state.lock:
            account = self.state.account(mode)  # looked up under the lock: a reset replaces accounts
            _let_wall_time_pass(account)
            if key is not None and key in account.idempotency:
                response = _replay(account.idempotency[key], fingerprint(request.method, request.path, params), key)
            else:
                response = self._serve_once(request, route, account, params, ids, key, fault)
        if fault is not None and fault.mode == "lost":
            response.lost = fault  # a replayed answer is lost on the way as well
        return response

    def _serve_once(self, request: ApiRequest, route: routes.Route, account: Account, params: dict[str, Any],
                    ids: tuple[str, ...], key: str | None, fault: Fault | None) -> ApiResponse:
        """Validate, run the endpoint, and keep its answer under the key (under the state lock)."""
        checked = validate(params, route.schema)
        self.state.context.request_id, self.state.context.idempotency_key = request.request_id, key
        try:
            response = self._execute(route, account, checked, ids, request.request_id, fault)
        finally:
            self.state.context.request_id = self.state.context.idempotency_key = None
        if key is not None:
            account.idempotency[key] = IdempotentResult(
                fingerprint(request.method, request.path, params), response.status, response.payload)
        return response

    def _execute(self, route: routes.Route, account: Account, params: dict[str, Any], ids: tuple[str, ...],
                 request_id: str, fault: Fault | None) -> ApiResponse:
        """The endpoint runs (or crashes, for an `error` fault); `error_after` replaces what it answered."""
        if fault is not None and fault.mode == "error":
            return _error_response(injected_failure(fault.status), request_id)
        response = self._run(route, account, params, ids, request_id)
        if fault is not None and fault.mode == "error_after":
            return _error_response(injected_failure(fault.status), request_id)
        return response

    @staticmethod
    def _run(route: routes.Route, account: Account, params: dict[str, Any], ids: tuple[str, ...],
             request_id: str) -> ApiResponse:
        try:
            with test_clocks.time_of(account, route.clock_of(account, params, ids), writing=route.method != "GET"):
                result = expand(account, route.handler(account, params, ids), params.get("expand") or [])
        except StripeApiError as error:
            if error.code in _NOT_REMEMBERED:
                raise
            return _error_response(error, request_id)
        # Serialized under the lock: the objects keep changing once it is released.
        return ApiResponse(200, json.dumps(result, indent=2))


def _strike_before_the_api(fault: Fault | None) -> None:
    """Faults that stop a request before any endpoint runs, so nothing is remembered under its key."""
    if fault is None:
        return
    if fault.mode == "hang":
        # Outside the state lock, on this request's own thread: other requests go on.
        fault.hang()
        raise injected_failure(fault.status)
    if fault.refuses_before_running:
        raise injected_failure(fault.status)


def _idempotency_key(request: ApiRequest) -> str | None:
    """Stripe honours keys on POST only (GET and DELETE are idempotent by definition)."""
    key = request.idempotency_key if request.method == "POST" else None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise invalid_parameter("Idempotency-Key", f"Invalid Idempotency-Key: must be at most "
                                                   f"{MAX_IDEMPOTENCY_KEY_LENGTH} characters long.")
    return key


def _let_wall_time_pass(account: Account) -> None:
    """What fell due in wall time since the last request (test clocks move only when advanced)."""
    renewals.run_wall_time(account)
    test_clocks.delete_expired(account)


def _replay(stored: IdempotentResult, this_fingerprint: str, key: str) -> ApiResponse:
    if stored.fingerprint != this_fingerprint:
        raise StripeApiError(400, "Keys for idempotent requests can only be used with the same parameters they "
                                  f"were first used with. Try using a key other than '{key}' if you meant to "
                                  "execute a different request.", error_type="idempotency_error")
    return ApiResponse(stored.status, stored.body, {"Idempotent-Replayed": "true"})


def _error_response(error: StripeApiError, request_id: str) -> ApiResponse:
    headers = {"Stripe-Should-Retry": "false"} if error.status < 500 else {}
    return ApiResponse(error.status, json.dumps(error.body(request_id), indent=2), headers)
