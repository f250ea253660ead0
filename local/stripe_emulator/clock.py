"""The emulator's time (wall time, or a test clock's moment), and Stripe's calendar
arithmetic for billing periods."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

DAY = 86400
WEEK = 7 * DAY


class Clock:
    """Wall time, except while something is pinned.

    Time moves only through Stripe's test clocks (test_clocks.py): a request
    about a customer on a test clock, and the work an advance runs, happen
    with `now()` pinned at that clock's moment, so invoices and events carry
    the times they would have on Stripe. Everything else lives in wall time.
    """

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._pinned: int | None = None

    def now(self) -> int:
        return self.wall_now() if self._pinned is None else self._pinned

    def wall_now(self) -> int:
        return int(self._wall())

    def reset(self) -> None:
        self._pinned = None

    @contextmanager
    def pinned_at(self, moment: int | None) -> Iterator[None]:
        """`now()` answers `moment` inside (None: leave the time as it is)."""
        outer = self._pinned
        if moment is not None:
            self._pinned = moment
        try:
            yield
        finally:
            self._pinned = outer


def add_months(moment: int, months: int) -> int:
    """Same day and time `months` later, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    start = datetime.fromtimestamp(moment, UTC)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def add_intervals(anchor: int, interval: str, count: int) -> int:
    if interval == "day":
        return anchor + count * DAY
    if interval == "week":
        return anchor + count * WEEK
    return add_months(anchor, count * (12 if interval == "year" else 1))


def next_period_end(anchor: int, interval: str, interval_count: int, after: int) -> int:
    """The first billing date after `after` on the cycle anchored at `anchor`.

    Counted from the anchor each time rather than from the previous period's
    end, so a cycle anchored on the 31st bills on Feb 28 and then Mar 31, as
    Stripe's billing_cycle_anchor does.
    """
    if anchor > after:
        return anchor  # a cycle anchored in the future: the first period ends at the anchor
    periods = 1
    while (end := add_intervals(anchor, interval, periods * interval_count)) <= after:
        periods += 1
    return end
