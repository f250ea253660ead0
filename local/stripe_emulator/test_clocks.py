"""Stripe's test clocks: the only way time moves in the emulator.

A customer created with `test_clock` lives in that clock's time, and so do
its subscriptions, invoices, invoice items and events: a request about them
runs with the emulator's clock pinned at the clock's `frozen_time` (api.py,
`time_of`), and advancing the clock runs what falls due for its customers
only, earliest first, each step at its own moment (renewals.py). Customers
without a clock live in wall time.

Advancing is asynchronous, as on Stripe: the answer says `advancing` with the
old `frozen_time`, the work runs on a background thread a moment later, and
then the clock is `ready` at its new `frozen_time`, with
`test_helpers.test_clock.advancing` and `.ready` events. A test written for
Stripe test mode (advance, then retrieve until `status == "ready"`) runs
unchanged; one that reads right after advancing sees the old state, as it
may on Stripe. While a clock advances, requests that would change its
customers' objects are refused: on Stripe they race the advance.

Stripe's documented limits, enforced: `frozen_time` only moves forward; one
advance goes at most two intervals of the clock's shortest subscription
(two years when it has none); three customers per clock, three
subscriptions per customer on a clock (subscriptions.py); a clock deletes
itself, with everything its customers own, at `deletes_after`.
"""

from __future__ import annotations

import copy
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from local.stripe_emulator import renewals
from local.stripe_emulator.clock import DAY, add_intervals, add_months
from local.stripe_emulator.errors import StripeApiError, invalid_parameter, state_error
from local.stripe_emulator.listing import list_kind
from local.stripe_emulator.params import EXPAND, PAGINATION, Obj, Text, Timestamp
from local.stripe_emulator.store import Account, StripeObject
from local.stripe_emulator.subscriptions import ENDED, cycle_of, items_of

KIND = "test_helpers.test_clock"
MAX_CUSTOMERS = 3
LIFETIME = 7 * DAY
MAX_ADVANCE_WITHOUT_SUBSCRIPTIONS_MONTHS = 24
ADVANCE_INTERVALS = 2
# How long an advance stays `advancing` before its work runs (Stripe takes seconds).
ADVANCE_SECONDS = 0.1
# What a clock's customers own, forgotten with the clock.
_OWNED_BY_CUSTOMER = ("subscription", "subscription_schedule", "invoice", "invoiceitem", "payment_method")

TEST_CLOCK_CREATE = Obj({"frozen_time": Timestamp(), "name": Text(max_length=300), "customer": Text(),
                         "expand": EXPAND}, required=("frozen_time",))
TEST_CLOCK_ADVANCE = Obj({"frozen_time": Timestamp(), "expand": EXPAND}, required=("frozen_time",))
TEST_CLOCK_LIST = Obj({name: spec for name, spec in PAGINATION.items() if name != "created"})


# ------------------------------------------------------------ whose time


def find(account: Account, clock_id: str | None) -> StripeObject | None:
    return account.find(KIND, clock_id) if clock_id else None


def of_customer(account: Account, customer_id: str | None) -> StripeObject | None:
    """The test clock a customer lives on, if any."""
    customer = account.find("customer", customer_id) if customer_id else None
    return find(account, customer.get("test_clock")) if customer else None


@contextmanager
def time_of(account: Account, clock: StripeObject | None, *, writing: bool) -> Iterator[None]:
    """Run a request in `clock`'s time (None: wall time); a change waits until the clock is ready."""
    if clock is not None and writing and clock["status"] == "advancing":
        raise state_error(f"Test clock {clock['id']} is advancing: its objects cannot change until its status "
                          "is ready again.")
    with account.clock.pinned_at(clock["frozen_time"] if clock is not None else None):
        yield


def attachable(account: Account, clock_id: str, param: str) -> StripeObject:
    """The clock a new customer joins, if it has room for one more."""
    clock = account.get(KIND, clock_id, param=param, label="test clock")
    if len(customers_on(account, clock)) >= MAX_CUSTOMERS:
        raise invalid_parameter(param, f"Test clock {clock_id} already has the maximum of {MAX_CUSTOMERS} "
                                       "customers.")
    return clock


def customers_on(account: Account, clock: StripeObject) -> list[StripeObject]:
    return [customer for customer in account.table("customer").values()
            if not customer.get("deleted") and customer.get("test_clock") == clock["id"]]


def subscriptions_on(account: Account, clock: StripeObject) -> list[StripeObject]:
    return [subscription for subscription in account.table("subscription").values()
            if subscription["test_clock"] == clock["id"]]


# ------------------------------------------------------------- endpoints


def create_clock(account: Account, params: dict[str, Any]) -> StripeObject:
    _test_mode_only(account)
    customer = _customer_to_attach(account, params["customer"]) if "customer" in params else None
    created = account.now()
    clock = account.insert(account.new_object(
        "clock", KIND, deletes_after=created + LIFETIME, frozen_time=params["frozen_time"],
        name=params.get("name"), status="ready", status_details={}))
    account.emit("test_helpers.test_clock.created", clock)
    if customer is not None:
        before = copy.deepcopy(customer)
        customer["test_clock"] = clock["id"]
        account.emit_update("customer.updated", customer, before)
    return clock


def _customer_to_attach(account: Account, customer_id: str) -> StripeObject:
    customer = account.get("customer", customer_id, param="customer")
    if customer["test_clock"] is not None:
        raise invalid_parameter("customer", f"Customer {customer_id} is already attached to test clock "
                                            f"{customer['test_clock']}; customers can't be moved between clocks.")
    if any(subscription["customer"] == customer_id for subscription in account.table("subscription").values()):
        # Its subscriptions' periods were counted in wall time; moving them to another time is not emulated.
        raise invalid_parameter("customer", "The emulator attaches only customers without subscriptions to a "
                                            "test clock. Create the customer with `test_clock` instead.")
    return customer


def retrieve_clock(account: Account, clock_id: str) -> StripeObject:
    _test_mode_only(account)
    return account.get(KIND, clock_id, label="test clock")


def list_clocks(account: Account, params: dict[str, Any]) -> StripeObject:
    _test_mode_only(account)
    return list_kind(account, KIND, params, "/v1/test_helpers/test_clocks")


def delete_clock(account: Account, clock_id: str) -> StripeObject:
    """Deleting a clock deletes its customers and everything they own, as on Stripe."""
    _test_mode_only(account)
    clock = account.get(KIND, clock_id, label="test clock")
    for customer in customers_on(account, clock):
        _forget_customer(account, customer["id"])
    del account.table(KIND)[clock_id]
    account.emit("test_helpers.test_clock.deleted", clock)
    return {"id": clock_id, "object": KIND, "deleted": True}


def _forget_customer(account: Account, customer_id: str) -> None:
    for kind in _OWNED_BY_CUSTOMER:
        table = account.table(kind)
        for object_id in [object_id for object_id, obj in table.items() if obj.get("customer") == customer_id]:
            del table[object_id]
    del account.table("customer")[customer_id]


def delete_expired(account: Account) -> None:
    """Clocks whose `deletes_after` has passed in wall time go, as Stripe deletes them."""
    now = account.clock.wall_now()
    for clock in list(account.table(KIND).values()):
        if clock["deletes_after"] <= now:
            delete_clock(account, clock["id"])


# --------------------------------------------------------------- advance


def advance_clock(account: Account, clock_id: str, params: dict[str, Any]) -> StripeObject:
    _test_mode_only(account)
    clock = account.get(KIND, clock_id, label="test clock")
    target = int(params["frozen_time"])
    _check_advance(account, clock, target)
    clock.update(status="advancing", status_details={"advancing": {"target_frozen_time": target}})
    account.emit("test_helpers.test_clock.advancing", clock)
    account.run_later(ADVANCE_SECONDS, lambda: _finish_advance(account, clock, target))
    return clock


def _check_advance(account: Account, clock: StripeObject, target: int) -> None:
    if clock["status"] == "advancing":
        raise state_error(f"Test clock {clock['id']} is already advancing; wait until its status is ready.")
    if clock["status"] == "internal_failure":
        raise state_error(f"Test clock {clock['id']} failed to advance and cannot advance again.")
    if target <= clock["frozen_time"]:
        raise invalid_parameter("frozen_time", f"The frozen_time ({target}) must be after the test clock's "
                                               f"current frozen_time ({clock['frozen_time']}).")
    limit, reason = _advance_limit(account, clock)
    if target > limit:
        raise invalid_parameter("frozen_time", f"Cannot advance test clock {clock['id']} to {target}: {reason} "
                                               f"(at most {limit}).")


def _advance_limit(account: Account, clock: StripeObject) -> tuple[int, str]:
    """Two intervals of the clock's shortest running subscription, or two years without one."""
    frozen = clock["frozen_time"]
    cycles = [cycle_of(items_of(subscription)[0]["price"]) for subscription in subscriptions_on(account, clock)
              if subscription["status"] not in ENDED]
    if not cycles:
        return (add_months(frozen, MAX_ADVANCE_WITHOUT_SUBSCRIPTIONS_MONTHS),
                "without subscriptions a test clock advances at most two years at a time")
    limit = min(add_intervals(frozen, interval, ADVANCE_INTERVALS * count) for interval, count in cycles)
    return limit, "a test clock advances at most two intervals of its shortest subscription at a time"


def _finish_advance(account: Account, clock: StripeObject, target: int) -> None:
    """The background half of an advance (under the state lock): run what fell due, then be ready."""
    if account.retired or account.find(KIND, clock["id"]) is not clock or clock["status"] != "advancing":
        return  # reset or deleted meanwhile
    try:
        renewals.run_due(account, subscriptions_on(account, clock), until=target, not_before=clock["frozen_time"])
    except (StripeApiError, LookupError, TypeError, ValueError):
        traceback.print_exc(file=sys.stderr)
        clock.update(status="internal_failure", status_details={})
        account.emit("test_helpers.test_clock.internal_failure", clock)
        return
    clock.update(frozen_time=target, status="ready", status_details={})
    account.emit("test_helpers.test_clock.ready", clock)


def _test_mode_only(account: Account) -> None:
    if account.livemode:
        raise StripeApiError(400, "Test helpers are only available in test mode: use a sk_test_ key.")
