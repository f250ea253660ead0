"""Holds: a record held by one change that touches Stripe, from before its first Stripe
call until the write that commits it (which releases the hold in the same write).

While a change holds a record, another change is refused (409) before it touches
Stripe. A hold expires after HOLD_SECONDS, longer than any invocation: an expired
hold is a change that died midway. It names that change, and what earlier dead
changes still need repairing, so the next holder (or the reservation sweeper,
which reads expired holds from the `held_until` index) repairs Stripe first.

On the item: `pending` {change, kind, expires_at, repair}, and `held` (the index
partition: what kind of record) with `held_until` (its expiry) for the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from saas_core.clock import iso, parse_iso, utc_now
from saas_core.errors import AppError, Conflict
from saas_core.repositories import dynamo

HOLD_SECONDS = 120
# DynamoDB refuses names an expression does not use: each clause comes with exactly its own.
RELEASE = "REMOVE #pending, #held, #until"
RELEASE_NAMES = {"#pending": "pending", "#held": "held", "#until": "held_until"}
FREE = "(attribute_not_exists(#pending) OR #pending.#expires < :now)"
FREE_NAMES = {"#pending": "pending", "#expires": "expires_at"}


@dataclass(frozen=True)
class Pending:
    change: str
    kind: str
    expires_at: str
    # Earlier changes that died before Stripe was put right: the holder repairs them first.
    repair: tuple[str, ...] = ()

    def in_progress(self, now: datetime) -> bool:
        return parse_iso(self.expires_at) > now

    def left_to_repair(self) -> list[str]:
        """What the next holder inherits when this hold was left behind."""
        return [*self.repair, self.change]


def new_pending(change: str, kind: str, repair: list[str] | None = None) -> dict[str, Any]:
    return {"change": change, "kind": kind, "expires_at": iso(utc_now() + timedelta(seconds=HOLD_SECONDS)),
            "repair": list(repair or [])}


def pending_in(item: dict[str, Any] | None) -> Pending | None:
    held = (item or {}).get("pending")
    if not isinstance(held, dict):
        return None
    return Pending(change=held["change"], kind=held["kind"], expires_at=held["expires_at"],
                   repair=tuple(held.get("repair") or ()))


def index_attributes(pending: dict[str, Any], partition: str) -> dict[str, Any]:
    """The attributes that put a held record on the `held_until` index."""
    return {"pending": pending, "held": partition, "held_until": pending["expires_at"]}


def hold(table: str, pk: str, sk: str, pending: dict[str, Any], partition: str, *, condition: str,
         values: dict[str, Any], names: dict[str, str] | None = None,
         on_condition_failed: AppError | None = None) -> dynamo.Write:
    """Set the hold if `condition` holds (it should include FREE, with `:now` given here)."""
    return dynamo.update(table, pk, sk, "SET #pending = :held, #held = :partition, #until = :until",
                         names={**RELEASE_NAMES, **FREE_NAMES, **(names or {})},
                         values={**values, ":held": pending, ":partition": partition, ":until": pending["expires_at"],
                                 ":now": iso(utc_now())},
                         condition=condition, on_condition_failed=on_condition_failed)


def same_change(change: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A condition that this change still holds the record, with its names and values."""
    return "#pending.#change = :change", {"#pending": "pending", "#change": "change"}, {":change": change}


def take_over(table: str, pk: str, sk: str, previous: Pending, pending: dict[str, Any],
              on_condition_failed: AppError) -> dynamo.Write:
    """A new change takes a hold whose own change stopped (it expired, or it failed)."""
    return dynamo.update(table, pk, sk, "SET #pending = :new, #until = :until",
                         names={"#pending": "pending", "#change": "change", "#until": "held_until"},
                         values={":new": pending, ":previous": previous.change, ":until": pending["expires_at"]},
                         condition="#pending.#change = :previous", on_condition_failed=on_condition_failed)


def release(table: str, pk: str, sk: str, change: str, what: str) -> dynamo.Write:
    condition, names, values = same_change(change)
    return dynamo.update(table, pk, sk, RELEASE, names={**names, **RELEASE_NAMES},
                         values=values, condition=condition,
                         on_condition_failed=Conflict(f"The {what}'s hold was taken over"))


def expired(table: str, partition: str, now: datetime, limit: int) -> list[str]:
    """The partition keys of held records of one kind whose hold has expired."""
    response = dynamo.client().query(
        TableName=table, IndexName="held_until", Limit=limit,
        KeyConditionExpression="#held = :partition AND #until < :now",
        ExpressionAttributeNames={"#held": "held", "#until": "held_until"},
        ExpressionAttributeValues={":partition": {"S": partition}, ":now": {"S": iso(now)}},
    )
    return [str(dynamo.from_item(item)["pk"]) for item in response.get("Items", [])]
