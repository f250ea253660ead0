"""The reservation sweeper: finishes what requests that died left behind.

A create or change that dies midway (the function killed, Stripe unreachable
for its undo) leaves a reservation or a hold naming what Stripe holds. A
retry of the same request resumes it; this sweeper, run on a schedule,
finishes the rest once they have expired: customers deleted and places on
plans given back, new products archived, plans' Stripe objects repaired,
tenant deletions finished and tenants' subscriptions put back as stored. It
reads only the `held_until` indexes, never a table, and stops before its
deadline; the next run goes on where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from saas_core import deadline
from saas_core.clock import utc_now
from saas_core.repositories import plans, tenants
from saas_core.services import plans_admin, tenant_changes, tenants_admin

logger = Logger(child=True)

PAGE = 25
# Clearing one takes a few Stripe calls: none starts without this much time left.
SECONDS_PER_CLEARING = 10.0


@dataclass
class SweepReport:
    cleared: int = 0
    left: int = 0  # still held: Stripe unreachable, or no time left in this run

    def as_dict(self) -> dict[str, int]:
        return {"cleared": self.cleared, "left": self.left}


def sweep() -> SweepReport:
    report = SweepReport()
    now = utc_now()
    _clear_each(tenants.expired_reservations(now, PAGE), tenants_admin.clear_abandoned, report)
    _clear_each(plans.expired_holds(now, PAGE), plans_admin.clear_abandoned, report)
    _clear_each(tenants.expired_holds(now, PAGE), tenant_changes.clear_abandoned, report)
    if report.cleared or report.left:
        logger.info("swept abandoned reservations", extra=report.as_dict())
    return report


def _clear_each(ids: list[str], clear: Callable[[str], bool], report: SweepReport) -> None:
    for held_id in ids:
        if deadline.remaining() < SECONDS_PER_CLEARING:
            report.left += 1
            continue
        try:
            cleared = clear(held_id)
        except Exception:
            # One that cannot be cleared must not stop the others; it is tried again next run.
            logger.exception("could not clear an abandoned reservation", extra={"id": held_id})
            cleared = False
        if cleared:
            report.cleared += 1
        else:
            report.left += 1
