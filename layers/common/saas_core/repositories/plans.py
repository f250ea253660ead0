"""The plans table.

- `PLAN#<id> / PLAN`: the plan; `catalog`="PLAN" and `catalog_order` put it
  on the `catalog` index, which lists the whole catalog in display order
  with one Query (plans number in the tens, never a scan).
- `PLAN#<id> / VERSION#<plan_version>`: the Stripe prices of each version,
  kept because subscribers stay on the version they bought.
- `PLAN#<id> / AUDIT#<at>#<id>`: every admin change, in the same transaction.
"""

from __future__ import annotations

from typing import Any

from saas_core.access import Principal
from saas_core.errors import BadRequest, Conflict, NotFound
from saas_core.models.plans import Plan
from saas_core.repositories import dynamo
from saas_core.settings import get_settings

PLAN_SK = "PLAN"
CATALOG = "PLAN"
# Counters owned by other writers (tenant transactions); an edit never overwrites them.
_NOT_EDITABLE = frozenset({"id", "active_subscriptions", "created_at"})


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
    item = dynamo.get(_table(), plan_pk(plan_id), PLAN_SK)
    return _plan(item) if item else None


def require(plan_id: str) -> Plan:
    plan = get(plan_id)
    if plan is None:
        raise NotFound("Plan not found")
    return plan


def list_catalog() -> list[Plan]:
    """The whole catalog, archived plans included, in display order."""
    items = dynamo.query_all(
        TableName=_table(), IndexName="catalog",
        KeyConditionExpression="catalog = :catalog",
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


def create(plan: Plan, actor: Principal) -> None:
    dynamo.transact([
        dynamo.put(_table(), _item(plan), condition="attribute_not_exists(pk)",
                   on_condition_failed=Conflict(f"Plan {plan.id} already exists")),
        _version_write(plan),
        dynamo.audit(_table(), plan_pk(plan.id), actor=actor, action="plan.created", before=None,
                     after=_record(plan)),
    ])


def save_edit(before: Plan, after: Plan, actor: Principal, *, new_version: bool) -> None:
    """Write an edited plan if nobody changed it since `before` was read."""
    fields = {name: value for name, value in _item(after).items()
              if name not in _NOT_EDITABLE and name not in ("pk", "sk")}
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":v{i}": value for i, value in enumerate(fields.values())}
    values[":expected"] = before.version
    expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
    writes = [
        dynamo.update(_table(), plan_pk(before.id), PLAN_SK, expression, names=names, values=values,
                      condition="attribute_exists(pk) AND version = :expected",
                      on_condition_failed=Conflict("The plan was changed meanwhile; reload and retry")),
        dynamo.audit(_table(), plan_pk(before.id), actor=actor, action="plan.updated",
                     before=_record(before), after=_record(after)),
    ]
    if new_version:
        writes.append(_version_write(after))
    dynamo.transact(writes)


def delete(plan: Plan, actor: Principal) -> None:
    """Delete unless a subscription appeared meanwhile (the counter is checked in the write)."""
    try:
        dynamo.transact([
            dynamo.delete(_table(), plan_pk(plan.id), PLAN_SK,
                          condition="attribute_exists(pk) AND (attribute_not_exists(active_subscriptions) "
                                    "OR active_subscriptions = :zero)",
                          values={":zero": 0},
                          on_condition_failed=Conflict("The plan changed meanwhile")),
            dynamo.audit(_table(), plan_pk(plan.id), actor=actor, action="plan.deleted",
                         before=_record(plan), after=None),
        ])
    except Conflict:
        current = get(plan.id)
        if current is None:
            raise NotFound("Plan not found") from None
        if current.active_subscriptions:
            raise BadRequest(
                f"Cannot delete plan with {current.active_subscriptions} active subscriptions") from None
        raise


def count_subscription(plan_id: str, delta: int) -> dynamo.Write:
    """For a tenant transaction: one more (or fewer) live subscription on the plan."""
    return dynamo.update(_table(), plan_pk(plan_id), PLAN_SK, "ADD active_subscriptions :delta",
                         values={":delta": delta}, condition="attribute_exists(pk)",
                         on_condition_failed=NotFound("Plan not found"))
