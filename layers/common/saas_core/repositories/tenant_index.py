"""What the tenants table keeps beside each tenant so that lists, searches and
statistics read a page or a handful of items, never the table.

- Facet rows `FACET#<facet> / <created_at>#<id>`: one per filter value a tenant
  has (all, type=, status=, plan=, has_subscription=, type&status), per search
  prefix (`q=<prefix>`: every prefix of 2 to 5 characters of the first six words
  of its name, its email, the email's local part and domain, and its subdomain), and
  `everything` (deleted tenants too). Each row carries the list's summary and
  one sort key per sortable field, indexed by the facet_by_* GSIs, so any
  filter, search or sort is one Query of one facet.
- Statistics shards `STATS#<n> / TENANTS`: counters kept exact by the same
  transactions that change tenants, read by summing the shards.
- Search counts `FACETCOUNT#q=<prefix> / STATS#<n>`: how many live tenants each
  search prefix finds, sharded the same way, so a search's total is exact.

`writes(before, after)` is what one tenant change costs here: the facet rows
that differ and the counters' net change.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from saas_core.models.tenants import Tenant
from saas_core.repositories import dynamo

STATS_SHARDS = 8
STATS_SK = "TENANTS"
SEARCH_PREFIX_MIN = 2
# Each search word is indexed by its prefixes of 2 to 5 characters, for the first NAME_WORDS_MAX
# words of the name plus the subdomain, the email's local part and domain, and the email whole:
# at most 40 rows, so a create or a deletion (each row and its counter) stays under DynamoDB's 100
# actions per transaction. A longer search reads its 5-character prefix's rows, narrowed by words.
SEARCH_PREFIX_MAX = 5
NAME_WORDS_MAX = 6
RECENT_SIGNUP_DAYS = 30
SORT_FIELDS = ("name", "email", "status", "type")
_WORD = re.compile(r"[^\W_]+")  # letters (any script) and digits: "Müller Café O'Brien" is müller, café, o, brien
# Kept whole in a search: an email, its domain or a subdomain, which are indexed whole.
_WHOLE = re.compile(r"[^\s]*[@.\-][^\s]*")


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
    words = _WORD.findall(tenant.name.lower())[:NAME_WORDS_MAX]
    words += [tenant.subdomain_preference] if tenant.subdomain_preference else []
    words += [local, domain, tenant.email.lower()]
    return list(dict.fromkeys(word for word in words if word))


def query_words(search: str) -> tuple[str, ...]:
    """A search split as the index splits what it matches: name words at any other character,
    while an email, a domain or a subdomain (with @, . or -) stays whole."""
    words: list[str] = []
    for token in search.lower().split():
        words += [token] if _WHOLE.fullmatch(token) else _WORD.findall(token)
    return tuple(words)


def search_prefixes(words: Iterable[str]) -> list[str]:
    prefixes: list[str] = []
    for word in words:
        for length in range(SEARCH_PREFIX_MIN, min(len(word), SEARCH_PREFIX_MAX) + 1):
            if word[:length] not in prefixes:
                prefixes.append(word[:length])
    return prefixes


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
    """The counters a tenant adds one to while it is as it is now (a deleted tenant leaves the
    statistics, its signup included)."""
    if tenant.deleted_at is not None:
        return ["deleted"]
    names = ["tenants", f"type_{tenant.type.value}", f"status_{tenant.status.value}",
             f"type_status_{tenant.type.value}_{tenant.status.value}", f"on_plan_{tenant.plan_id}",
             signup_counter(tenant.created_at)]
    if tenant.has_active_subscription:
        names += ["with_active_subscription", f"plan_{tenant.plan_id}"]
    if tenant.subscription is not None and tenant.subscription.status == "trialing":
        names.append("on_trial")
    return names


def signup_counter(created_at: str) -> str:
    return f"signups_{created_at[:10]}"


def _stats_write(table: str, before: Tenant | None, after: Tenant) -> list[dynamo.Write]:
    delta: Counter[str] = Counter(counters_of(after))
    if before is not None:
        delta.subtract(counters_of(before))
    moved = {name: change for name, change in delta.items() if change}
    if not moved:
        return []
    names = {f"#c{i}": name for i, name in enumerate(moved)}
    values = {f":d{i}": change for i, change in enumerate(moved.values())}
    expression = "ADD " + ", ".join(f"#c{i} :d{i}" for i in range(len(moved)))
    return [dynamo.update(table, stats_shard(after.id), STATS_SK, expression, names=names, values=values)]


def _search_prefixes_of(tenant: Tenant | None) -> set[str]:
    if tenant is None or tenant.deleted_at is not None:
        return set()
    return set(search_prefixes(search_words(tenant)))


def search_count_pk(prefix: str) -> str:
    return f"FACETCOUNT#q={prefix}"


def _search_count_writes(table: str, before: Tenant | None, after: Tenant) -> list[dynamo.Write]:
    """How many live tenants each search prefix finds, so a search's total is exact: one counter
    per prefix per stats shard, moved only for prefixes the tenant gained or lost."""
    old, new = _search_prefixes_of(before), _search_prefixes_of(after)
    shard = stats_shard(after.id)
    return [dynamo.update(table, search_count_pk(prefix), shard, "ADD #n :d", names={"#n": "tenants"},
                          values={":d": 1 if prefix in new else -1})
            for prefix in sorted(old ^ new)]


def writes(table: str, before: Tenant | None, after: Tenant) -> list[dynamo.Write]:
    """The index rows and counters one tenant change moves (`before` None: a new tenant)."""
    return (_facet_writes(table, before, after) + _stats_write(table, before, after)
            + _search_count_writes(table, before, after))


def search_total(table: str, prefix: str) -> int:
    """Live tenants a search prefix finds: one Query of at most STATS_SHARDS counters."""
    response = dynamo.client().query(
        TableName=table, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": search_count_pk(prefix)}})
    return sum(int(dynamo.from_item(item).get("tenants", 0)) for item in response.get("Items", []))


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


# ------------------------------------------------------------ reading a facet

# Each sort reads one index: the table itself (created_at) or a facet_by_<field> GSI.
SORT_INDEXES: dict[str, tuple[str | None, str]] = {
    "created_at": (None, "sk"), "name": ("facet_by_name", "by_name"), "email": ("facet_by_email", "by_email"),
    "status": ("facet_by_status", "by_status"), "type": ("facet_by_type", "by_type"),
}


@dataclass(frozen=True)
class RowFilter:
    """A condition on facet rows beyond the facet itself, with exactly the names and values it uses."""

    expression: str
    names: dict[str, str]
    values: dict[str, Any]


def key_names(sort_by: str) -> tuple[str, ...]:
    """The attributes of a row's position in the index a sort reads (a cursor's content)."""
    index, sort_key = SORT_INDEXES[sort_by]
    return ("pk", "sk") if index is None else ("facet", sort_key, "pk", "sk")


def query_rows(table: str, facet: str, *, sort_by: str, descending: bool, limit: int,
               start: dict[str, str] | None, row_filter: RowFilter | None) -> dict[str, Any]:
    """One Query of one facet, in the order of one sort: at most `limit` rows read."""
    index = SORT_INDEXES[sort_by][0]
    partition = "pk" if index is None else "facet"
    request: dict[str, Any] = {
        "TableName": table, "KeyConditionExpression": "#part = :part", "Limit": limit,
        "ScanIndexForward": not descending, "ExpressionAttributeNames": {"#part": partition},
        "ExpressionAttributeValues": {":part": {"S": facet_pk(facet) if index is None else facet}},
    }
    if index is not None:
        request["IndexName"] = index
    if start is not None:
        request["ExclusiveStartKey"] = {name: {"S": value} for name, value in start.items()}
    if row_filter is not None:
        request["FilterExpression"] = row_filter.expression
        request["ExpressionAttributeNames"].update(row_filter.names)
        request["ExpressionAttributeValues"].update(dynamo.to_item(row_filter.values))
    return dict(dynamo.client().query(**request))
