"""The local API Gateway: what `sam local start-api` does, without Docker.

Routes each HTTP request to its function by template.yaml's Api events, calls
the handler in-process with a real REST proxy event and a Lambda context, and
writes the proxy response back. It also serves /openapi.json, a Swagger UI
page at /docs (assets bundled with Powertools, so it works offline), and
POST /_local/schedule/<FunctionId> to run a scheduled function on demand.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.apigw import LambdaContext, match_route, rest_event, scheduled_event
from local.template import REPO_ROOT, Route, api_routes, function_environment, schedule_functions

SWAGGER_ASSETS = ("swagger-ui-bundle.min.js", "swagger-ui.min.css")
DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>SaaS billing API</title>
<link rel="stylesheet" href="/docs/swagger-ui.min.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.min.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>
"""


def _swagger_dir() -> Path:
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    return Path(swagger_ui.__file__).parent


def _handler(handler_path: str) -> Any:
    module_name, _, function_name = handler_path.rpartition(".")
    code_dir = str(REPO_ROOT / "functions")
    if code_dir not in sys.path:
        sys.path.append(code_dir)  # the CodeUri, as Lambda's /var/task
    return getattr(importlib.import_module(module_name), function_name)


class Gateway:
    def __init__(self, template: dict[str, Any], host: str = "127.0.0.1", port: int = 3000, *,
                 table_names: dict[str, str], parameters: dict[str, str], extra_env: dict[str, str],
                 log_requests: bool = True) -> None:
        self.routes = api_routes(template)
        self.schedules = dict(schedule_functions(template))
        self.log_requests = log_requests
        for route in self.routes:
            os.environ.update(function_environment(template, route.function_id, table_names=table_names,
                                                   parameters=parameters))
        os.environ.update(extra_env)
        self.server = ThreadingHTTPServer((host, port), self._request_handler_class())
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"

    # -- lifecycle

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        return thread

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- requests

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
                pass

        return RequestHandler

    def handle(self, request: BaseHTTPRequestHandler) -> int:
        parsed = urllib.parse.urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        incoming = Incoming(request.command, parsed.path, parsed.query, dict(request.headers.items()), body)
        status, headers, payload = self._dispatch(incoming)
        request.send_response(status)
        for name, value in headers:
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(payload)
        return status

    def _dispatch(self, incoming: Incoming) -> tuple[int, list[tuple[str, str]], bytes]:
        method, path = incoming.method, incoming.path
        if method == "GET" and path == "/openapi.json":
            return self._openapi()
        if method == "GET" and path in ("/docs", "/docs/"):
            return 200, [("Content-Type", "text/html; charset=utf-8")], DOCS_PAGE.encode()
        if method == "GET" and path.startswith("/docs/") and path.removeprefix("/docs/") in SWAGGER_ASSETS:
            return self._asset(path.removeprefix("/docs/"))
        if method == "POST" and path.startswith("/_local/schedule/"):
            return self._run_schedule(path.removeprefix("/_local/schedule/"))
        matched = match_route(self.routes, method, path)
        if matched is None:
            # API Gateway answers an unknown resource or method this way.
            return _json(403, {"message": "Missing Authentication Token"})
        return self._invoke(matched[0], matched[1], incoming)

    def _invoke(self, route: Route, path_parameters: dict[str, str],
                incoming: Incoming) -> tuple[int, list[tuple[str, str]], bytes]:
        query_values: dict[str, str | list[str]] = dict(
            urllib.parse.parse_qs(incoming.query, keep_blank_values=True).items())
        event = rest_event(incoming.method, incoming.path, resource=route.path, path_parameters=path_parameters,
                           headers=incoming.headers, query=query_values,
                           body=incoming.body.decode() if incoming.body else None, request_id=str(uuid.uuid4()))
        try:
            response = _handler(route.handler)(event, LambdaContext(function_name=route.function_id))
        except Exception:
            # A crashed function is API Gateway's 502, not the gateway's problem.
            traceback.print_exc()
            return _json(502, {"message": "Internal server error"})
        return _proxy_response(response)

    def _openapi(self) -> tuple[int, list[tuple[str, str]], bytes]:
        try:
            from local.openapi import build_openapi
        except ImportError as missing:
            return _json(503, {"message": f"OpenAPI generation unavailable: {missing}"})
        return _json(200, build_openapi())

    def _asset(self, name: str) -> tuple[int, list[tuple[str, str]], bytes]:
        content_type = "text/css" if name.endswith(".css") else "application/javascript"
        return 200, [("Content-Type", content_type)], (_swagger_dir() / name).read_bytes()

    def _run_schedule(self, function_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
        handler_path = self.schedules.get(function_id)
        if handler_path is None:
            return _json(404, {"message": f"No scheduled function {function_id}"})
        event = scheduled_event(f"arn:aws:events:us-east-1:123456789012:rule/{function_id}", datetime.now(UTC))
        result = _handler(handler_path)(event, LambdaContext(function_name=function_id))
        return _json(200, {"result": result})


@dataclass(frozen=True)
class Incoming:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


def _json(status: int, payload: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("Content-Type", "application/json")], json.dumps(payload).encode()


def _proxy_response(response: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(name, str(value)) for name, value in (response.get("headers") or {}).items()]
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers += [(name, str(value)) for value in values]
    raw = response.get("body") or ""
    payload = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode()
    return int(response.get("statusCode", 200)), headers, payload

