"""What the tenants table keeps beside each tenant so that lists, searches and
statistics read a page or a handful of items, never the table.

- Facet rows `FACET#<facet> / <created_at>#<id>`: one per filter value a tenant
  has (all, type=, status=, plan=, has_subscription=, type&status), per search
  prefix (`q=<prefix>`: every prefix of 2 to 10 characters of every word of its
  name, its email, the email's local part and domain, and its subdomain), and
  `everything` (deleted tenants too). Each row carries the list's summary and
  one sort key per sortable field, indexed by the facet_by_* GSIs, so any
  filter, search or sort is one Query of one facet.
- Statistics shards `STATS#<n> / TENANTS`: counters kept exact by the same
  transactions that change tenants, read by summing the shards.

`writes(before, after)` is what one tenant change costs here: the facet rows
that differ and the counters' net change.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from saas_core.models.tenants import Tenant
from saas_core.repositories import dynamo

STATS_SHARDS = 8
STATS_SK = "TENANTS"
SEARCH_PREFIX_MIN = 2
SEARCH_PREFIX_MAX = 10
# Bounds a rename's transaction (old rows out, new rows in) well under DynamoDB's 100 actions.
SEARCH_ROWS_MAX = 36
RECENT_SIGNUP_DAYS = 30
SORT_FIELDS = ("name", "email", "status", "type")
_WORD = re.compile(r"[a-z0-9]+")


# ------------------------------------------------------------ facets

def filter_facets(tenant: Tenant) -> list[str]:
    """The facets of a live tenant's filter values (one facet = one filter, or type and status)."""
    has_subscription = "true" if tenant.has_active_subscription else "false"
    return [
        "all",
        f"type={tenant.type.value}",
        f"status={tenant.status.value}",
        f"plan={tenant.plan_id}",
        f"has_subscription={has_subscription}",
        f"type={tenant.type.value}&status={tenant.status.value}",
    ]


def search_words(tenant: Tenant) -> list[str]:
    """What a search matches the start of: each word of the name, the email whole, its local
    part and domain, and the subdomain; lower case, most telling first."""
    local, _, domain = tenant.email.lower().partition("@")
    words = _WORD.findall(tenant.name.lower())
    words += [tenant.subdomain_preference] if tenant.subdomain_preference else []
    words += [local, domain, tenant.email.lower()]
    return list(dict.fromkeys(word for word in words if word))


def search_prefixes(words: Iterable[str]) -> list[str]:
    prefixes: list[str] = []
    for word in words:
        for length in range(SEARCH_PREFIX_MIN, min(len(word), SEARCH_PREFIX_MAX) + 1):
            if word[:length] not in prefixes:
                prefixes.append(word[:length])
    return prefixes[:SEARCH_ROWS_MAX]


def facets_of(tenant: Tenant) -> list[str]:
    if tenant.deleted_at is not None:
        return ["everything", "deleted"]
    return ["everything", *filter_facets(tenant), *(f"q={prefix}" for prefix in search_prefixes(search_words(tenant)))]


def summary(tenant: Tenant) -> dict[str, Any]:
    """What a list item shows, kept on each facet row."""
    subscription = tenant.subscription
    return {
        "tenant_id": tenant.id, "name": tenant.name, "email": tenant.email, "type": tenant.type.value,
        "status": tenant.status.value, "plan_id": tenant.plan_id, "billing_cycle": tenant.billing_cycle.value,
        "subdomain_preference": tenant.subdomain_preference, "created_at": tenant.created_at,
        "has_active_subscription": tenant.has_active_subscription, "members_count": tenant.members_count,
        "subscription": subscription.model_dump(mode="json") if subscription else None,
        "deleted_at": tenant.deleted_at,
        # Space-led words: a search longer than the longest prefix row narrows with contains(words, " term").
        "words": " " + " ".join(search_words(tenant)),
    }


def facet_pk(facet: str) -> str:
    return f"FACET#{facet}"


def row_sk(tenant: Tenant) -> str:
    return f"{tenant.created_at}#{tenant.id}"


def _rows(tenant: Tenant) -> dict[str, dict[str, Any]]:
    suffix = row_sk(tenant)
    shown = summary(tenant)
    sort_keys = {
        "by_name": f"{tenant.name.lower()}#{suffix}", "by_email": f"{tenant.email}#{suffix}",
        "by_status": f"{tenant.status.value}#{suffix}", "by_type": f"{tenant.type.value}#{suffix}",
    }
    return {facet: {"pk": facet_pk(facet), "sk": suffix, "facet": facet, "kind": "facet", **sort_keys, **shown}
            for facet in facets_of(tenant)}


def _facet_writes(table: str, before: Tenant | None, after: Tenant) -> list[dynamo.Write]:
    """Rows of facets the tenant left are deleted; new or changed rows are put; the rest stay."""
    old = _rows(before) if before is not None else {}
    new = _rows(after)
    gone = [dynamo.delete(table, row["pk"], row["sk"]) for facet, row in old.items() if facet not in new]
    changed = [dynamo.put(table, row) for facet, row in new.items() if old.get(facet) != row]
    return gone + changed


# ------------------------------------------------------------ statistics

def stats_shard(tenant_id: str) -> str:
    # Sharded so concurrent signups do not all contend on one item; readers sum the shards.
    shard = int(hashlib.sha256(tenant_id.encode()).hexdigest(), 16) % STATS_SHARDS
    return f"STATS#{shard}"


def counters_of(tenant: Tenant) -> list[str]:
    """The counters a tenant adds one to while it is as it is now."""
    if tenant.deleted_at is not None:
        return ["deleted"]
    names = ["tenants", f"type_{tenant.type.value}", f"status_{tenant.status.value}",
             f"type_status_{tenant.type.value}_{tenant.status.value}", f"on_plan_{tenant.plan_id}"]
    if tenant.has_active_subscription:
        names += ["with_active_subscription", f"plan_{tenant.plan_id}"]
    if tenant.subscription is not None and tenant.subscription.status == "trialing":
        names.append("on_trial")
    return names


def signup_counter(created_at: str) -> str:
    return f"signups_{created_at[:10]}"


def _stats_write(table: str, before: Tenant | None, after: Tenant) -> list[dynamo.Write]:
    delta: Counter[str] = Counter(counters_of(after))
    if before is None:
        delta[signup_counter(after.created_at)] += 1
    else:
        delta.subtract(counters_of(before))
    moved = {name: change for name, change in delta.items() if change}
    if not moved:
        return []
    names = {f"#c{i}": name for i, name in enumerate(moved)}
    values = {f":d{i}": change for i, change in enumerate(moved.values())}
    expression = "ADD " + ", ".join(f"#c{i} :d{i}" for i in range(len(moved)))
    return [dynamo.update(table, stats_shard(after.id), STATS_SK, expression, names=names, values=values)]


def writes(table: str, before: Tenant | None, after: Tenant) -> list[dynamo.Write]:
    """The index rows and counters one tenant change moves (`before` None: a new tenant)."""
    return _facet_writes(table, before, after) + _stats_write(table, before, after)


def read_counters(table: str) -> Counter[str]:
    """Every counter, summed over the shards: one BatchGetItem of STATS_SHARDS items."""
    keys = [dynamo.key(f"STATS#{shard}", STATS_SK) for shard in range(STATS_SHARDS)]
    totals: Counter[str] = Counter()
    request: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
    while request:
        response = dynamo.client().batch_get_item(RequestItems=request)
        for item in response.get("Responses", {}).get(table, []):
            for name, value in dynamo.from_item(item).items():
                if name not in ("pk", "sk") and isinstance(value, int):
                    totals[name] += value
        request = dict(response.get("UnprocessedKeys") or {})
    return totals


def recent_signups(counters: Counter[str], now: datetime) -> int:
    days = {signup_counter((now - timedelta(days=back)).date().isoformat()) for back in range(RECENT_SIGNUP_DAYS)}
    return sum(counters[name] for name in days)
