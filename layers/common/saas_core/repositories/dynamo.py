"""DynamoDB plumbing shared by the repositories: one client, item
(de)serialization, and transactions whose failed conditions become domain
errors by position rather than by parsing messages.

The client comes from botocore directly: importing boto3 also imports
s3transfer and its resource machinery, a third of a cold start for nothing
(`make bench` shows the difference). The wire format is the same.
"""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from saas_core import deadline, tracing
from saas_core.access import Principal
from saas_core.clock import iso, utc_now
from saas_core.errors import AppError, Conflict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Fail fast: a Lambda behind API Gateway has 29 s, and DynamoDB answers in ms.
_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})


@functools.cache
def client() -> DynamoDBClient:
    # AWS_ENDPOINT_URL_DYNAMODB points this at moto locally: no local-only code.
    session = botocore.session.get_session()
    return cast("DynamoDBClient", session.create_client("dynamodb", config=_CLIENT_CONFIG))


def to_attribute(value: Any) -> dict[str, Any]:
    """One value in DynamoDB's typed JSON. Floats are refused: money is integer minor units."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attribute(v) for k, v in value.items() if v is not None}}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(v) for v in value]}
    raise TypeError(f"{type(value).__name__} values are not stored (floats never are: use minor units)")


def from_attribute(attribute: Mapping[str, Any]) -> Any:
    (kind, value), = attribute.items()
    if kind == "S":
        return value
    if kind == "N":
        number = Decimal(value)
        # Every number we store is an integer (counts, minor units, versions).
        return int(number) if number == number.to_integral_value() else number
    if kind == "M":
        return {k: from_attribute(v) for k, v in value.items()}
    if kind == "L":
        return [from_attribute(v) for v in value]
    if kind == "NULL":
        return None
    if kind == "BOOL":
        return bool(value)
    raise TypeError(f"DynamoDB type {kind} is not used by this application")


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item from plain values; None values are left out."""
    return {key: to_attribute(value) for key, value in values.items() if value is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: from_attribute(value) for key, value in item.items()}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def get(table: str, pk: str, sk: str, *, consistent: bool = True) -> dict[str, Any] | None:
    response = client().get_item(TableName=table, Key=key(pk, sk), ConsistentRead=consistent)
    item = response.get("Item")
    return from_item(item) if item else None


def query_all(**kwargs: Any) -> list[dict[str, Any]]:
    """Every page of a Query; only for partitions known to be small."""
    items: list[dict[str, Any]] = []
    while True:
        response = client().query(**kwargs)
        items.extend(from_item(item) for item in response.get("Items", []))
        last_key = response.get("LastEvaluatedKey")
        if not last_key:
            return items
        kwargs["ExclusiveStartKey"] = last_key


@dataclass(frozen=True)
class Write:
    """One action of a transaction, and the error its failed condition means."""

    action: dict[str, Any]
    on_condition_failed: AppError | None = None


# Transactions touching one item at the same moment (sign-ups counting on one plan) are
# cancelled with TransactionConflict; they succeed when tried again a moment later.
CONFLICT_RETRIES = 4
CONFLICT_BASE_DELAY_SECONDS = 0.05


def transact(writes: Sequence[Write], *, client_token: str | None = None) -> None:
    """All or nothing. A failed condition raises the error of the write that
    failed; a conflict with a concurrent transaction is tried again a few times
    (while the request has time), then raises Conflict."""
    request: dict[str, Any] = {"TransactItems": [write.action for write in writes]}
    if client_token:
        request["ClientRequestToken"] = client_token
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            client().transact_write_items(**request)
            return
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            failure = _cancellation_error(writes, error)
            pause = random.uniform(0, CONFLICT_BASE_DELAY_SECONDS * 2**attempt)  # noqa: S311 - jitter
            if not isinstance(failure, _TransactionConflict) or attempt == CONFLICT_RETRIES \
                    or deadline.remaining() < pause + 1:
                raise failure from None
            time.sleep(pause)


class _TransactionConflict(Conflict):
    """Cancelled only because a concurrent transaction touched the same items."""


_SINGLE_CALLS = {"Put": "put_item", "Update": "update_item", "Delete": "delete_item"}


def execute(write: Write) -> None:
    """One write on its own (no transaction: half the cost); a failed condition raises its error."""
    ((kind, action),) = write.action.items()
    try:
        getattr(client(), _SINGLE_CALLS[kind])(**action)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        raise write.on_condition_failed or Conflict("The record changed meanwhile; retry") from None


def _cancellation_error(writes: Sequence[Write], error: ClientError) -> AppError:
    reasons = error.response.get("CancellationReasons") or []
    for write, reason in zip(writes, reasons, strict=False):
        if reason.get("Code") == "ConditionalCheckFailed":
            return write.on_condition_failed or Conflict("The record changed meanwhile; retry")
    if any(reason.get("Code") == "TransactionConflict" for reason in reasons):
        return _TransactionConflict("A concurrent change touched the same records; retry")
    return Conflict("The change could not be applied; retry")


def _with_expressions(action: dict[str, Any], *, condition: str | None, names: Mapping[str, str] | None,
                      values: Mapping[str, Any] | None) -> dict[str, Any]:
    # DynamoDB refuses empty or unused placeholder maps, so only what is given goes in.
    if condition:
        action["ConditionExpression"] = condition
    if names:
        action["ExpressionAttributeNames"] = dict(names)
    if values:
        action["ExpressionAttributeValues"] = to_item(values)
    return action


def put(table: str, values: Mapping[str, Any], *, condition: str | None = None,
        names: Mapping[str, str] | None = None, condition_values: Mapping[str, Any] | None = None,
        on_condition_failed: AppError | None = None) -> Write:
    action = {"TableName": table, "Item": to_item(values)}
    return Write({"Put": _with_expressions(action, condition=condition, names=names, values=condition_values)},
                 on_condition_failed)


def update(table: str, pk: str, sk: str, expression: str, *, values: Mapping[str, Any] | None = None,
           names: Mapping[str, str] | None = None, condition: str | None = None,
           on_condition_failed: AppError | None = None) -> Write:
    action = {"TableName": table, "Key": key(pk, sk), "UpdateExpression": expression}
    return Write({"Update": _with_expressions(action, condition=condition, names=names, values=values)},
                 on_condition_failed)


def delete(table: str, pk: str, sk: str, *, condition: str | None = None, names: Mapping[str, str] | None = None,
           values: Mapping[str, Any] | None = None, on_condition_failed: AppError | None = None) -> Write:
    action = {"TableName": table, "Key": key(pk, sk)}
    return Write({"Delete": _with_expressions(action, condition=condition, names=names, values=values)},
                 on_condition_failed)


def condition_check(table: str, pk: str, sk: str, condition: str, *, values: Mapping[str, Any] | None = None,
                    names: Mapping[str, str] | None = None, on_condition_failed: AppError) -> Write:
    action = {"TableName": table, "Key": key(pk, sk)}
    return Write({"ConditionCheck": _with_expressions(action, condition=condition, names=names, values=values)},
                 on_condition_failed)


def audit(table: str, pk: str, *, actor: Principal, action: str, before: Mapping[str, Any] | None,
          after: Mapping[str, Any] | None, reason: str | None = None) -> Write:
    """The audit record of a change, written in the same transaction as the change."""
    now = utc_now()
    return put(table, {
        "pk": pk,
        # Microseconds in the key: changes within one second still list in order.
        "sk": f"AUDIT#{now.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{uuid.uuid4().hex[:12]}",
        "kind": "audit",
        "at": iso(now),
        "action": action,
        "actor": actor.subject,
        "actor_email": actor.email,
        "actor_via": actor.via,
        "before": dict(before) if before is not None else None,
        "after": dict(after) if after is not None else None,
        "reason": reason,
        "trace_id": tracing.current_trace_id(),
    })
