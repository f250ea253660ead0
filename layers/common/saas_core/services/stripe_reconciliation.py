"""The daily reconciliation: every tenant compared with Stripe, drift repaired, in slices.

A million tenants at a few Stripe requests each take hours under Stripe's rate
limit, longer than one invocation. So the day's run is one record keyed by the
day of the schedule (not the execution): each scheduled slice continues from the
run's saved cursor until its time is nearly up, paced to a request rate, and saves
the cursor with a condition on the one it started from, so two overlapping slices
never both advance it. A tenant that fails (Stripe down, a tenant held by an
admin's change) is counted and left for the next day or its next event.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from saas_core import deadline
from saas_core.clock import iso, utc_now
from saas_core.errors import AppError, Conflict
from saas_core.repositories import dynamo, tenant_index
from saas_core.services import stripe_sync
from saas_core.settings import get_settings

logger = Logger(child=True)

PAGE_SIZE = 25
# Requests one tenant's comparison takes at most in the usual case (customer, subscriptions, invoices).
REQUESTS_PER_TENANT = 3
# Left for saving progress when a slice stops for time.
SLICE_MARGIN_SECONDS = 20.0


@dataclass
class RunProgress:
    day: str
    cursor: dict[str, str] | None = None
    checked: int = 0
    repaired: int = 0
    failed: int = 0
    done: bool = False
    slices: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _run_key(day: str) -> tuple[str, str]:
    return f"RECONCILIATION#{day}", "RUN"


def _load(day: str) -> RunProgress:
    item = dynamo.get(get_settings().tenants_table, *_run_key(day))
    if item is None:
        return RunProgress(day=day)
    return RunProgress(day=day, cursor=item.get("cursor"), checked=int(item["checked"]),
                       repaired=int(item["repaired"]), failed=int(item["failed"]), done=bool(item["done"]),
                       slices=int(item["slices"]))


def _save(progress: RunProgress) -> None:
    """The run's progress, if no other slice saved since this one loaded it (`slices` is its version)."""
    pk, sk = _run_key(progress.day)
    first = progress.slices == 1
    dynamo.execute(dynamo.put(
        get_settings().tenants_table,
        {"pk": pk, "sk": sk, "kind": "reconciliation", "updated_at": iso(utc_now()), **progress.as_dict()},
        condition="attribute_not_exists(pk)" if first else "#slices = :previous",
        names=None if first else {"#slices": "slices"},
        condition_values=None if first else {":previous": progress.slices - 1},
        on_condition_failed=Conflict("Another slice advanced this run")))


def run_slice(scheduled_at: datetime) -> RunProgress:
    """Advance the run of `scheduled_at`'s day until done or nearly out of time."""
    progress = _load(scheduled_at.date().isoformat())
    if progress.done:
        return progress
    progress.slices += 1
    pause = REQUESTS_PER_TENANT / get_settings().stripe_reconcile_requests_per_second
    table = get_settings().tenants_table
    while deadline.remaining() > SLICE_MARGIN_SECONDS:
        page = tenant_index.query_rows(table, "everything", sort_by="created_at", descending=False,
                                       limit=PAGE_SIZE, start=progress.cursor, row_filter=None)
        for row in page.get("Items", []):
            _check(str(dynamo.from_item(row)["tenant_id"]), progress)
            time.sleep(pause)  # within Stripe's rate limit, whatever else is calling it
        last = page.get("LastEvaluatedKey")
        progress.cursor = {name: value["S"] for name, value in last.items()} if last else None
        if last is None:
            progress.done = True
            break
    try:
        _save(progress)
    except Conflict:
        logger.warning("another slice advanced the reconciliation run", extra={"day": progress.day})
    logger.info("reconciliation slice", extra=progress.as_dict())
    return progress


def _check(tenant_id: str, progress: RunProgress) -> None:
    progress.checked += 1
    try:
        comparison = stripe_sync.sync(tenant_id, reason=f"daily reconciliation {progress.day}")
    except AppError as failure:
        progress.failed += 1
        logger.warning("tenant not reconciled", extra={"tenant_id": tenant_id, "error": failure.message})
        return
    if comparison is not None and not comparison.in_step:
        progress.repaired += 1

