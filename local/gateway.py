"""The local API Gateway: what `sam local start-api` does, without Docker.

Routes each HTTP request to its function by template.yaml's Api events and
invokes it as Lambda would (local.lambda_runtime: an execution environment
per concurrent invocation, the function's Timeout enforced) with a real REST
proxy event, then writes the proxy response back. It answers for API Gateway
itself where API Gateway would, through the API's GatewayResponses: an
unknown route or method, a body over 10 MB, the stage's throttling, a
crashed, timed-out or malformed function (502), an integration past its
timeout (504); and it serves CORS preflights, by their OPTIONS functions or
by SAM's mock when the API declares Cors. It also serves /openapi.json, a
Swagger UI page at /docs (assets bundled with Powertools, so it works
offline), and POST /_local/schedule/<FunctionId> to run a scheduled function
on demand.

Given an SQS client (moto's), it creates the template's queues, gives their
URLs and ARNs to the functions' environments (Ref, Fn::GetAtt), and runs
each SQS event of a function as Lambda's event source mapping does
(local.sqs), refusing at start what Lambda refuses (a queue's visibility
timeout below the function's Timeout...). GET /_local/queues lists each queue
with its visible, in-flight and delayed messages (a dead-letter queue's depth
too); POST /_local/queues/wait?timeout=<seconds> answers once every polled
queue is drained (200) or the time ran out (504).
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.apigw import (
    INTEGRATION_TIMEOUT,
    LAMBDA_FAILURE,
    LAMBDA_REJECTED,
    MISSING_AUTHENTICATION_TOKEN,
    REQUEST_TOO_LARGE,
    THROTTLED,
    GatewayError,
    StageThrottle,
    gateway_response,
    match_route,
    rest_event,
    routes_for_path,
    scheduled_event,
)
from local.lambda_runtime import (
    DEFAULT_MAX_ENVIRONMENTS,
    FunctionConfig,
    InvocationResult,
    LambdaService,
    Outcome,
    PoolClosed,
)
from local.sqs import BatchReport, EventSourcePoller, queue_depth
from local.template import (
    LOCAL_ACCOUNT_ID,
    LOCAL_REGION,
    REPO_ROOT,
    Cors,
    LocalQueue,
    Route,
    api_routes,
    api_stage_name,
    code_uri,
    cors_configuration,
    create_queues,
    function_environment,
    function_ids,
    function_memory_mb,
    function_timeout_seconds,
    gateway_responses,
    handler_of,
    method_throttles,
    planned_queues,
    preflight_routes,
    schedule_functions,
    sqs_event_sources,
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
QUEUES_PATH = "/_local/queues"
QUEUES_WAIT_PATH = "/_local/queues/wait"
DEFAULT_QUEUES_WAIT_SECONDS = 30.0
# Framing headers are the gateway's to write, whatever the function says.
_FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection"}
# The keys of a REST API proxy response; API Gateway refuses any other as a malformed response.
_PROXY_RESPONSE_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
# API Gateway's payload limit (REST API): 10 MB.
PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024
# A refused body is still read (and dropped), so that the client reads the 413 instead of a reset
# connection; past this much it is not worth it and the connection is closed.
_DRAIN_LIMIT_BYTES = 8 * PAYLOAD_LIMIT_BYTES
# Pending connections the listening socket holds: a burst of clients must queue, not be reset.
LISTEN_BACKLOG = 128

Headers = list[tuple[str, str]]
Reply = tuple[int, Headers, bytes]


class BadRequest(Exception):
    """A request the gateway cannot even read (malformed framing)."""


class PayloadTooLarge(Exception):
    """A body over API Gateway's payload limit."""


@dataclass(frozen=True)
class Incoming:
    method: str
    path: str  # as requested: still percent-encoded, without the query string
    query: str
    headers: list[tuple[str, str]]  # in order, repeated names kept
    body: bytes
    source_ip: str = "127.0.0.1"
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class _Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


class Gateway:
    def __init__(self, template: Mapping[str, Any], host: str = "127.0.0.1", port: int = 3000, *,
                 table_names: Mapping[str, str], parameters: Mapping[str, str], extra_env: Mapping[str, str],
                 log_requests: bool = True, code_root: Path = REPO_ROOT,
                 max_environments: int = DEFAULT_MAX_ENVIRONMENTS, sqs_client: Any | None = None,
                 queues: Mapping[str, LocalQueue] | None = None) -> None:
        """`code_root` is the directory CodeUri paths are relative to (the template's); `parameters` override
        the template's parameters; `max_environments` caps each function's concurrent execution environments
        (invocations beyond it queue).

        `sqs_client` (boto3, moto's server or mock_aws): the template's queues are created on it (unless
        `queues` says they already are, from create_queues) and each SQS event of a function is polled once the
        gateway serves (or start_event_sources()). Without it the queues are only named (planned_queues), so
        that Ref and Fn::GetAtt of a queue resolve, and nothing polls them. Either way an SQS event Lambda
        would refuse (InvalidEventSourceError: the queue's visibility timeout below the function's Timeout...)
        stops the gateway from starting."""
        sources = sqs_event_sources(template, parameters=parameters)  # what Lambda refuses, before anything runs
        self.routes = [*api_routes(template, parameters=parameters), *preflight_routes(template, parameters=parameters)]
        self.schedules = dict(schedule_functions(template))
        self.cors = cors_configuration(template, parameters=parameters)
        self.stage = api_stage_name(template, parameters=parameters) or "local"
        self.responses = gateway_responses(template, parameters=parameters)
        self.throttle = StageThrottle(method_throttles(template, parameters=parameters))
        self.log_requests = log_requests
        if queues is None:
            queues = (create_queues(sqs_client, template, parameters) if sqs_client is not None
                      else planned_queues(template, parameters=parameters))
        self.queues: dict[str, LocalQueue] = dict(queues)
        self.sqs_client = sqs_client
        self.lambdas = LambdaService(_function_configs(template, code_root, table_names, parameters, extra_env,
                                                       self.queues), max_environments)
        self.pollers: list[EventSourcePoller] = [
            EventSourcePoller(sqs_client, source, self.queues[source.queue_id].url, self.lambdas.submit)
            for source in sources if source.enabled and sqs_client is not None]
        self.server = _Server((host, port), self._request_handler_class())
        self._served = False
        reachable_host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        self.url = f"http://{reachable_host}:{self.server.server_address[1]}"

    # -- lifecycle

    def serve_forever(self) -> None:
        self._served = True
        self.start_event_sources()
        self.server.serve_forever()

    def start_in_thread(self) -> threading.Thread:
        # A short poll so shutdown() returns at once: tests start and stop a gateway each.
        self._served = True
        self.start_event_sources()
        thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name="local-gateway", daemon=True)
        thread.start()
        return thread

    def shutdown(self) -> None:
        """Stop serve_forever (running in another thread), then close()."""
        if self._served:  # the server's shutdown() waits for a serve_forever that never ran, forever
            self.server.shutdown()
        self.close()

    def close(self) -> None:
        """Stop polling queues, close the listening socket and stop every function's execution environments
        (batches in flight then fail: their messages are not deleted and come back)."""
        for poller in self.pollers:
            poller.stop()
        self.server.server_close()
        self.lambdas.close()

    # -- SQS event sources

    def start_event_sources(self) -> None:
        """Start polling every enabled SQS event source (serving starts them; starting twice does nothing)."""
        for poller in self.pollers:
            poller.start()

    def wait_for_queues(self, timeout: float) -> bool:
        """True once every polled queue holds no message and no batch is in flight; False after `timeout` s."""
        deadline = time.monotonic() + timeout
        return all(poller.wait_idle(max(0.0, deadline - time.monotonic())) for poller in self.pollers)

    def batch_reports(self, function_id: str | None = None) -> list[BatchReport]:
        """What became of each batch delivered so far (the latest ones), of one function or of all."""
        return [report for poller in self.pollers for report in poller.reports
                if function_id is None or poller.source.function_id == function_id]

    def queue_listing(self) -> dict[str, Any]:
        """Each queue: name, URL, ARN, messages visible, in flight and delayed, its dead-letter queue, the
        functions polling it and what became of their batches."""
        if self.sqs_client is None:
            raise LookupError("this gateway has no SQS client: its queues are not created")
        listing: dict[str, Any] = {}
        for logical_id, queue in self.queues.items():
            depth = queue_depth(self.sqs_client, queue.url)
            listing[logical_id] = {
                "name": queue.name, "url": queue.url, "arn": queue.arn, "visible": depth.visible,
                "in_flight": depth.in_flight, "delayed": depth.delayed,
                "visibility_timeout_seconds": queue.visibility_timeout_seconds,
                "dead_letter_queue": queue.redrive.dead_letter_queue_id if queue.redrive else None,
                "max_receive_count": queue.redrive.max_receive_count if queue.redrive else None,
                "event_sources": [{"function_id": poller.source.function_id, "event": poller.source.event_id,
                                   **poller.counts()}
                                  for poller in self.pollers if poller.source.queue_id == logical_id],
            }
        return {"queues": listing}

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

            def __getattr__(self, name: str) -> Any:
                # Every method reaches the gateway (http.server looks up do_<METHOD>): one the API lacks,
                # TRACE or any other, gets the API's answer, never http.server's 501 page.
                if name.startswith("do_"):
                    return self._handle
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                pass  # one line per request is written by _handle, and only when asked

        return RequestHandler

    def handle(self, request: BaseHTTPRequestHandler) -> int:
        try:
            status, headers, payload = self.dispatch(_read_request(request))
        except BadRequest as error:
            request.close_connection = True  # the rest of the stream cannot be trusted
            status, headers, payload = _json(400, {"message": str(error)})
        except PayloadTooLarge:
            request.close_connection = True  # what is left of an undrained body cannot be read as a request
            status, headers, payload = gateway_response(REQUEST_TOO_LARGE, self.responses,
                                                        request_id=str(uuid.uuid4()), received_at=datetime.now(UTC))
        _write_response(request, status, headers, payload)
        return status

    def dispatch(self, incoming: Incoming) -> Reply:
        """The reply to one request: a local endpoint, a function, or API Gateway's own answer."""
        local_reply = self._local_endpoint(incoming)
        if local_reply is not None:
            return local_reply
        matched = match_route(self.routes, incoming.method, incoming.path)
        if matched is not None:
            route, path_parameters = matched
            if not self.throttle.allows(route.path, route.method):
                return self._gateway_error(THROTTLED, incoming)
            return self._invoke(route, path_parameters, incoming)
        if incoming.method == "OPTIONS" and self.cors is not None:
            preflight = self._preflight(incoming, self.cors)
            if preflight is not None:
                return preflight
        # API Gateway's answer to an unknown resource, and to a method the resource lacks.
        return self._gateway_error(MISSING_AUTHENTICATION_TOKEN, incoming)

    def _gateway_error(self, error: GatewayError, incoming: Incoming) -> Reply:
        return gateway_response(error, self.responses, request_id=incoming.request_id,
                                received_at=incoming.received_at)

    # -- functions

    def _invoke(self, route: Route, path_parameters: dict[str, str], incoming: Incoming) -> Reply:
        event = rest_event(incoming.method, incoming.path, resource=route.path, path_parameters=path_parameters,
                           headers=_grouped(incoming.headers),
                           query=urllib.parse.parse_qs(incoming.query, keep_blank_values=True),
                           body=incoming.body or None, stage=self.stage, request_id=incoming.request_id,
                           source_ip=incoming.source_ip, received_at=incoming.received_at)
        future = self.lambdas.submit(route.function_id, event, incoming.request_id)
        try:
            result = future.result(timeout=route.integration_timeout_ms / 1000)
        except TimeoutError:
            future.cancel()  # still queued: it never runs; running: it goes on, as a Lambda invocation does
            _log_failure(route.function_id, route.handler,
                         f"Execution failed due to a timeout: no answer in {route.integration_timeout_ms} ms")
            return self._gateway_error(INTEGRATION_TIMEOUT, incoming)
        except (PoolClosed, OSError) as rejected:
            _log_failure(route.function_id, route.handler, f"the invocation was refused: {rejected}")
            return self._gateway_error(LAMBDA_REJECTED, incoming)
        return self._proxy_reply(route, result, incoming)

    def _proxy_reply(self, route: Route, result: InvocationResult, incoming: Incoming) -> Reply:
        if result.outcome is not Outcome.SUCCEEDED:
            _log_failure(route.function_id, route.handler, result.error)
            return self._gateway_error(LAMBDA_FAILURE, incoming)
        try:
            status, headers, payload = _proxy_response(result.payload)
        except ValueError as malformed:
            _log_failure(route.function_id, route.handler,
                         f"Execution failed due to configuration error: Malformed Lambda proxy response: {malformed}")
            return self._gateway_error(LAMBDA_FAILURE, incoming)
        return status, [*headers, ("x-amzn-RequestId", incoming.request_id)], payload

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
        future: Future[InvocationResult] = self.lambdas.submit(function_id, scheduled_event(rule_arn, moment),
                                                               str(uuid.uuid4()))
        try:
            result = future.result()  # no integration timeout here: the function's own Timeout bounds the wait
        except (PoolClosed, OSError) as rejected:
            _log_failure(function_id, handler, f"the invocation was refused: {rejected}")
            return _json(500, {"message": f"{function_id} could not be invoked: {rejected}"})
        if result.outcome is not Outcome.SUCCEEDED:
            _log_failure(function_id, handler, result.error)
            return _json(502, {"message": f"{function_id} failed ({result.outcome.value}); see the gateway's console"})
        return _json(200, {"result": result.payload})

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
        if method == "GET" and path == QUEUES_PATH:
            return self._queues_reply(200)
        if method == "POST" and path == QUEUES_WAIT_PATH:
            return self._wait_for_queues(incoming.query)
        return None

    def _queues_reply(self, status: int) -> Reply:
        try:
            return _json(status, self.queue_listing())
        except LookupError as missing:
            return _json(503, {"message": str(missing)})

    def _wait_for_queues(self, query: str) -> Reply:
        given = (urllib.parse.parse_qs(query).get("timeout") or [str(DEFAULT_QUEUES_WAIT_SECONDS)])[-1]
        try:
            timeout = float(given)
        except ValueError:
            return _json(400, {"message": f"timeout must be a number of seconds, not {given!r}"})
        drained = self.wait_for_queues(timeout)
        return self._queues_reply(200 if drained else 504)

    def _preflight(self, incoming: Incoming, cors: Cors) -> Reply | None:
        """The mock OPTIONS integration SAM adds to every path when the API declares Cors."""
        matching = routes_for_path(self.routes, incoming.path)
        if not matching:
            return None
        # The mock is a method of the resource like any other, and throttled as one.
        resource = max((route for route, _ in matching), key=lambda route: _literal_segments(route.path)).path
        if not self.throttle.allows(resource, "OPTIONS"):
            return self._gateway_error(THROTTLED, incoming)
        methods = sorted({route.method for route, _ in matching})
        headers = [("Access-Control-Allow-Origin", cors.allow_origin),
                   ("Access-Control-Allow-Methods", cors.allow_methods or ",".join([*methods, "OPTIONS"]))]
        if cors.allow_headers:
            headers.append(("Access-Control-Allow-Headers", cors.allow_headers))
        if cors.max_age:
            headers.append(("Access-Control-Max-Age", cors.max_age))
        if cors.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return 200, [("Content-Type", "application/json"), *headers], b""


def _literal_segments(path: str) -> int:
    return sum(1 for segment in path.split("/") if segment and not segment.startswith("{"))


def _log_failure(function_id: str, handler: str, error: str) -> None:
    print(f"{function_id} ({handler}) failed: {error}", file=sys.stderr, flush=True)


# ------------------------------------------------------------ start-up

def _function_configs(template: Mapping[str, Any], code_root: Path, table_names: Mapping[str, str],
                      parameters: Mapping[str, str], extra_env: Mapping[str, str],
                      queues: Mapping[str, LocalQueue]) -> dict[str, FunctionConfig]:
    """Each function as Lambda runs it: its own environment (the template's, then the caller's extras)."""
    return {
        function_id: FunctionConfig(
            function_id=function_id, handler=handler_of(template, function_id),
            code_dir=(code_root / code_uri(template, function_id)).resolve(),
            timeout_seconds=function_timeout_seconds(template, function_id, parameters=parameters),
            memory_mb=function_memory_mb(template, function_id, parameters=parameters),
            environment={**function_environment(template, function_id, table_names=table_names,
                                                parameters=parameters, queues=queues), **extra_env})
        for function_id in function_ids(template)
    }


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
    if int(length) > PAYLOAD_LIMIT_BYTES:
        _drain(request, int(length))
        raise PayloadTooLarge
    return request.rfile.read(int(length))


def _drain(request: BaseHTTPRequestHandler, length: int) -> None:
    """Read and drop a refused body, unless it is absurdly large (the connection is closed after the reply)."""
    if length > _DRAIN_LIMIT_BYTES:
        return
    while length > 0:
        chunk = request.rfile.read(min(length, 1 << 20))
        if not chunk:
            return
        length -= len(chunk)


def _read_chunked(request: BaseHTTPRequestHandler) -> bytes:
    chunks: list[bytes] = []
    size_read = 0
    while True:
        size_line = request.rfile.readline().split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise BadRequest(f"bad chunk size {size_line!r}") from None
        if size == 0:
            while request.rfile.readline().strip():  # trailers, up to the blank line
                pass
            if size_read > PAYLOAD_LIMIT_BYTES:
                raise PayloadTooLarge
            return b"".join(chunks)
        size_read += size
        if size_read > _DRAIN_LIMIT_BYTES:
            raise PayloadTooLarge
        chunk = request.rfile.read(size)
        if size_read <= PAYLOAD_LIMIT_BYTES:  # past the limit the rest is only read, to answer 413
            chunks.append(chunk)
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
        raise ValueError(f"no statusCode in {response!r:.200}")
    unknown = sorted(set(response) - _PROXY_RESPONSE_KEYS)
    if unknown:
        raise ValueError(f"keys a REST API proxy response does not have: {', '.join(unknown)}")
    body = response.get("body")
    if body is not None and not isinstance(body, str):
        raise ValueError(f"body must be a string, not {type(body).__name__}")
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
