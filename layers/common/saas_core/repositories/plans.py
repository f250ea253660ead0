"""The plans table.

- `PLAN#<id> / PLAN`: the plan; `catalog`="PLAN" and `catalog_order` put it
  on the `catalog` index, which lists the whole catalog in display order
  with one Query (plans number in the tens, never a scan).
- `PLAN#<id> / VERSION#<plan_version>`: the Stripe prices of each version,
  kept because subscribers stay on the version they bought.
- `PLAN#<id> / AUDIT#<at>#<id>`: every admin change, in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from saas_core.access import Principal
from saas_core.errors import AppError, BadRequest, Conflict, NotEligible, NotFound
from saas_core.models.plans import Plan
from saas_core.repositories import dynamo, holds
from saas_core.settings import get_settings

PLAN_SK = "PLAN"
CATALOG = "PLAN"
# Counters owned by other writers (tenant transactions); an edit never overwrites them.
_NOT_EDITABLE = frozenset({"id", "active_subscriptions", "created_at", "pending", "held", "held_until"})


def _table() -> str:
    return get_settings().plans_table


def plan_pk(plan_id: str) -> str:
    return f"PLAN#{plan_id}"


def _record(plan: Plan) -> dict[str, Any]:
    return plan.model_dump(mode="json")


def _item(plan: Plan) -> dict[str, Any]:
    return {
        "pk": plan_pk(plan.id),
        "sk": PLAN_SK,
        "catalog": CATALOG,
        "catalog_order": f"{plan.display_order:04d}#{plan.id}",
        **_record(plan),
    }


def _plan(item: dict[str, Any]) -> Plan:
    return Plan.model_validate(item, strict=False)


def get(plan_id: str) -> Plan | None:
    """The plan; None while it is still a reservation being created."""
    item = dynamo.get(_table(), plan_pk(plan_id), PLAN_SK)
    if item is None or item.get("kind") == "plan_reservation":
        return None
    return _plan(item)


def require(plan_id: str) -> Plan:
    plan = get(plan_id)
    if plan is None:
        raise NotFound("Plan not found")
    return plan


def list_catalog() -> list[Plan]:
    """The whole catalog, archived plans included, in display order."""
    items = dynamo.query_all(
        TableName=_table(), IndexName="catalog",
        # CATALOG is a DynamoDB reserved word: the key name must be a placeholder.
        KeyConditionExpression="#catalog = :catalog",
        ExpressionAttributeNames={"#catalog": "catalog"},
        ExpressionAttributeValues={":catalog": {"S": CATALOG}},
    )
    return [_plan(item) for item in items]


def _version_write(plan: Plan) -> dynamo.Write:
    return dynamo.put(_table(), {
        "pk": plan_pk(plan.id), "sk": f"VERSION#{plan.plan_version}", "kind": "plan_version",
        "plan_version": plan.plan_version, "currency": plan.currency,
        "price_monthly_minor": plan.price_monthly_minor, "price_annual_minor": plan.price_annual_minor,
        "stripe": {account: prices.model_dump() for account, prices in plan.stripe.items()},
        "created_at": plan.updated_at,
    })


# ----------------------------------------------------------- changes
#
# A change that touches Stripe holds the plan first (`pending` on the item:
# which change, of what kind, until when), so concurrent changes are refused
# with 409 before they touch Stripe, a tenant cannot subscribe to a plan being
# deleted, and a change that died midway is known to the next one, which
# repairs Stripe. A new plan is first written as a `pending` reservation,
# invisible to every read, until its Stripe objects exist.

# A held plan is on the `held_until` index under this partition (see holds.py).
HELD_PLAN = "plan_hold"
Pending = holds.Pending


class PlanReserved(Conflict):
    """The plan id is held by a create that has not finished."""


def expired_holds(now: datetime, limit: int) -> list[str]:
    """Ids of plans whose hold has expired: a change or a create that died midway."""
    return [pk.removeprefix("PLAN#") for pk in holds.expired(_table(), HELD_PLAN, now, limit)]


def pending_of(plan_id: str) -> Pending | None:
    return holds.pending_in(dynamo.get(_table(), plan_pk(plan_id), PLAN_SK))


def reserve(plan: Plan, change: str) -> None:
    """Hold a new plan's id while its Stripe objects are made."""
    dynamo.execute(dynamo.put(
        _table(), {"pk": plan_pk(plan.id), "sk": PLAN_SK, "kind": "plan_reservation",
                   **holds.index_attributes(holds.new_pending(change, "create"), HELD_PLAN)},
        condition="attribute_not_exists(pk)",
        on_condition_failed=PlanReserved(f"Plan {plan.id} is already being created")))


def take_over(plan_id: str, previous: Pending, change: str, kind: str) -> None:
    """A new change takes a hold whose own change stopped (it expired)."""
    dynamo.execute(holds.take_over(_table(), plan_pk(plan_id), PLAN_SK, previous, holds.new_pending(change, kind),
                                   Conflict("Another change to this plan started meanwhile; retry")))


def create(plan: Plan, actor: Principal, change: str) -> None:
    """Turn the reservation into the plan, with its first price version and audit."""
    condition, names, values = holds.same_change(change)
    dynamo.transact([
        dynamo.put(_table(), _item(plan), condition=condition, names=names, condition_values=values,
                   on_condition_failed=Conflict("Another request took over this plan's creation; retry")),
        _version_write(plan),
        dynamo.audit(_table(), plan_pk(plan.id), actor=actor, action="plan.created", before=None,
                     after=_record(plan)),
    ])


def drop_reservation(plan_id: str, change: str) -> None:
    condition, names, values = holds.same_change(change)
    dynamo.execute(dynamo.delete(_table(), plan_pk(plan_id), PLAN_SK, condition=condition, names=names,
                                 values=values, on_condition_failed=Conflict("The plan's creation was taken over")))


def hold(plan: Plan, change: str, kind: str, repair: list[str]) -> None:
    """Hold a plan for one change (update or delete) if nobody changed it since it was read and
    no other change holds it. A delete also needs no subscriber, and then no tenant can take one."""
    condition = f"version = :expected AND {holds.FREE}"
    values: dict[str, Any] = {":expected": plan.version}
    if kind == "delete":
        condition += " AND (attribute_not_exists(active_subscriptions) OR active_subscriptions = :zero)"
        values[":zero"] = 0
    try:
        dynamo.execute(holds.hold(_table(), plan_pk(plan.id), PLAN_SK, holds.new_pending(change, kind, repair),
                                  HELD_PLAN, condition=condition, values=values))
    except Conflict:
        raise _why_not_held(plan, kind) from None


def _why_not_held(plan: Plan, kind: str) -> AppError:
    current = get(plan.id)
    if current is None:
        return NotFound("Plan not found")
    if current.version != plan.version:
        return Conflict("The plan was changed meanwhile; reload and retry")
    if kind == "delete" and current.active_subscriptions:
        return BadRequest(f"Cannot delete plan with {current.active_subscriptions} active subscriptions")
    return Conflict("Another change to this plan is in progress; retry shortly")


def release_hold(plan_id: str, change: str) -> None:
    dynamo.execute(holds.release(_table(), plan_pk(plan_id), PLAN_SK, change, "plan"))


def save_edit(before: Plan, after: Plan, actor: Principal, *, new_version: bool, change: str | None) -> None:
    """Write an edited plan if nobody changed it since `before` was read (and, for a change
    that touched Stripe, while it still holds the plan)."""
    fields = {name: value for name, value in _item(after).items()
              if name not in _NOT_EDITABLE and name not in ("pk", "sk")}
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values: dict[str, Any] = {f":v{i}": value for i, value in enumerate(fields.values())}
    values[":expected"] = before.version
    expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
    condition = "attribute_exists(pk) AND version = :expected"
    if change is not None:
        held, held_names, held_values = holds.same_change(change)
        condition += f" AND {held}"
        expression += f" {holds.RELEASE}"
        names |= holds.RELEASE_NAMES | held_names
        values |= held_values
    writes = [
        dynamo.update(_table(), plan_pk(before.id), PLAN_SK, expression, names=names, values=values,
                      condition=condition,
                      on_condition_failed=Conflict("The plan was changed meanwhile; reload and retry")),
        dynamo.audit(_table(), plan_pk(before.id), actor=actor, action="plan.updated",
                     before=_record(before), after=_record(after)),
    ]
    if new_version:
        writes.append(_version_write(after))
    dynamo.transact(writes)


def delete(plan: Plan, actor: Principal, change: str) -> None:
    """Delete a plan this change holds (no tenant can have subscribed since the hold)."""
    condition, names, values = holds.same_change(change)
    dynamo.transact([
        dynamo.delete(_table(), plan_pk(plan.id), PLAN_SK, condition=condition, names=names, values=values,
                      on_condition_failed=Conflict("The plan's hold was taken over; retry")),
        dynamo.audit(_table(), plan_pk(plan.id), actor=actor, action="plan.deleted",
                     before=_record(plan), after=None),
    ])


# ------------------------------------------- places taken by tenants

def take_place(plan_id: str) -> dynamo.Write:
    """For a tenant transaction: one more subscriber, if the plan still takes new tenants:
    active, not archived, not being deleted. A delete that died keeps refusing them until
    its Stripe objects are repaired (its prices may still be archived)."""
    return dynamo.update(
        _table(), plan_pk(plan_id), PLAN_SK, "ADD active_subscriptions :one",
        names={"#pending": "pending", "#kind": "kind"},
        values={":one": 1, ":true": True, ":false": False, ":delete": "delete"},
        condition=("attribute_exists(catalog_order) AND is_active = :true AND is_archived = :false AND "
                   "(attribute_not_exists(#pending) OR #pending.#kind <> :delete)"),
        on_condition_failed=NotEligible("The plan no longer takes new tenants"))


def give_back_place(plan_id: str) -> dynamo.Write:
    return dynamo.update(_table(), plan_pk(plan_id), PLAN_SK, "ADD active_subscriptions :minus_one",
                         values={":minus_one": -1}, condition="attribute_exists(pk)",
                         on_condition_failed=NotFound("Plan not found"))
