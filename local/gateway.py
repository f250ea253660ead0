"""The local API Gateway: what `sam local start-api` does, without Docker.

Routes each HTTP request to its function by template.yaml's Api events, calls
the handler in-process with a real REST proxy event and a Lambda context, and
writes the proxy response back, answering for API Gateway itself where it
would (403 for an unknown route, 502 for a crashed or malformed function, CORS
preflights when the API declares Cors). It also serves /openapi.json, a
Swagger UI page at /docs (assets bundled with Powertools, so it works
offline), and POST /_local/schedule/<FunctionId> to run a scheduled function
on demand.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.apigw import LambdaContext, match_route, rest_event, routes_for_path, scheduled_event
from local.template import (
    LOCAL_ACCOUNT_ID,
    LOCAL_REGION,
    REPO_ROOT,
    Cors,
    Route,
    api_routes,
    api_stage_name,
    code_uri,
    cors_configuration,
    function_environment,
    function_ids,
    schedule_functions,
)

SWAGGER_ASSETS = {"swagger-ui-bundle.min.js": "application/javascript", "swagger-ui.min.css": "text/css"}
DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>SaaS billing API</title>
<link rel="stylesheet" href="/docs/swagger-ui.min.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.min.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>
"""
SCHEDULE_PREFIX = "/_local/schedule/"
# Framing headers are the gateway's to write, whatever the function says.
_FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection"}

Headers = list[tuple[str, str]]
Reply = tuple[int, Headers, bytes]


class BadRequest(Exception):
    """A request the gateway cannot even read (malformed framing)."""


@dataclass(frozen=True)
class Incoming:
    method: str
    path: str  # as requested: still percent-encoded, without the query string
    query: str
    headers: list[tuple[str, str]]  # in order, repeated names kept
    body: bytes
    source_ip: str = "127.0.0.1"


class Gateway:
    def __init__(self, template: Mapping[str, Any], host: str = "127.0.0.1", port: int = 3000, *,
                 table_names: Mapping[str, str], parameters: Mapping[str, str], extra_env: Mapping[str, str],
                 log_requests: bool = True, code_root: Path = REPO_ROOT) -> None:
        """`code_root` is the directory CodeUri paths are relative to (the template's)."""
        self.routes = api_routes(template)
        self.schedules = dict(schedule_functions(template))
        self.cors = cors_configuration(template, parameters=parameters)
        self.stage = api_stage_name(template, parameters=parameters) or "local"
        self.log_requests = log_requests
        _set_environment(template, table_names, parameters, extra_env)
        _add_code_dirs_to_path(code_root / code_uri(template, function_id) for function_id in function_ids(template))
        self.server = ThreadingHTTPServer((host, port), self._request_handler_class())
        self.server.daemon_threads = True
        reachable_host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        self.url = f"http://{reachable_host}:{self.server.server_address[1]}"

    # -- lifecycle

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def start_in_thread(self) -> threading.Thread:
        # A short poll so shutdown() returns at once: tests start and stop a gateway each.
        thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name="local-gateway", daemon=True)
        thread.start()
        return thread

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- HTTP

    def _request_handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms Nagle/delayed-ACK stall per keep-alive request

            def _handle(self) -> None:
                started = time.monotonic()
                status = gateway.handle(self)
                if gateway.log_requests:
                    elapsed = (time.monotonic() - started) * 1000
                    print(f"{self.command} {self.path} {status} {elapsed:.0f} ms", file=sys.stderr, flush=True)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                pass  # one line per request is written by _handle, and only when asked

        return RequestHandler

    def handle(self, request: BaseHTTPRequestHandler) -> int:
        try:
            status, headers, payload = self.dispatch(_read_request(request))
        except BadRequest as error:
            request.close_connection = True  # the rest of the stream cannot be trusted
            status, headers, payload = _json(400, {"message": str(error)})
        _write_response(request, status, headers, payload)
        return status

    def dispatch(self, incoming: Incoming) -> Reply:
        """The reply to one request: a local endpoint, a function, or API Gateway's own answer."""
        local_reply = self._local_endpoint(incoming)
        if local_reply is not None:
            return local_reply
        matched = match_route(self.routes, incoming.method, incoming.path)
        if matched is not None:
            return self._invoke(matched[0], matched[1], incoming)
        if incoming.method == "OPTIONS" and self.cors is not None:
            preflight = self._preflight(incoming.path, self.cors)
            if preflight is not None:
                return preflight
        # API Gateway's answer to an unknown resource, and to a method the resource lacks.
        return _json(403, {"message": "Missing Authentication Token"})

    # -- functions

    def _invoke(self, route: Route, path_parameters: dict[str, str], incoming: Incoming) -> Reply:
        request_id = str(uuid.uuid4())
        event = rest_event(incoming.method, incoming.path, resource=route.path, path_parameters=path_parameters,
                           headers=_grouped(incoming.headers),
                           query=urllib.parse.parse_qs(incoming.query, keep_blank_values=True),
                           body=incoming.body or None, stage=self.stage, request_id=request_id,
                           source_ip=incoming.source_ip)
        context = LambdaContext(function_name=route.function_id, aws_request_id=request_id)
        try:
            response = _load_handler(route.handler)(event, context)
            status, headers, payload = _proxy_response(response)
        except Exception:
            # A crashed function or a malformed answer is API Gateway's 502; the details go to the console.
            print(f"{route.function_id} ({route.handler}) failed:", file=sys.stderr)
            traceback.print_exc()
            return _json(502, {"message": "Internal server error"}, request_id)
        return status, [*headers, ("x-amzn-RequestId", request_id)], payload

    def _run_schedule(self, function_id: str, query: str) -> Reply:
        handler = self.schedules.get(function_id)
        if handler is None:
            return _json(404, {"message": f"No scheduled function {function_id!r}",
                               "scheduled_functions": sorted(self.schedules)})
        try:
            moment = _schedule_time(query)
        except ValueError as error:
            return _json(400, {"message": f"time must be ISO 8601: {error}"})
        rule_arn = f"arn:aws:events:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:rule/{function_id}"
        try:
            result = _load_handler(handler)(scheduled_event(rule_arn, moment), LambdaContext(function_id))
        except Exception:
            print(f"{function_id} ({handler}) failed:", file=sys.stderr)
            traceback.print_exc()
            return _json(502, {"message": f"{function_id} raised; see the gateway's console"})
        return _json(200, {"result": result})

    # -- answers API Gateway or the local stack give without a function

    def _local_endpoint(self, incoming: Incoming) -> Reply | None:
        method, path = incoming.method, incoming.path
        if method == "GET" and path == "/openapi.json":
            return _openapi()
        if method == "GET" and path in ("/docs", "/docs/"):
            return 200, [("Content-Type", "text/html; charset=utf-8")], DOCS_PAGE.encode()
        if method == "GET" and path.startswith("/docs/") and path.removeprefix("/docs/") in SWAGGER_ASSETS:
            return _swagger_asset(path.removeprefix("/docs/"))
        if method == "POST" and path.startswith(SCHEDULE_PREFIX):
            return self._run_schedule(path.removeprefix(SCHEDULE_PREFIX), incoming.query)
        return None

    def _preflight(self, path: str, cors: Cors) -> Reply | None:
        """The mock OPTIONS integration SAM adds to every path when the API declares Cors."""
        methods = sorted({route.method for route, _ in routes_for_path(self.routes, path)})
        if not methods:
            return None
        headers = [("Access-Control-Allow-Origin", cors.allow_origin),
                   ("Access-Control-Allow-Methods", cors.allow_methods or ",".join([*methods, "OPTIONS"]))]
        if cors.allow_headers:
            headers.append(("Access-Control-Allow-Headers", cors.allow_headers))
        if cors.max_age:
            headers.append(("Access-Control-Max-Age", cors.max_age))
        if cors.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return 200, [("Content-Type", "application/json"), *headers], b""


# ------------------------------------------------------------ start-up

def _set_environment(template: Mapping[str, Any], table_names: Mapping[str, str], parameters: Mapping[str, str],
                     extra_env: Mapping[str, str]) -> None:
    # One process serves every function, so they share one environment: later functions win, then extra_env.
    for function_id in function_ids(template):
        os.environ.update(function_environment(template, function_id, table_names=table_names,
                                               parameters=parameters))
    os.environ.update(extra_env)


def _add_code_dirs_to_path(code_dirs: Iterable[Path]) -> None:
    # Appended, so the installed (editable) packages still win; this is the fallback Lambda's /var/task gives.
    for code_dir in code_dirs:
        if str(code_dir) not in sys.path:
            sys.path.append(str(code_dir))


def _load_handler(handler: str) -> Any:
    module_name, _, function_name = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), function_name)


# ---------------------------------------------------------------- wire

def _read_request(request: BaseHTTPRequestHandler) -> Incoming:
    parsed = urllib.parse.urlsplit(request.path)
    return Incoming(method=request.command, path=parsed.path, query=parsed.query,
                    headers=list(request.headers.items()), body=_read_body(request),
                    source_ip=str(request.client_address[0]))


def _read_body(request: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        return _read_chunked(request)
    length = request.headers.get("Content-Length") or "0"
    if not length.isdigit():
        raise BadRequest(f"bad Content-Length {length!r}")
    return request.rfile.read(int(length))


def _read_chunked(request: BaseHTTPRequestHandler) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = request.rfile.readline().split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise BadRequest(f"bad chunk size {size_line!r}") from None
        if size == 0:
            while request.rfile.readline().strip():  # trailers, up to the blank line
                pass
            return b"".join(chunks)
        chunks.append(request.rfile.read(size))
        request.rfile.readline()  # the CRLF after each chunk


def _write_response(request: BaseHTTPRequestHandler, status: int, headers: Headers, payload: bytes) -> None:
    request.send_response(status)
    for name, value in headers:
        request.send_header(name, value)
    request.send_header("Content-Length", str(len(payload)))
    request.end_headers()
    if request.command != "HEAD":
        request.wfile.write(payload)


def _grouped(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name, []).append(value)
    return grouped


def _proxy_response(response: Any) -> Reply:
    """API Gateway's reading of a proxy response; ValueError where it would answer 'Malformed Lambda proxy
    response'."""
    if not isinstance(response, dict) or "statusCode" not in response:
        raise ValueError(f"malformed Lambda proxy response (no statusCode): {response!r:.200}")
    body = response.get("body")
    if body is not None and not isinstance(body, str):
        raise ValueError(f"malformed Lambda proxy response: body must be a string, not {type(body).__name__}")
    headers = _merged_headers(response.get("headers") or {}, response.get("multiValueHeaders") or {})
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))  # API Gateway's default
    payload = base64.b64decode(body or "") if response.get("isBase64Encoded") else (body or "").encode()
    return int(response["statusCode"]), headers, payload


def _merged_headers(single: Mapping[str, Any], multi: Mapping[str, list[Any]]) -> Headers:
    # As API Gateway merges them: every multi value, plus a single value it does not already hold.
    merged = [(name, str(value)) for name, values in multi.items() for value in values]
    merged += [(name, str(value)) for name, value in single.items() if (name, str(value)) not in merged]
    return [(name, value) for name, value in merged if name.lower() not in _FRAMING_HEADERS]


def _json(status: int, payload: Any, request_id: str | None = None) -> Reply:
    headers = [("Content-Type", "application/json")]
    if request_id:
        headers.append(("x-amzn-RequestId", request_id))
    return status, headers, json.dumps(payload).encode()


def _schedule_time(query: str) -> datetime:
    """?time=<ISO 8601> to run a schedule as of another moment; now by default."""
    given = urllib.parse.parse_qs(query).get("time")
    if not given:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(given[-1])
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _openapi() -> Reply:
    try:
        from local.openapi import build_openapi
    except ImportError as missing:
        return _json(503, {"message": f"OpenAPI document unavailable: local.openapi cannot be imported ({missing})"})
    try:
        document = build_openapi()
    except Exception as error:
        traceback.print_exc()
        return _json(500, {"message": f"building the OpenAPI document failed: {error}"})
    return _json(200, document)


def _swagger_asset(name: str) -> Reply:
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    asset = Path(swagger_ui.__file__).parent / name
    return 200, [("Content-Type", SWAGGER_ASSETS[name])], asset.read_bytes()
