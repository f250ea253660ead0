"""Call a function in-process exactly as API Gateway would: route the
request with template.yaml's table, build the REST proxy event, invoke the
handler. Used by the tests and the bench."""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from local.apigw import LambdaContext, match_route, rest_event
from local.template import Route, api_routes, load_template


def cold_start() -> None:
    """Forget everything a function reads once per container, as a new one would."""
    from saas_core import auth, cursor, idempotency, settings, stripe_gateway, stripe_webhooks
    from saas_core.repositories import dynamo

    settings.get_settings.cache_clear()
    dynamo.client.cache_clear()
    stripe_gateway._client_for_key.cache_clear()
    cursor._signing_key.cache_clear()
    idempotency._persistence.cache_clear()
    auth._key_stores.clear()
    stripe_webhooks._sqs.cache_clear()


@cache
def routes() -> tuple[Route, ...]:
    return tuple(api_routes(load_template()))


def handler_module(route: Route) -> Any:
    return importlib.import_module(route.handler.rsplit(".", 1)[0])


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def data(self) -> Any:
        return self.body.get("data")


def invoke(method: str, path: str, *, body: Any = None, token: str | None = None, api_key: str | None = None,
           headers: dict[str, str] | None = None, query: Mapping[str, str | list[str]] | None = None,
           context: LambdaContext | None = None) -> Reply:
    """`context`: the Lambda context to pass (its timeout bounds the request); a fresh 28 s one by default."""
    matched = match_route(list(routes()), method, path)
    if matched is None:
        raise LookupError(f"no route for {method} {path}")
    route, path_parameters = matched
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    if api_key:
        all_headers["X-Api-Key"] = api_key
    raw_body = body if isinstance(body, str) or body is None else json.dumps(body)
    event = rest_event(method, path, resource=route.path, path_parameters=path_parameters or None,
                       headers=all_headers, query=query, body=raw_body)
    response = handler_module(route).handler(event, context or LambdaContext(function_name=route.function_id))
    headers = {name: values[-1] for name, values in (response.get("multiValueHeaders") or {}).items()}
    return Reply(status=response["statusCode"], body=json.loads(response["body"] or "null") or {},
                 headers={**headers, **(response.get("headers") or {})})
