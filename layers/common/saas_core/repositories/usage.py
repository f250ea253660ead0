"""The usage table: one counter item per tenant, metric and period.

`TENANT#<id> / <metric>#<period key>` with period keys `total` (counts such as
workflows), `D<yyyy-mm-dd>` (per UTC day) and `P<period start>` (per billing
period). A new day or period is a new item, so it starts at zero without a
reset touching anything; `expires_at` lets TTL remove the old ones. An
increment is one conditional update, so concurrent calls can never pass a
limit (the metering routes build on this).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from saas_core.models.plans import LimitPeriod
from saas_core.repositories import dynamo
from saas_core.settings import get_settings


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
