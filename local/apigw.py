"""API Gateway's side of a Lambda proxy integration: REST (v1) proxy events as
API Gateway sends them (and `sam local generate-event apigateway aws-proxy`
writes them), its route matching, its throttling, the error responses it makes
itself (gateway responses), and the Lambda context object."""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from time import monotonic
from typing import Any

from local.template import LOCAL_ACCOUNT_ID, LOCAL_REGION, GatewayResponse, MethodThrottle, Route

API_ID = "1234567890"
ACCOUNT_ID = LOCAL_ACCOUNT_ID
ANY_METHOD = "ANY"

Values = Mapping[str, str | list[str]]


# ------------------------------------------------------------------ events

def request_time(moment: datetime) -> str:
    """$context.requestTime: the CLF-formatted time API Gateway received the request."""
    return moment.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _as_lists(values: Values | None) -> dict[str, list[str]]:
    return {name: list(value) if isinstance(value, list) else [value] for name, value in (values or {}).items()}


def _last_values(values: Mapping[str, list[str]]) -> dict[str, str]:
    # API Gateway keeps the last of repeated values in the single-value maps.
    return {name: listed[-1] for name, listed in values.items() if listed}


def _event_body(body: str | bytes | dict[str, Any] | None) -> tuple[str | None, bool]:
    """The body as the event carries it, and whether that is base64."""
    if isinstance(body, dict):
        return json.dumps(body), False
    if isinstance(body, bytes):
        try:
            return body.decode(), False
        except UnicodeDecodeError:
            # As API Gateway does for a binary media type: text would mangle it.
            return base64.b64encode(body).decode(), True
    return body, False


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


def rest_event(method: str, path: str, *, resource: str | None = None, path_parameters: dict[str, str] | None = None,
               headers: Values | None = None, query: Values | None = None,
               body: str | bytes | dict[str, Any] | None = None, stage: str = "local",
               request_id: str | None = None, source_ip: str = "127.0.0.1",
               received_at: datetime | None = None) -> dict[str, Any]:
    """A REST API proxy event. Headers and query values may be lists (repeated); `path` is as requested
    (not decoded), pathParameters decoded, as API Gateway does."""
    request_id = request_id or str(uuid.uuid4())
    multi_headers, multi_query = _as_lists(headers), _as_lists(query)
    single_headers = _last_values(multi_headers)
    event_body, is_base64 = _event_body(body)
    resource = resource or path
    now = received_at or datetime.now(UTC)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": _last_values(multi_query) or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": resource,
            "httpMethod": method.upper(),
            "extendedRequestId": request_id,
            "requestTime": request_time(now),
            "path": f"/{stage}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": API_ID,
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None, "caller": None,
                "sourceIp": source_ip, "principalOrgId": None, "accessKey": None,
                "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None, "userArn": None,
                "userAgent": _header(single_headers, "User-Agent"), "user": None,
            },
            "domainName": f"{API_ID}.execute-api.{LOCAL_REGION}.amazonaws.com",
            "apiId": API_ID,
        },
        "body": event_body,
        "isBase64Encoded": is_base64,
    }


def scheduled_event(rule_arn: str, time: datetime) -> dict[str, Any]:
    """The event EventBridge sends a schedule's target."""
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT_ID, "time": time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": LOCAL_REGION, "resources": [rule_arn], "detail": {},
    }


# ---------------------------------------------------------------- matching

def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def _is_parameter(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _is_greedy(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("+}")


def _match_path(route_path: str, path: str) -> dict[str, str] | None:
    """The path parameters when `path` is one of the route's, else None."""
    wanted, given = _segments(route_path), _segments(path)
    parameters: dict[str, str] = {}
    for position, pattern in enumerate(wanted):
        if _is_greedy(pattern):  # {proxy+}: one or more segments, the rest of the path
            rest = given[position:]
            if not rest:
                return None
            parameters[pattern[1:-2]] = urllib.parse.unquote("/".join(rest))
            return parameters
        if position >= len(given):
            return None
        if _is_parameter(pattern):
            parameters[pattern[1:-1]] = urllib.parse.unquote(given[position])
        elif pattern != given[position]:
            return None
    return parameters if len(wanted) == len(given) else None


def _specificity(route: Route) -> tuple[tuple[int, ...], bool]:
    # Position by position a literal segment beats {param}, which beats {proxy+};
    # then a route's own method beats its ANY.
    ranks = tuple(0 if _is_greedy(segment) else 1 if _is_parameter(segment) else 2
                  for segment in _segments(route.path))
    return ranks, route.method != ANY_METHOD


def routes_for_path(routes: Iterable[Route], path: str) -> list[tuple[Route, dict[str, str]]]:
    """Every route whose path matches, whatever its method."""
    return [(route, parameters) for route in routes
            for parameters in [_match_path(route.path, path)] if parameters is not None]


def match_route(routes: Iterable[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route API Gateway would pick for the request, with its decoded path parameters."""
    method = method.upper()
    candidates = [(route, parameters) for route, parameters in routes_for_path(routes, path)
                  if route.method in (method, ANY_METHOD)]
    if not candidates:
        return None
    # Among the routes with this method (or ANY) the most specific wins. A route with another method on
    # a more specific path does not shadow it: GET /v1/plans/compare reaches /v1/plans/{plan_id}.
    return max(candidates, key=lambda candidate: _specificity(candidate[0]))


# ------------------------------------------------------- gateway responses

Headers = list[tuple[str, str]]
Reply = tuple[int, Headers, bytes]


@dataclass(frozen=True)
class GatewayError:
    """An error API Gateway answers itself: its response type, default status and message."""

    response_type: str
    status: int
    message: str


MISSING_AUTHENTICATION_TOKEN = GatewayError("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
THROTTLED = GatewayError("THROTTLED", 429, "Too Many Requests")
REQUEST_TOO_LARGE = GatewayError("REQUEST_TOO_LARGE", 413, "Request Too Long")
INTEGRATION_TIMEOUT = GatewayError("INTEGRATION_TIMEOUT", 504, "Endpoint request timed out")
# A function that raised, timed out or returned a malformed proxy response: a 502 with no type of its own,
# so DEFAULT_5XX shapes it.
LAMBDA_FAILURE = GatewayError("DEFAULT_5XX", 502, "Internal server error")
# Lambda refused the invocation itself (here: no execution environment could be started).
LAMBDA_REJECTED = GatewayError("DEFAULT_5XX", 500, "Internal server error")

# What API Gateway writes when no gateway response shapes the error.
_BUILT_IN_TEMPLATE = ("application/json", '{"message":$context.error.messageString}')
_CONTEXT_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")


def _fallback_type(error: GatewayError) -> str:
    return "DEFAULT_4XX" if error.status < 500 else "DEFAULT_5XX"


def _status(error: GatewayError, own: GatewayResponse | None, fallback: GatewayResponse | None) -> int:
    # A type's own StatusCode wins; a type left undeclared takes DEFAULT_4XX/5XX's StatusCode when that
    # sets one (it changes every undeclared type of its class), else keeps its default status.
    if own is not None:
        return own.status_code or error.status
    if fallback is not None and fallback.status_code:
        return fallback.status_code
    return error.status


def _substitute(template: str, variables: Mapping[str, str]) -> str:
    # Gateway response templates are plain substitution, not VTL; an unknown variable renders empty.
    return _CONTEXT_VARIABLE.sub(lambda match: variables.get(match.group(1), ""), template)


def gateway_response(error: GatewayError, declared: Mapping[str, GatewayResponse], *, request_id: str,
                     received_at: datetime) -> Reply:
    """The reply API Gateway makes for `error`: the declared gateway response of its type, else DEFAULT_4XX or
    DEFAULT_5XX, else API Gateway's own {"message": ...}."""
    own = declared.get(error.response_type)
    fallback = declared.get(_fallback_type(error))
    shaping = own or fallback
    content_type, template = (shaping.templates[0] if shaping is not None and shaping.templates
                              else _BUILT_IN_TEMPLATE)
    body = _substitute(template, {
        "requestId": request_id, "extendedRequestId": request_id, "requestTime": request_time(received_at),
        "requestTimeEpoch": str(int(received_at.timestamp() * 1000)), "error.message": error.message,
        "error.messageString": json.dumps(error.message), "error.responseType": error.response_type,
        "accountId": ACCOUNT_ID, "apiId": API_ID,
    })
    headers = [("Content-Type", content_type), *(shaping.headers if shaping is not None else ()),
               ("x-amzn-RequestId", request_id)]
    return _status(error, own, fallback), headers, body.encode()


# -------------------------------------------------------------- throttling

# API Gateway's account-level default per Region: the limit of a method no MethodSettings throttle.
ACCOUNT_RATE_LIMIT = 10_000.0
ACCOUNT_BURST_LIMIT = 5_000


class TokenBucket:
    """API Gateway's throttling algorithm: `burst` tokens at most, refilled at `rate` per second; each request
    takes one, and a request that finds none is throttled."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


class StageThrottle:
    """The stage's MethodSettings throttling. Limits apply per API method (resource and HTTP method), each with
    its own bucket; a setting for "/*" and "*" is the default of every method a more specific one does not
    name."""

    def __init__(self, settings: Iterable[MethodThrottle], clock: Callable[[], float] = monotonic) -> None:
        self._settings = list(settings)
        self._clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def allows(self, resource: str, method: str) -> bool:
        return self._bucket(resource, method.upper()).take()

    def _bucket(self, resource: str, method: str) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get((resource, method))
            if bucket is None:
                rate, burst = self._limits(resource, method)
                bucket = self._buckets[(resource, method)] = TokenBucket(rate, burst, self._clock)
            return bucket

    def _limits(self, resource: str, method: str) -> tuple[float, int]:
        rate, burst = ACCOUNT_RATE_LIMIT, ACCOUNT_BURST_LIMIT
        for setting in sorted(self._settings, key=_generality, reverse=True):  # the most specific last, and wins
            if setting.resource_path in ("/*", resource) and setting.http_method in ("*", method):
                rate = setting.rate_limit if setting.rate_limit is not None else rate
                burst = setting.burst_limit if setting.burst_limit is not None else burst
        return rate, burst


def _generality(setting: MethodThrottle) -> int:
    return (setting.resource_path == "/*") + (setting.http_method == "*")


# ----------------------------------------------------------------- context

class LambdaContext:
    """What the Lambda runtime passes as `context`, as far as Powertools reads it."""

    def __init__(self, function_name: str = "local-function", timeout_seconds: float = 28,
                 memory_limit_in_mb: int = 512, aws_request_id: str | None = None) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{LOCAL_REGION}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline = monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - monotonic()) * 1000))
