"""The emulator's HTTP side: Stripe's API for the SDK, and /_emulator/... for tests."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import sys
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.stripe_emulator import params as p
from local.stripe_emulator.errors import StripeApiError
from local.stripe_emulator.forms import decode
from local.stripe_emulator.store import Account, State, new_id
from local.stripe_emulator.webhooks import Deliverer

Handler = Callable[[State, Account, dict[str, Any], list[str]], dict[str, Any]]
MAX_RECORDED_REQUESTS = 2000


@dataclass
class Fault:
    mode: str
    status: int
    count: int
    method: str
    path_prefix: str
    seconds: float


@dataclass
class Control:
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)


def _listing(account: Account, kind: str, query: dict[str, Any], url: str,
             keep: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    rows = sorted((obj for obj in account.table(kind).values() if not obj.get("deleted") and keep(obj)),
                  key=lambda obj: obj.get("created", 0), reverse=True)
    if "starting_after" in query:
        ids = [row["id"] for row in rows]
        rows = rows[ids.index(query["starting_after"]) + 1:] if query["starting_after"] in ids else []
    limit = max(1, min(100, int(query.get("limit", 10))))
    return {"object": "list", "data": rows[:limit], "has_more": len(rows) > limit, "url": url}


def _matches(query: dict[str, Any], obj: dict[str, Any], *names: str) -> bool:
    return all(name not in query or str(obj.get(name)).lower() == str(query[name]).lower() for name in names)


def _subscription_filter(query: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    status = query.get("status")

    def keep(subscription: dict[str, Any]) -> bool:
        if status is None and subscription["status"] in ("canceled", "incomplete_expired"):
            return False
        if status not in (None, "all") and subscription["status"] != status:
            return False
        if "price" in query and all(item["price"]["id"] != query["price"]
                                    for item in subscription["items"]["data"]):
            return False
        return _matches(query, subscription, "customer")

    return keep


# Each route: method, path pattern, schema, required params, handler(state, account, params, path ids).
ROUTES: list[tuple[str, str, dict[str, Any] | None, tuple[str, ...], Handler]] = [
    ("POST", r"/v1/products", p.PRODUCT, ("name",), lambda s, a, q, ids: s.create_product(a, q)),
    ("GET", r"/v1/products", None, (), lambda s, a, q, ids: _listing(
        a, "product", q, "/v1/products",
        lambda o: q.get("active") in (None, o["active"]))),
    ("GET", r"/v1/products/([^/]+)", None, (), lambda s, a, q, ids: a.get("product", ids[0])),
    ("POST", r"/v1/products/([^/]+)", p.PRODUCT, (), lambda s, a, q, ids: s.update_product(a, ids[0], q)),
    ("DELETE", r"/v1/products/([^/]+)", None, (), lambda s, a, q, ids: s.delete_product(a, ids[0])),
    ("POST", r"/v1/prices", p.PRICE_CREATE, ("currency", "product"), lambda s, a, q, ids: s.create_price(a, q)),
    ("GET", r"/v1/prices", None, (), lambda s, a, q, ids: _listing(
        a, "price", q, "/v1/prices",
        lambda o: _matches(q, o, "product", "type") and q.get("active") in (None, o["active"]))),
    ("GET", r"/v1/prices/([^/]+)", None, (), lambda s, a, q, ids: a.get("price", ids[0])),
    ("POST", r"/v1/prices/([^/]+)", p.PRICE_UPDATE, (), lambda s, a, q, ids: s.update_price(a, ids[0], q)),
    ("POST", r"/v1/customers", p.CUSTOMER, (), lambda s, a, q, ids: s.create_customer(a, q)),
    ("GET", r"/v1/customers", None, (), lambda s, a, q, ids: _listing(
        a, "customer", q, "/v1/customers", lambda o: _matches(q, o, "email"))),
    ("GET", r"/v1/customers/([^/]+)", None, (), lambda s, a, q, ids: a.get("customer", ids[0])),
    ("POST", r"/v1/customers/([^/]+)", p.CUSTOMER, (), lambda s, a, q, ids: s.update_customer(a, ids[0], q)),
    ("DELETE", r"/v1/customers/([^/]+)", None, (), lambda s, a, q, ids: s.delete_customer(a, ids[0])),
    ("POST", r"/v1/subscriptions", p.SUBSCRIPTION_CREATE, ("customer",),
     lambda s, a, q, ids: s.create_subscription(a, q)),
    ("GET", r"/v1/subscriptions", None, (), lambda s, a, q, ids: _listing(
        a, "subscription", q, "/v1/subscriptions", _subscription_filter(q))),
    ("GET", r"/v1/subscriptions/([^/]+)", None, (), lambda s, a, q, ids: a.get("subscription", ids[0])),
    ("POST", r"/v1/subscriptions/([^/]+)", p.SUBSCRIPTION_UPDATE, (),
     lambda s, a, q, ids: s.update_subscription(a, ids[0], q)),
    ("DELETE", r"/v1/subscriptions/([^/]+)", p.SUBSCRIPTION_CANCEL, (),
     lambda s, a, q, ids: s.cancel_subscription(a, ids[0], q)),
    ("GET", r"/v1/invoices", None, (), lambda s, a, q, ids: _listing(
        a, "invoice", q, "/v1/invoices", lambda o: _matches(q, o, "customer", "subscription", "status"))),
    ("GET", r"/v1/invoices/([^/]+)", None, (), lambda s, a, q, ids: a.get("invoice", ids[0])),
    ("POST", r"/v1/invoices/([^/]+)/(finalize|pay|void|mark_uncollectible)", p.INVOICE_PAY, (),
     lambda s, a, q, ids: s.invoice_action(a, ids[0], ids[1], q)),
    ("GET", r"/v1/events", None, (), lambda s, a, q, ids: _listing(
        a, "event", q, "/v1/events", lambda o: _matches(q, o, "type"))),
    ("GET", r"/v1/events/([^/]+)", None, (), lambda s, a, q, ids: a.get("event", ids[0])),
    ("POST", r"/v1/webhook_endpoints", p.WEBHOOK_ENDPOINT, ("url", "enabled_events"),
     lambda s, a, q, ids: add_webhook_endpoint(a, q)),
    ("GET", r"/v1/webhook_endpoints", None, (), lambda s, a, q, ids: {
        "object": "list", "data": list(a.webhook_endpoints.values()), "has_more": False,
        "url": "/v1/webhook_endpoints"}),
    ("DELETE", r"/v1/webhook_endpoints/([^/]+)", None, (), lambda s, a, q, ids: remove_webhook_endpoint(a, ids[0])),
]
_COMPILED = [(method, re.compile(pattern + r"$"), schema, required, handler)
             for method, pattern, schema, required, handler in ROUTES]


def add_webhook_endpoint(account: Account, params: dict[str, Any], secret: str | None = None) -> dict[str, Any]:
    endpoint = {"id": new_id("we"), "object": "webhook_endpoint", "url": params["url"],
                "enabled_events": params.get("enabled_events") or ["*"], "status": "enabled",
                "livemode": account.livemode, "secret": secret or f"whsec_{new_id('sec')[4:]}",
                "metadata": params.get("metadata", {})}
    account.webhook_endpoints[endpoint["id"]] = endpoint
    return endpoint


def remove_webhook_endpoint(account: Account, endpoint_id: str) -> dict[str, Any]:
    if account.webhook_endpoints.pop(endpoint_id, None) is None:
        raise StripeApiError(404, f"No such webhook endpoint: '{endpoint_id}'", code="resource_missing", param="id")
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


def _expand(account: Account, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    expanded = copy.deepcopy(obj)
    kinds = {"customer": "customer", "latest_invoice": "invoice", "subscription": "subscription",
             "product": "product", "default_price": "price"}
    for path in paths:
        kind = kinds.get(path)
        value = expanded.get(path)
        if kind and isinstance(value, str):
            expanded[path] = account.table(kind).get(value, value)
    return expanded


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: State, deliverer: Deliverer) -> None:
        super().__init__(address, _RequestHandler)
        self.state = state
        self.deliverer = deliverer
        self.control = Control()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a hung (fault-injected) request is expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle and
    # delayed ACKs add 40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server: EmulatorServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    # -- plumbing

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode() if length else ""

    def _handle(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        body = self._body()
        if parsed.path.startswith("/_emulator/"):
            self._control(self.command, parsed.path, body)
            return
        request_id = new_id("req")
        status, reply, headers = self._api(parsed.path, parsed.query, body, request_id)
        self._record(parsed.path, status)
        self._send(status, reply, {"Request-Id": request_id, **headers})

    def _record(self, path: str, status: int) -> None:
        requests = self.server.control.requests
        requests.append({"method": self.command, "path": path, "status": status,
                         "idempotency_key": self.headers.get("Idempotency-Key")})
        del requests[:-MAX_RECORDED_REQUESTS]

    def _account(self) -> Account:
        scheme, _, key = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not key.startswith(("sk_test_", "sk_live_", "rk_test_", "rk_live_")):
            raise StripeApiError(401, "Invalid API Key provided.", error_type="authentication_error")
        return self.server.state.accounts["live" if "_live_" in key else "test"]

    def _api(self, path: str, query: str, body: str, request_id: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        fault = self._take_fault(path)
        if fault is not None:
            if fault.mode == "hang":
                self.server.control.released.wait(fault.seconds)
            error = StripeApiError(fault.status, "An unknown error occurred (injected by the emulator).",
                                   error_type="api_error")
            return fault.status, error.body(request_id), {}
        try:
            account = self._account()
            params = decode(body) if self.command == "POST" else decode(query)
            with self.server.state.lock:
                return self._idempotent(account, path, params, body)
        except StripeApiError as error:
            return error.status, error.body(request_id), {}
        finally:
            self.server.deliverer.wake()

    def _idempotent(self, account: Account, path: str, params: dict[str, Any],
                    body: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        key = self.headers.get("Idempotency-Key") if self.command == "POST" else None
        fingerprint = hashlib.sha256(f"{path}|{body}".encode()).hexdigest()
        if key and key in account.idempotency:
            seen_fingerprint, status, reply = account.idempotency[key]
            if seen_fingerprint != fingerprint:
                raise StripeApiError(400, "Keys for idempotent requests can only be used with the same parameters "
                                          "they were first used with.", error_type="idempotency_error")
            return status, reply, {"Idempotent-Replayed": "true"}
        try:
            status, reply = 200, self._route(account, path, params)
        except StripeApiError as error:
            if error.code in ("parameter_unknown", "parameter_missing"):
                raise  # validation errors are not remembered by Stripe
            status, reply = error.status, error.body("req_replayed")
        if key:
            account.idempotency[key] = (fingerprint, status, reply)
        return status, reply, {}

    def _route(self, account: Account, path: str, params: dict[str, Any]) -> dict[str, Any]:
        known_path = False
        for method, pattern, schema, required, handler in _COMPILED:
            match = pattern.match(path)
            if not match:
                continue
            known_path = True
            if method != self.command:
                continue
            expand = params.get("expand") or []
            checked = p.validate(params, schema or p.LIST | _QUERY_FILTERS, required)
            result = handler(self.server.state, account, checked, list(match.groups()))
            return _expand(account, result, expand if isinstance(expand, list) else [expand])
        raise StripeApiError(404 if not known_path else 405, f"Unrecognized request URL ({self.command}: {path}).")

    def _take_fault(self, path: str) -> Fault | None:
        with self.server.state.lock:
            for fault in self.server.control.faults:
                if fault.count > 0 and fault.method in (self.command, "*") and path.startswith(fault.path_prefix):
                    fault.count -= 1
                    return fault
        return None

    # -- test controls

    def _control(self, method: str, path: str, body: str) -> None:
        state, control = self.server.state, self.server.control
        payload = json.loads(body) if body else {}
        if path == "/_emulator/clock" and method == "GET":
            self._send(200, {"now": state.now()})
        elif path == "/_emulator/clock/advance" and method == "POST":
            with state.lock:
                state.advance(int(payload["to"]) if "to" in payload else state.now() + int(payload["seconds"]))
            self.server.deliverer.wake()
            self._send(200, {"now": state.now()})
        elif path == "/_emulator/faults" and method == "POST":
            control.released.clear()
            control.faults.append(Fault(payload.get("mode", "error"), int(payload.get("status", 500)),
                                        int(payload.get("count", 1)), payload.get("method", "POST"),
                                        payload.get("path_prefix", "/v1/"), float(payload.get("seconds", 30))))
            self._send(200, {"faults": len(control.faults)})
        elif path == "/_emulator/faults" and method == "DELETE":
            control.faults.clear()
            control.released.set()
            self._send(200, {"faults": 0})
        elif path == "/_emulator/reset" and method == "POST":
            state.reset()
            control.faults.clear()
            control.requests.clear()
            self.server.deliverer.attempts.clear()
            self._send(200, {"reset": True})
        elif path == "/_emulator/requests" and method == "GET":
            self._send(200, {"requests": control.requests})
        elif path == "/_emulator/deliveries" and method == "GET":
            self._send(200, {"deliveries": list(self.server.deliverer.attempts)})
        elif path == "/_emulator/deliveries/flush" and method == "POST":
            self.server.deliverer.flush()
            self._send(200, {"deliveries": list(self.server.deliverer.attempts)})
        else:
            self._send(404, {"error": {"type": "invalid_request_error", "message": f"No control {method} {path}"}})


# List filters accepted on GET lists, on top of pagination.
_QUERY_FILTERS: dict[str, Any] = {
    "active": "bool", "product": "str", "type": "str", "email": "str", "customer": "str", "status": "str",
    "price": "str", "subscription": "str", "created": p.METADATA, "lookup_keys": ["str"],
}
