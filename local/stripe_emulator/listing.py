"""List endpoints: newest first, `limit`, `starting_after`/`ending_before`
cursors and `created` bounds, answered as Stripe's list object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local.stripe_emulator.errors import no_such
from local.stripe_emulator.store import Account, StripeObject

DEFAULT_LIMIT = 10
Keep = Callable[[StripeObject], bool]


def list_object(data: list[StripeObject], url: str, *, has_more: bool = False) -> StripeObject:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def within(bounds: dict[str, int], value: int) -> bool:
    return (("gt" not in bounds or value > bounds["gt"]) and ("gte" not in bounds or value >= bounds["gte"])
            and ("lt" not in bounds or value < bounds["lt"]) and ("lte" not in bounds or value <= bounds["lte"]))


def paginate(rows: list[StripeObject], params: dict[str, Any], url: str, label: str = "object") -> StripeObject:
    """One page of `rows` (already newest first), with Stripe's cursor rules."""
    limit = params.get("limit", DEFAULT_LIMIT)
    if "starting_after" in params:
        after = _position(rows, params["starting_after"], "starting_after", label)
        page = rows[after + 1:after + 1 + limit]
        return list_object(page, url, has_more=len(rows) > after + 1 + limit)
    if "ending_before" in params:
        before = _position(rows, params["ending_before"], "ending_before", label)
        start = max(0, before - limit)
        return list_object(rows[start:before], url, has_more=start > 0)
    return list_object(rows[:limit], url, has_more=len(rows) > limit)


def _position(rows: list[StripeObject], object_id: str, param: str, label: str) -> int:
    for index, row in enumerate(rows):
        if row["id"] == object_id:
            return index
    raise no_such(label, object_id, param)


def list_kind(account: Account, kind: str, params: dict[str, Any], url: str, keep: Keep | None = None, *,
              created_field: str = "created") -> StripeObject:
    """List an account's objects of one kind, filtered by `keep` and by `created`
    (which some kinds, invoice items, keep in another field).

    The cursor object stays in the rows whether or not it passes the filters:
    it only marks a position, and the page never includes it.
    """
    created = params.get("created")
    everything = [obj for obj in account.newest_first(kind) if not obj.get("deleted")]
    cursor = params.get("starting_after") or params.get("ending_before")
    rows = [obj for obj in everything if obj["id"] == cursor or (
        (keep is None or keep(obj)) and (created is None or within(created, obj[created_field])))]
    return paginate(rows, params, url, label=kind.replace("_", " "))


def equals(params: dict[str, Any], obj: StripeObject, *names: str) -> bool:
    """Every named filter that was given matches the object's field exactly."""
    return all(name not in params or obj.get(name) == params[name] for name in names)
