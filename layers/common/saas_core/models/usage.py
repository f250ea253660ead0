"""Metering: usage recorded against a plan's limits, and the limit check (seed 003 §11)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from saas_core.models.common import MAX_COUNT, METRIC_PATTERN, StrictInput

MetricName = Annotated[str, StringConstraints(pattern=METRIC_PATTERN)]
# The product's own request ids, retries and the like: printable, no spaces.
IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,255}$")]


class UsageIn(StrictInput):
    metric: MetricName
    amount: int = Field(ge=1, le=MAX_COUNT)
    idempotency_key: IdempotencyKey | None = Field(
        default=None, description="The same key records once (kept two days); a replay answers recorded=false")


class UsageRecordedOut(BaseModel):
    metric: str
    amount: int
    recorded: bool = Field(description="false: this idempotency_key had recorded it already")
    current: int = Field(description="The counter of this period after the call")
    limit: int | None = Field(description="null means unlimited")
    period: str = Field(description="none, day or month (the billing period)")


class LimitCheckIn(StrictInput):
    limit_type: MetricName
    increment: int = Field(default=1, ge=0, le=MAX_COUNT)


class LimitCheckOut(BaseModel):
    """Seed 003 §11."""

    allowed: bool
    current: int
    limit: int | None
    after_increment: int
    would_exceed_by: int | None
