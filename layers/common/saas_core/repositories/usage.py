"""The usage table: one counter item per tenant, metric and period.

`TENANT#<id> / <metric>#<period key>` with period keys `total` (counts such as
workflows), `D<yyyy-mm-dd>` (per UTC day) and `P<period start>` (per billing
period). A new day or period is a new item, so it starts at zero without a
reset touching anything; `expires_at` lets TTL remove the old ones. An
increment is one conditional update, so concurrent calls can never pass a
limit (the metering routes build on this).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from botocore.exceptions import ClientError

from saas_core import deadline
from saas_core.clock import utc_now
from saas_core.errors import Conflict, InvalidInput
from saas_core.models.plans import LimitPeriod
from saas_core.repositories import dynamo
from saas_core.settings import get_settings

# Day and period counters are history for analytics for a while, then TTL removes them.
COUNTER_RETENTION = timedelta(days=400)
# A replayed idempotency key is recognised this long (the product's retries are minutes apart).
IDEMPOTENCY_RETENTION = timedelta(days=2)
# Keyed consumes are transactions: on one busy counter they conflict and are tried again.
CONFLICT_RETRIES = 8
CONFLICT_BASE_DELAY_SECONDS = 0.02


def _table() -> str:
    return get_settings().usage_table


def usage_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def period_key(period: LimitPeriod, *, now: datetime, billing_period_start: str | None) -> str:
    if period is LimitPeriod.DAY:
        return f"D{now.date().isoformat()}"
    if period is LimitPeriod.MONTH:
        return f"P{billing_period_start or now.strftime('%Y-%m')}"
    return "total"


def counter_sk(metric: str, key: str) -> str:
    return f"{metric}#{key}"


def current_values(tenant_id: str, counters: dict[str, str]) -> dict[str, int]:
    """Current value per metric, given metric -> period key. One batched read."""
    if not counters:
        return {}
    keys = [dynamo.key(usage_pk(tenant_id), counter_sk(metric, key)) for metric, key in counters.items()]
    request: dict[str, Any] = {_table(): {"Keys": keys, "ProjectionExpression": "sk, used", "ConsistentRead": True}}
    found: dict[str, int] = {}
    while request:
        response = dynamo.client().batch_get_item(RequestItems=request)
        for item in response.get("Responses", {}).get(_table(), []):
            plain = dynamo.from_item(item)
            found[str(plain["sk"])] = int(plain.get("used", 0))
        request = dict(response.get("UnprocessedKeys") or {})
    return {metric: found.get(counter_sk(metric, key), 0) for metric, key in counters.items()}


# ------------------------------------------------------------------ metering


@dataclass(frozen=True)
class Counter:
    """Where one metric of a tenant is counted now, and what it may reach."""

    tenant_id: str
    metric: str
    period_key: str
    limit: int | None  # None: unlimited
    tier: str  # kept on the counter for per-tier analytics of the same write


@dataclass(frozen=True)
class Consumed:
    current: int  # the counter after this consume (or, for a replay, now)
    recorded: bool  # False: the idempotency key had recorded it already


class OverLimit(Exception):
    def __init__(self, current: int) -> None:
        super().__init__(f"limit reached at {current}")
        self.current = current


def _counter_update(counter: Counter, amount: int) -> dict[str, Any]:
    """One conditional update that decides and records: the amount is added only if the total stays
    within the limit, so concurrent consumes can never pass it together."""
    values: dict[str, Any] = {":amount": amount, ":tier": counter.tier}
    expression = "ADD used :amount SET tier = :tier"
    if counter.period_key != "total":
        expression += ", expires_at = if_not_exists(expires_at, :expires)"
        values[":expires"] = int((utc_now() + COUNTER_RETENTION).timestamp())
    where = dynamo.key(usage_pk(counter.tenant_id), counter_sk(counter.metric, counter.period_key))
    action: dict[str, Any] = {"TableName": _table(), "Key": where, "UpdateExpression": expression,
                              "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    if counter.limit is not None:
        action["ConditionExpression"] = "attribute_not_exists(used) OR used <= :room"
        values[":room"] = counter.limit - amount
    action["ExpressionAttributeValues"] = dynamo.to_item(values)
    return action


def _used(item: Mapping[str, Any] | None) -> int:
    return int(dynamo.from_item(item).get("used", 0)) if item else 0


def consume(counter: Counter, amount: int, idempotency_key: str | None = None) -> Consumed:
    """Record `amount` if the counter stays within its limit (OverLimit otherwise, nothing recorded).
    With an idempotency key, the key and the count are one transaction: a replay records nothing."""
    if counter.limit is not None and amount > counter.limit:
        raise OverLimit(current_values(counter.tenant_id, {counter.metric: counter.period_key})[counter.metric])
    if idempotency_key is None:
        return Consumed(_consume_alone(counter, amount), recorded=True)
    return _consume_once(counter, amount, idempotency_key)


def _consume_alone(counter: Counter, amount: int) -> int:
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            answer = dynamo.client().update_item(**_counter_update(counter, amount), ReturnValues="UPDATED_NEW")
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            # DynamoDB refuses a write to an item a keyed consume's transaction holds at that moment.
            if code == "TransactionConflictException" and attempt < CONFLICT_RETRIES:
                time.sleep(random.uniform(0, CONFLICT_BASE_DELAY_SECONDS * 2**attempt))  # noqa: S311 - jitter
                continue
            _raise_over_limit(error)
        return _used(answer.get("Attributes"))
    raise AssertionError("unreachable")


def _raise_over_limit(error: ClientError) -> NoReturn:
    if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
        raise error
    # The counter as the failed condition found it (ReturnValuesOnConditionCheckFailure): no second read.
    stored = error.response.get("Item")
    raise OverLimit(_used(stored if isinstance(stored, Mapping) else None)) from None


def _marker(counter: Counter, amount: int, idempotency_key: str) -> dict[str, Any]:
    # Hashed: the key is the caller's text, and a sort key has its own length limit.
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    values = {"pk": usage_pk(counter.tenant_id), "sk": f"KEY#{digest}", "metric": counter.metric,
              "period_key": counter.period_key, "amount": amount,
              "expires_at": int((utc_now() + IDEMPOTENCY_RETENTION).timestamp())}
    return {"TableName": _table(), "Item": dynamo.to_item(values), "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}


def _consume_once(counter: Counter, amount: int, idempotency_key: str) -> Consumed:
    request: dict[str, Any] = {"TransactItems": [{"Put": _marker(counter, amount, idempotency_key)},
                                                 {"Update": _counter_update(counter, amount)}]}
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            dynamo.client().transact_write_items(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or [{}, {}]
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                return _replayed(counter, amount, reasons[0].get("Item"))
            if reasons[1].get("Code") == "ConditionalCheckFailed":
                raise OverLimit(_used(reasons[1].get("Item"))) from None
            pause = random.uniform(0, CONFLICT_BASE_DELAY_SECONDS * 2**attempt)  # noqa: S311 - jitter
            if attempt == CONFLICT_RETRIES or deadline.remaining() < pause + 1:
                raise Conflict("The counter is busy; retry with the same idempotency_key") from None
            time.sleep(pause)
            continue
        return Consumed(current_values(counter.tenant_id, {counter.metric: counter.period_key})[counter.metric],
                        recorded=True)
    raise AssertionError("unreachable")


def _replayed(counter: Counter, amount: int, stored: Mapping[str, Any] | None) -> Consumed:
    first = dynamo.from_item(stored) if stored else {}
    if (first.get("metric"), first.get("amount")) != (counter.metric, amount):
        raise InvalidInput("This idempotency_key recorded other usage", {
            "idempotency_key": [f"already used for {first.get('amount')} {first.get('metric')}"]})
    key = str(first.get("period_key", counter.period_key))
    return Consumed(current_values(counter.tenant_id, {counter.metric: key})[counter.metric], recorded=False)
