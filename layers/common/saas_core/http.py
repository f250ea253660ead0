"""HTTP in and out: one resolver class every function uses.

`ApiApp` is Powertools' APIGatewayRestResolver with validation on, plus:
- `endpoint(...)` declares the route *and its access level*; the auth
  matrix tests read that declaration for every route of template.yaml;
- authentication and authorization run before the body is even parsed, so
  an anonymous caller learns nothing about the input schema;
- one exception mapping to API.md's envelope (`success`, `message`,
  `error`, `errors` on 422, `trace_id`, `timestamp`);
- `Idempotency-Key` replay for mutating admin routes.
"""

from __future__ import annotations

import contextvars
import json
import re
import typing
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import Any, Generic, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from saas_core import cors, deadline, request_body, tracing
from saas_core.access import ANONYMOUS, Access, MembershipLookup, Principal, Role, authorize
from saas_core.clock import iso, utc_now
from saas_core.errors import AppError, InvalidInput, LimitExceeded, NotFound
from saas_core.models.common import TENANT_ID_PATTERN

logger = Logger()

T = TypeVar("T")

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal", default=ANONYMOUS)

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
BEARER_AUTH = "bearerAuth"
API_KEY_AUTH = "apiKeyAuth"
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    BEARER_AUTH: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    API_KEY_AUTH: {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
}
_SECURITY_BY_ACCESS: dict[Access, list[dict[str, list[str]]] | None] = {
    Access.PUBLIC: None,
    Access.STRIPE: None,
    Access.MEMBER: [{BEARER_AUTH: []}, {API_KEY_AUTH: []}],
    Access.OWNER: [{BEARER_AUTH: []}, {API_KEY_AUTH: []}],
    Access.ADMIN: [{BEARER_AUTH: []}, {API_KEY_AUTH: []}],
    Access.SERVICE: [{API_KEY_AUTH: []}, {BEARER_AUTH: []}],
}


class Envelope(BaseModel, Generic[T]):
    """Every successful response (API.md, Envelope)."""

    success: bool = True
    message: str | None = None
    data: T
    trace_id: str
    timestamp: str


class ErrorEnvelope(BaseModel):
    success: bool = False
    message: str
    error: str
    errors: dict[str, list[str]] | None = None
    details: dict[str, Any] | None = None  # on 429: metric, current, limit, requested
    trace_id: str
    timestamp: str


def ok(data: T, message: str | None = None) -> Envelope[T]:
    return Envelope[T](data=data, message=message, trace_id=trace_id(), timestamp=iso(utc_now()))


def trace_id() -> str:
    return tracing.trace_id()


def current_principal() -> Principal:
    return _principal.get()


@dataclass(frozen=True)
class EndpointSpec:
    method: str
    path: str
    access: Access
    idempotent: bool


# What each business status means, for the routes that declare it (`errors=`).
BUSINESS_ERRORS = {
    400: "A business rule refused the request",
    404: "Something the request names does not exist",
    409: "Conflict: the record changed meanwhile, or the same request is in progress",
    429: "A usage limit was reached",
    502: "Stripe failed or did not answer in time; nothing was changed",
    503: "A service this route needs is unavailable; retry later",
}


def _error_responses(spec: EndpointSpec, business: tuple[int, ...]) -> dict[int, Any]:
    """Every error status the route can answer, each with the error envelope (OpenAPI responses)."""
    statuses = {422: "Invalid input: `errors` maps each field to its messages", 500: "Internal error (no detail)"}
    if "{" in spec.path:
        statuses[404] = "An id in the path names nothing"
    if spec.method in BODY_METHODS:
        statuses[415] = "The body is not JSON"
    if spec.access not in (Access.PUBLIC, Access.STRIPE):
        statuses[401] = "Missing or invalid credentials"
        statuses[403] = "Authenticated but not allowed"
    if spec.idempotent:
        statuses[409] = BUSINESS_ERRORS[409]
    statuses |= {status: BUSINESS_ERRORS[status] for status in business}
    return {status: {"description": text, "content": {"application/json": {"model": ErrorEnvelope}}}
            for status, text in sorted(statuses.items())}


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(payload: object) -> str:
    return json.dumps(payload, separators=(",", ":"), default=_json_default)


def error_body(error: AppError) -> dict[str, Any]:
    body = ErrorEnvelope(
        message=error.message,
        error=error.error_code,
        errors=error.errors if isinstance(error, InvalidInput) else None,
        details=error.details if isinstance(error, LimitExceeded) else None,
        trace_id=trace_id(),
        timestamp=iso(utc_now()),
    )
    return body.model_dump(exclude_none=True)


def _field_errors(exc: RequestValidationError) -> dict[str, list[str]]:
    # Drop the location prefix ("body", "query", "path"): clients name fields.
    errors: dict[str, list[str]] = {}
    for item in exc.errors():
        location = [str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path", "header")]
        message = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
        errors.setdefault(".".join(location) or "body", []).append(message)
    return errors



class ApiApp(APIGatewayRestResolver):
    """The resolver of one function: one endpoint, its access level, the envelope."""

    def __init__(self) -> None:
        # Numbers with decimals become Decimal, never float: prices stay exact.
        super().__init__(enable_validation=True, serializer=to_json, json_body_deserializer=request_body.loads)
        self.spec: EndpointSpec | None = None
        self.membership: MembershipLookup = _tenant_membership
        self.exception_handler(AppError)(self._app_error)
        self.exception_handler(RequestValidationError)(self._validation_error)
        self.exception_handler(NotFoundError)(self._route_not_found)
        self.exception_handler(Exception)(self._unexpected_error)

    # -- declaring the endpoint

    def endpoint(self, method: str, path: str, *, access: Access, summary: str, status_code: int = 200,
                 tags: list[str] | None = None, idempotent: bool = False, errors: tuple[int, ...] = (),
                 ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register the function's single route. `path` uses API Gateway's `{param}` syntax;
        `errors` lists the business statuses it may answer (400, 409, 429, 502)."""
        if self.spec is not None:
            raise RuntimeError("One endpoint per function: this app already has " + self.spec.path)
        spec = self.spec = EndpointSpec(method.upper(), path, access, idempotent)
        # Loaded at cold start with the function, not on its first request;
        # public functions never load token verification at all.
        if access not in (Access.PUBLIC, Access.STRIPE):
            import saas_core.auth
        if idempotent:
            import saas_core.idempotency  # noqa: F401
        rule = path.replace("{", "<").replace("}", ">")

        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            # Declared error responses replace Powertools' default success
            # entry, so the success model is declared here from the return type.
            returns = typing.get_type_hints(function).get("return")
            if returns is None:
                raise TypeError(f"{function.__name__} must annotate its return type: it is the response schema")
            responses = {status_code: {"description": summary, "content": {"application/json": {"model": returns}}},
                         **_error_responses(spec, errors)}
            return self.route(rule, method.upper(), summary=summary, status_code=status_code, tags=tags,
                              security=_SECURITY_BY_ACCESS[access], responses=responses)(function)

        return register

    # -- the Lambda entry point

    def lambda_handler(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        request_context = event.get("requestContext") or {}
        request_id = request_context.get("requestId") or str(uuid.uuid4())
        logger.set_correlation_id(request_id)
        with tracing.serving(request_id), deadline.within(context, _epoch_ms(request_context.get("requestTimeEpoch"))):
            try:
                response = self._handle(event, context)
            except Exception:
                # Whatever failed (a claim, DynamoDB, a bug), the caller gets the envelope's 500.
                logger.exception("unhandled error")
                response = self.proxy_response(500, error_body(AppError("Internal server error")))
            return self._with_standard_headers(response, event)

    def _handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        try:
            principal = self._authorize(event)
            # Stripe's events are verified over their raw bytes by the handler, and a body that is
            # not an event is its 400 to give; nothing is parsed before the signature is checked.
            body = None if self.spec is not None and self.spec.access is Access.STRIPE else request_body.parse(event)
        except AppError as refused:
            logger.info("request refused", extra={"status": refused.status_code, "reason": refused.message})
            return self.proxy_response(refused.status_code, error_body(refused))
        principal_token = _principal.set(principal)
        try:
            if self.spec is not None and self.spec.idempotent:
                from saas_core.idempotency import resolve_idempotently

                return resolve_idempotently(self, event, context, principal, body)
            return self.resolve(event, context)
        finally:
            _principal.reset(principal_token)

    def _authorize(self, event: Mapping[str, Any]) -> Principal:
        if self.spec is None:
            raise RuntimeError("ApiApp has no endpoint declared")
        if self.spec.access in (Access.PUBLIC, Access.STRIPE):
            return ANONYMOUS
        from saas_core.auth import authenticate

        principal = authenticate(event.get("headers"), event.get("queryStringParameters"))
        tenant_id = (event.get("pathParameters") or {}).get("tenant_id")
        return authorize(self.spec.access, principal, tenant_id, self.membership)

    def _with_standard_headers(self, response: dict[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
        headers: dict[str, str] = {"X-Content-Type-Options": "nosniff"}
        if self.spec is None or self.spec.access is not Access.PUBLIC:
            # Responses for a credential must never be kept by a browser or a proxy.
            headers["Cache-Control"] = "no-store"
        headers |= cors.response_headers(cors.origin_of(event.get("headers")))
        multi = response.setdefault("multiValueHeaders", {}) or {}
        single = response.get("headers") or {}
        for name, value in headers.items():
            multi[name] = [value]
            single.pop(name, None)
        response["multiValueHeaders"] = multi
        return response

    def request_key(self) -> str | None:
        """The caller, the Idempotency-Key and the body together, for ids derived from a retried request."""
        from saas_core.idempotency import request_key

        return request_key(self.current_event.raw_event, current_principal())

    @staticmethod
    def proxy_response(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """A REST proxy response built outside the resolver (refusals, replays)."""
        return {
            "statusCode": status,
            "multiValueHeaders": {"Content-Type": [content_types.APPLICATION_JSON]},
            "body": to_json(body),
            "isBase64Encoded": False,
        }

    # -- error mapping: the one place exceptions become responses

    @staticmethod
    def _respond(status: int, body: Mapping[str, Any]) -> Response[Any]:
        return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=dict(body))

    def _app_error(self, error: AppError) -> Response[Any]:
        if error.status_code >= 500:
            logger.warning("request failed", extra={"error": error.error_code, "reason": error.message})
        return self._respond(error.status_code, error_body(error))

    def _validation_error(self, exc: RequestValidationError) -> Response[Any]:
        # A path names a thing: a malformed id names nothing, like an unknown one (API.md).
        for item in exc.errors():
            location = tuple(item.get("loc", ()))
            if location[:1] == ("path",) and len(location) > 1:
                return self._app_error(NotFound(f"{thing_named_by(str(location[1]))} not found"))
        invalid = InvalidInput("The given data was invalid", _field_errors(exc))
        return self._respond(HTTPStatus.UNPROCESSABLE_ENTITY, error_body(invalid))

    def _route_not_found(self, _: NotFoundError) -> Response[Any]:
        return self._respond(HTTPStatus.NOT_FOUND, error_body(_RouteNotFound("Route not found")))

    def _unexpected_error(self, exc: Exception) -> Response[Any]:
        logger.exception("unhandled error")
        return self._respond(HTTPStatus.INTERNAL_SERVER_ERROR, error_body(AppError("Internal server error")))


def _epoch_ms(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def thing_named_by(path_parameter: str) -> str:
    """`tenant_id` -> "Tenant", `user_id` -> "User": the subject of a 404 message."""
    return path_parameter.removesuffix("_id").replace("_", " ").capitalize()


class _RouteNotFound(AppError):
    status_code = 404
    error_code = "not_found"


def _tenant_membership(tenant_id: str, principal: Principal) -> Role | None:
    # An id that cannot be a tenant's is nobody's tenant: never sent to DynamoDB (a 3,000
    # character key would be its ValidationException, a 500).
    if not re.fullmatch(TENANT_ID_PATTERN, tenant_id):
        return None
    # Imported on first use: public and admin functions never load it.
    from saas_core.repositories.tenants import membership_role

    return membership_role(tenant_id, principal)


def header(event_headers: Mapping[str, str] | None, name: str) -> str | None:
    """A request header by case-insensitive name (API Gateway keeps the client's case)."""
    wanted = name.lower()
    for key, value in (event_headers or {}).items():
        if key.lower() == wanted:
            return value
    return None
