"""`Idempotency-Key` for mutating admin routes (API.md), on Powertools' idempotency.

The same key with the same body returns the first response again and changes
nothing; the same key with another body gets 422. Bodies compare parsed, not
byte for byte. Only successful responses are remembered: a 502 from Stripe or
a 409 must be retryable with the same key. The record is scoped to the kind
of credential, the caller and the route, so one caller's key can never replay
another's response or another route's.
"""

from __future__ import annotations

import functools
import hashlib
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from saas_core import request_body
from saas_core.access import Principal
from saas_core.errors import Conflict, InvalidInput
from saas_core.settings import get_settings

if TYPE_CHECKING:
    from saas_core.http import ApiApp

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REMEMBER_SECONDS = 24 * 3600


class _NotRemembered(Exception):
    """Carries a non-2xx response out of the idempotent call so it is not stored."""

    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__("response not remembered")
        self.response = response


@functools.cache
def _persistence() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table)


def _config(context: LambdaContext) -> IdempotencyConfig:
    config = IdempotencyConfig(
        event_key_jmespath="scope",
        payload_validation_jmespath="body_sha256",
        expires_after_seconds=REMEMBER_SECONDS,
    )
    config.register_lambda_context(context)
    return config


def _key_of(event: dict[str, Any]) -> str | None:
    from saas_core.http import header

    return header(event.get("headers"), IDEMPOTENCY_HEADER)


def _canonical_number(value: object) -> object:
    # 1.50, 1.5 and 15E-1 are one number; a whole one compares equal to the integer.
    if isinstance(value, Decimal):
        normal = value.normalize()
        return int(normal) if normal == normal.to_integral_value() else str(normal)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def body_fingerprint(body: Any) -> str:
    """The parsed body's digest: key order, spacing and 1.50 vs 1.5 do not make another request."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=_canonical_number)
    return hashlib.sha256(canonical.encode()).hexdigest()


def caller_scope(principal: Principal) -> str:
    # The kind of credential is part of the scope: a token whose `sub` happens
    # to be "api-key" must not reach what the admin key's requests stored.
    return f"{principal.via}:{principal.subject}"


def request_key(event: dict[str, Any], principal: Principal) -> str | None:
    """Caller, Idempotency-Key and body together: a retry of the same request maps to the same
    value, a corrected body to another one (ids derived from it then differ too)."""
    key = _key_of(event)
    if key is None:
        return None
    return f"{caller_scope(principal)}|{key}|{body_fingerprint(request_body.parse(event))}"


def resolve_idempotently(app: ApiApp, event: dict[str, Any], context: LambdaContext,
                         principal: Principal, body: Any) -> dict[str, Any]:
    key = _key_of(event)
    if key is None:
        return app.resolve(event, context)
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        refused = InvalidInput("Invalid Idempotency-Key",
                               {"Idempotency-Key": [f"must be 1 to {MAX_KEY_LENGTH} characters"]})
        return app.proxy_response(refused.status_code, _body(refused))
    spec = app.spec
    if spec is None:
        raise RuntimeError("ApiApp has no endpoint declared")
    request = {
        "scope": f"{caller_scope(principal)}|{spec.method} {event.get('path')}|{key}",
        "body_sha256": body_fingerprint(body),
    }

    @idempotent_function(  # type: ignore[untyped-decorator]  # Powertools' decorator is untyped
        data_keyword_argument="request", persistence_store=_persistence(), config=_config(context))
    def run_once(request: dict[str, str]) -> dict[str, Any]:
        response = app.resolve(event, context)
        if not 200 <= int(response["statusCode"]) < 300:
            raise _NotRemembered(response)
        return response

    try:
        replayed: dict[str, Any] = run_once(request=request)
        return replayed
    except _NotRemembered as not_remembered:
        return not_remembered.response
    except IdempotencyValidationError:
        refused = InvalidInput("Idempotency-Key was already used with a different request body",
                               {"Idempotency-Key": ["already used with a different body"]})
        return app.proxy_response(refused.status_code, _body(refused))
    except IdempotencyAlreadyInProgressError:
        conflict = Conflict("A request with this Idempotency-Key is still in progress")
        return app.proxy_response(conflict.status_code, _body(conflict))


def _body(error: Conflict | InvalidInput) -> dict[str, Any]:
    from saas_core.http import error_body

    return error_body(error)
