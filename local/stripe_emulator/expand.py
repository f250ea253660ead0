"""`expand[]=latest_invoice`, `expand[]=items.data.price.product`,
`expand[]=data.customer` on lists: ids replaced by the objects they name."""

from __future__ import annotations

import copy
from typing import Any

from local.stripe_emulator.errors import invalid_parameter
from local.stripe_emulator.store import Account, StripeObject

MAX_DEPTH = 4
# Which table an id lives in, from its prefix.
KIND_BY_PREFIX = {
    "prod": "product", "price": "price", "cus": "customer", "sub": "subscription", "si": "subscription_item",
    "in": "invoice", "ii": "invoiceitem", "pm": "payment_method", "we": "webhook_endpoint", "evt": "event",
    "clock": "test_helpers.test_clock", "sub_sched": "subscription_schedule",
}
# Which table a field's id lives in, for ids a caller chose (a product made with `id=pln_pro`).
KIND_BY_FIELD = {"product": "product", "price": "price", "customer": "customer", "subscription": "subscription",
                 "invoice": "invoice", "latest_invoice": "invoice", "default_payment_method": "payment_method",
                 "test_clock": "test_helpers.test_clock", "schedule": "subscription_schedule"}


def expand(account: Account, obj: StripeObject, paths: list[str]) -> StripeObject:
    expanded = copy.deepcopy(obj)
    for path in paths:
        parts = path.split(".")
        if len([part for part in parts if part != "data"]) > MAX_DEPTH:
            raise invalid_parameter("expand", f"You cannot expand more than {MAX_DEPTH} levels of a property. "
                                              f"Property: {path}")
        _expand_path(account, expanded, parts, path)
    return expanded


def _expand_path(account: Account, node: Any, parts: list[str], path: str) -> None:
    if not parts:
        return
    if isinstance(node, list):
        for entry in node:
            _expand_path(account, entry, parts, path)
        return
    head, rest = parts[0], parts[1:]
    if not isinstance(node, dict) or head not in node:
        raise _not_expandable(path)
    value = node[head]
    if isinstance(value, str):
        node[head] = value = copy.deepcopy(_referenced(account, head, value, path))
    if value is not None:
        _expand_path(account, value, rest, path)


def _referenced(account: Account, field: str, object_id: str, path: str) -> StripeObject:
    # The prefix is what comes before the last "_" (`sub_sched_...` is not a `sub_...`).
    kind = KIND_BY_PREFIX.get(object_id.rpartition("_")[0]) or KIND_BY_FIELD.get(field)
    found = account.find(kind, object_id) if kind else None
    if found is None:
        raise _not_expandable(path)
    return found


def _not_expandable(path: str) -> Exception:
    return invalid_parameter("expand", f"This property cannot be expanded ({path}).")
