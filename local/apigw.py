"""API Gateway's side of a Lambda proxy integration: REST (v1) proxy events as
API Gateway sends them (and `sam local generate-event apigateway aws-proxy`
writes them), its route matching, and the Lambda context object."""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from local.template import Route

API_ID = "1234567890"
ACCOUNT_ID = "123456789012"


def rest_event(method: str, path: str, *, resource: str | None = None, path_parameters: dict[str, str] | None = None,
               headers: dict[str, str] | None = None, query: Mapping[str, str | list[str]] | None = None,
               body: str | bytes | dict[str, Any] | None = None, stage: str = "local",
               request_id: str | None = None, source_ip: str = "127.0.0.1") -> dict[str, Any]:
    request_id = request_id or str(uuid.uuid4())
    headers = dict(headers or {})
    multi_query = {name: value if isinstance(value, list) else [value] for name, value in (query or {}).items()}
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, bytes):
        body = body.decode()
    now = datetime.now(UTC)
    resource = resource or path
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": headers or None,
        "multiValueHeaders": {name: [value] for name, value in headers.items()} or None,
        # API Gateway keeps the last value of a repeated query parameter here.
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": resource,
            "httpMethod": method.upper(),
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
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
                "userAgent": headers.get("User-Agent", "local"), "user": None,
            },
            "domainName": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
            "apiId": API_ID,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _segments(path: str) -> list[str]:
    return [segment for segment in path.strip("/").split("/") if segment != ""]


def _match(route_path: str, path: str) -> dict[str, str] | None:
    wanted, given = _segments(route_path), _segments(path)
    if len(wanted) != len(given):
        return None
    parameters: dict[str, str] = {}
    for pattern, segment in zip(wanted, given, strict=True):
        if pattern.startswith("{") and pattern.endswith("}"):
            parameters[pattern[1:-1]] = urllib.parse.unquote(segment)
        elif pattern != segment:
            return None
    return parameters


def _specificity(route: Route) -> tuple[int, ...]:
    # Literal segments beat {param} segments, position by position.
    return tuple(0 if segment.startswith("{") else 1 for segment in _segments(route.path))


def match_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    candidates = [(route, params) for route in routes if route.method == method.upper()
                  for params in [_match(route.path, path)] if params is not None]
    if not candidates:
        return None
    return max(candidates, key=lambda candidate: _specificity(candidate[0]))


class LambdaContext:
    """What the Lambda runtime passes as `context`, as far as Powertools reads it."""

    def __init__(self, function_name: str = "local-function", timeout_seconds: float = 28,
                 memory_limit_in_mb: int = 512) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def scheduled_event(rule_arn: str, moment: datetime) -> dict[str, Any]:
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT_ID, "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
        "resources": [rule_arn], "detail": {},
    }
