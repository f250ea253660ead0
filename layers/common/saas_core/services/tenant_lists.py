"""What admins read about many tenants at once (seed 002): the list with its search,
filters and sorts, and the statistics. Both read the rows and counters
`tenant_index` keeps, never the tenants themselves, and never scan.

The list reads one facet, in the order of one sort:
- no filter, one filter, type and status together, or a one-word search: the
  facet is exactly the answer, so a page is one Query of per_page + 1 rows and
  the total one read of counters;
- any other combination: the facet of the most selective part (the search, or
  the filter with the fewest tenants), the rest as a filter on its rows. Such a
  page reads at most MAX_READ_FACTOR x per_page rows; it may come back short,
  with a next_cursor, and its total is null rather than counted by reading.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from saas_core import cursor
from saas_core.clock import utc_now
from saas_core.errors import InvalidInput
from saas_core.models.plans import PlanType
from saas_core.models.tenants import (
    ListedSubscriptionOut,
    PlanSubscriptionsOut,
    Subscription,
    TenantListItemOut,
    TenantPage,
    TenantSortField,
    TenantStatisticsOut,
    TenantStatus,
    trial_days_left,
)
from saas_core.repositories import dynamo, plans, tenant_index
from saas_core.repositories.tenant_index import RowFilter
from saas_core.services.tenant_views import subscribed_plan_out
from saas_core.settings import get_settings

MAX_READ_FACTOR = 10
SEARCH_MIN = tenant_index.SEARCH_PREFIX_MIN


@dataclass(frozen=True)
class TenantQuery:
    search: str | None = None
    type: PlanType | None = None
    status: TenantStatus | None = None
    plan_id: str | None = None
    has_subscription: bool | None = None
    sort_by: TenantSortField = TenantSortField.CREATED_AT
    descending: bool = True
    include_deleted: bool = False

    def identity(self) -> str:
        """What a cursor is bound to: a cursor of one query cannot read another."""
        return (f"tenants|{self.search_words}|{self.type}|{self.status}|{self.plan_id}|{self.has_subscription}|"
                f"{self.sort_by}|{self.descending}|{self.include_deleted}")

    @property
    def search_words(self) -> tuple[str, ...]:
        return tenant_index.query_words(self.search or "")


@dataclass(frozen=True)
class FacetRead:
    """Which facet to read, what to filter on its rows, and how the total is known."""

    facet: str
    row_filter: RowFilter | None
    total: int | None


@dataclass
class _Filters:
    expressions: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def equals(self, attribute: str, value: Any) -> None:
        number = len(self.expressions)
        self.expressions.append(f"#f{number} = :f{number}")
        self.names[f"#f{number}"] = attribute
        self.values[f":f{number}"] = value

    def word_start(self, word: str) -> None:
        # The row's `words` are space-led: " acme" matches the start of a word only.
        number = len(self.expressions)
        self.expressions.append(f"contains(#f{number}, :f{number})")
        self.names[f"#f{number}"] = "words"
        self.values[f":f{number}"] = f" {word}"

    def built(self) -> RowFilter | None:
        if not self.expressions:
            return None
        return RowFilter(" AND ".join(self.expressions), self.names, self.values)


def _single_filters(query: TenantQuery) -> list[tuple[str, str, str, Any]]:
    """(facet, counter, row attribute, value) of each filter given."""
    given: list[tuple[str, str, str, Any]] = []
    if query.type is not None:
        given.append((f"type={query.type.value}", f"type_{query.type.value}", "type", query.type.value))
    if query.status is not None:
        given.append((f"status={query.status.value}", f"status_{query.status.value}", "status", query.status.value))
    if query.plan_id is not None:
        given.append((f"plan={query.plan_id}", f"on_plan_{query.plan_id}", "plan_id", query.plan_id))
    if query.has_subscription is not None:
        flag = "true" if query.has_subscription else "false"
        counter = "with_active_subscription" if query.has_subscription else "without_active_subscription"
        given.append((f"has_subscription={flag}", counter, "has_active_subscription", query.has_subscription))
    return given


def _check_search(query: TenantQuery) -> None:
    """A search reads the facet of its longest word, which must be a prefix the index keeps."""
    if query.search is not None and max(map(len, query.search_words), default=0) < SEARCH_MIN:
        raise InvalidInput("The given data was invalid",
                           {"search": [f"needs a word of at least {SEARCH_MIN} characters"]})


def plan_read(query: TenantQuery, facet_read_before: str | None = None) -> FacetRead:
    """The facet to read for this query, its row filter and its total (None when not exact).
    `facet_read_before`: the facet the query's earlier pages read (a cursor names it), which a
    combination keeps so that counters moving between pages cannot move it to another facet."""
    _check_search(query)
    filters = _single_filters(query)
    words = query.search_words
    if query.include_deleted:
        return _everything(filters, words)
    if words:
        return _searched(filters, words)
    if len(filters) > 1 and facet_read_before in {facet for facet, _, _, _ in filters}:
        return FacetRead(facet_read_before, _all_of(filters), None)
    counters = _counters()
    if not filters:
        return FacetRead("all", None, counters["tenants"])
    if len(filters) == 1:
        facet, counter, _, _ = filters[0]
        return FacetRead(facet, None, _counted(counters, counter))
    if {name for _, _, name, _ in filters} == {"type", "status"}:
        kind, status = filters[0][3], filters[1][3]
        return FacetRead(f"type={kind}&status={status}", None, counters[f"type_status_{kind}_{status}"])
    # A combination: the smallest facet, every filter on its rows (its own one costs nothing).
    facet = min(filters, key=lambda given: _counted(counters, given[1]))[0]
    return FacetRead(facet, _all_of(filters), None)


def _all_of(filters: list[tuple[str, str, str, Any]]) -> RowFilter | None:
    rest = _Filters()
    for _, _, name, value in filters:
        rest.equals(name, value)
    return rest.built()


def _counted(counters: Counter[str], counter: str) -> int:
    if counter == "without_active_subscription":
        return counters["tenants"] - counters["with_active_subscription"]
    return counters[counter]


def _counters() -> Counter[str]:
    return tenant_index.read_counters(get_settings().tenants_table)


def _searched(filters: list[tuple[str, str, str, Any]], words: tuple[str, ...]) -> FacetRead:
    """The facet of the search's longest word's prefix; anything beyond it filters its rows."""
    key_word = max(words, key=len)
    prefix = key_word[:tenant_index.SEARCH_PREFIX_MAX]
    rest = _Filters()
    for word in words:
        if word != prefix:
            rest.word_start(word)
    for _, _, name, value in filters:
        rest.equals(name, value)
    row_filter = rest.built()
    if row_filter is not None:
        return FacetRead(f"q={prefix}", row_filter, None)
    return FacetRead(f"q={prefix}", None, tenant_index.search_total(get_settings().tenants_table, prefix))


def _everything(filters: list[tuple[str, str, str, Any]], words: tuple[str, ...]) -> FacetRead:
    """Deleted tenants too: the `everything` facet, filters and search on its rows."""
    rest = _Filters()
    for word in words:
        rest.word_start(word)
    for _, _, name, value in filters:
        rest.equals(name, value)
    row_filter = rest.built()
    if row_filter is not None:
        return FacetRead("everything", row_filter, None)
    counters = _counters()
    return FacetRead("everything", None, counters["tenants"] + counters["deleted"])


# ------------------------------------------------------------ the page

def list_tenants(query: TenantQuery, *, per_page: int, cursor_text: str | None) -> TenantPage:
    start, facet_read_before = _start_of(cursor_text, query) if cursor_text else (None, None)
    read = plan_read(query, facet_read_before)
    rows, next_key = _read_page(query, read, per_page, start)
    next_cursor = cursor.encode({**next_key, FACET_IN_CURSOR: read.facet}, query.identity()) if next_key else None
    return TenantPage(items=[_item(row) for row in rows], next_cursor=next_cursor, per_page=per_page,
                      total=read.total)


FACET_IN_CURSOR = "read"


def _start_of(cursor_text: str, query: TenantQuery) -> tuple[dict[str, str], str]:
    """Where the page starts and which facet the earlier pages read."""
    position = cursor.decode(cursor_text, query.identity())
    expected = {*tenant_index.key_names(query.sort_by.value), FACET_IN_CURSOR}
    if set(position) != expected or not all(isinstance(value, str) for value in position.values()):
        raise InvalidInput("Invalid cursor", {"cursor": ["is not a cursor issued for this query"]})
    facet = str(position.pop(FACET_IN_CURSOR))
    return {name: str(value) for name, value in position.items()}, facet


def _read_page(query: TenantQuery, read: FacetRead, per_page: int,
               start: dict[str, str] | None) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
    """per_page rows and where the next page starts. A filtered read asks for per_page + 1 rows,
    then twice as many each time, until it has a page or has read MAX_READ_FACTOR x per_page."""
    table = get_settings().tenants_table
    budget = per_page + 1 if read.row_filter is None else MAX_READ_FACTOR * per_page
    ask = per_page + 1
    found: list[dict[str, Any]] = []
    last_key: dict[str, str] | None = start
    while True:
        response = tenant_index.query_rows(
            table, read.facet, sort_by=query.sort_by.value, descending=query.descending,
            limit=min(ask, budget), start=last_key, row_filter=read.row_filter)
        budget -= int(response.get("ScannedCount", len(response.get("Items", []))))
        found += [dynamo.from_item(item) for item in response.get("Items", [])]
        evaluated = response.get("LastEvaluatedKey")
        last_key = {name: value["S"] for name, value in evaluated.items()} if evaluated else None
        if len(found) > per_page or last_key is None or budget <= 0:
            break
        ask *= 2
    if len(found) > per_page:
        page = found[:per_page]
        return page, {name: page[-1][name] for name in tenant_index.key_names(query.sort_by.value)}
    return found, last_key


def _item(row: dict[str, Any]) -> TenantListItemOut:
    stored = row.get("subscription")
    subscription = Subscription.model_validate(stored) if stored else None
    live = bool(row.get("has_active_subscription"))
    active = None
    if subscription is not None and live:
        active = ListedSubscriptionOut(id=subscription.id, plan=subscribed_plan_out(subscription.plan_id,
                                                                                    subscription.plan),
                                       status=subscription.status, billing_cycle=subscription.billing_cycle,
                                       trial_ends_at=subscription.trial_ends_at,
                                       current_period_end=subscription.current_period_end)
    return TenantListItemOut(
        id=row["tenant_id"], name=row["name"], email=row["email"], type=row["type"], status=row["status"],
        subdomain_preference=row.get("subdomain_preference"), plan_id=row["plan_id"],
        is_on_trial=live and subscription is not None and subscription.status == "trialing",
        trial_days_remaining=trial_days_left(subscription, utc_now()) if live else 0,
        billing_cycle=row["billing_cycle"], has_active_subscription=live, active_subscription=active,
        memberships_count=int(row.get("members_count", 0)), created_at=row["created_at"],
        deleted_at=row.get("deleted_at"))


# ------------------------------------------------------------ statistics

def statistics() -> TenantStatisticsOut:
    """Every figure from the counters (one read of the shards) and the plans' names from the
    catalog (one Query): two calls, however many tenants there are."""
    counters = _counters()
    catalog = plans.list_catalog()
    known = {plan.id for plan in catalog}
    by_plan = [PlanSubscriptionsOut(id=plan.id, name=plan.name, type=plan.type, tier=plan.tier,
                                    active_subscriptions=counters[f"plan_{plan.id}"]) for plan in catalog]
    by_plan += [PlanSubscriptionsOut(id=name.removeprefix("plan_"), name="(deleted plan)", type=None, tier="",
                                     active_subscriptions=count)
                for name, count in sorted(counters.items())
                if name.startswith("plan_") and name.removeprefix("plan_") not in known and count]
    return TenantStatisticsOut(
        total_tenants=counters["tenants"],
        by_type={kind.value: counters[f"type_{kind.value}"] for kind in PlanType},
        by_status={status.value: counters[f"status_{status.value}"] for status in TenantStatus},
        with_active_subscription=counters["with_active_subscription"], on_trial=counters["on_trial"],
        subscription_by_plan=by_plan, recent_signups=tenant_index.recent_signups(counters, utc_now()),
        deleted_tenants=counters["deleted"])
