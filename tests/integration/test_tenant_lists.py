"""The admin's tenant list, statistics, subscription history and audit trail (seed 002),
over a population of tenants loaded through the repositories, checked against that
population computed here in Python."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from local.bulk_tenants import load_tenants
from saas_core.clock import parse_iso, utc_now
from saas_core.models.tenants import Tenant
from tests.support import ADMIN_API_KEY, invoke, token

POPULATION = 90


@pytest.fixture
def population(catalog: dict[str, Any]) -> list[Tenant]:
    return load_tenants(POPULATION)


def listed(query: dict[str, Any]) -> Any:
    reply = invoke("GET", "/v1/admin/tenants", query={k: str(v) for k, v in query.items()}, api_key=ADMIN_API_KEY)
    assert reply.status == 200, reply.body
    return reply.data


def every_page(query: dict[str, Any]) -> list[dict[str, Any]]:
    """All items of a query, following next_cursor; at most POPULATION pages."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(POPULATION + 1):
        page = listed({**query, **({"cursor": cursor} if cursor else {})})
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def newest_first(tenants: list[Tenant]) -> list[str]:
    return [tenant.id for tenant in sorted(tenants, key=lambda t: (t.created_at, t.id), reverse=True)]


def live(tenant: Tenant) -> bool:
    return tenant.has_active_subscription


# ------------------------------------------------------------ the list

def test_the_first_page_is_the_newest_tenants_with_an_exact_total(population: list[Tenant]) -> None:
    page = listed({"per_page": 20})
    assert page["total"] == POPULATION
    assert ids(page["items"]) == newest_first(population)[:20]
    assert page["next_cursor"]


def test_every_page_together_is_every_tenant_once(population: list[Tenant]) -> None:
    assert ids(every_page({"per_page": 7})) == newest_first(population)


@pytest.mark.parametrize(("query", "keeps"), [
    ({"type": "personal"}, lambda t: t.type.value == "personal"),
    ({"status": "suspended"}, lambda t: t.status.value == "suspended"),
    ({"plan_id": "pln_pro"}, lambda t: t.plan_id == "pln_pro"),
    ({"has_subscription": "true"}, live),
    ({"has_subscription": "false"}, lambda t: not live(t)),
    ({"type": "organization", "status": "active"}, lambda t: t.type.value == "organization"
     and t.status.value == "active"),
])
def test_a_single_filter_lists_exactly_its_tenants_with_an_exact_total(
        population: list[Tenant], query: dict[str, str], keeps: Callable[[Tenant], bool]) -> None:
    expected = [tenant for tenant in population if keeps(tenant)]
    assert expected, "the population has some of each"
    assert listed({**query, "per_page": 5})["total"] == len(expected)
    assert ids(every_page({**query, "per_page": 9})) == newest_first(expected)


def test_a_combination_is_exact_in_its_items_and_null_in_its_total(population: list[Tenant]) -> None:
    query = {"type": "organization", "has_subscription": "false", "plan_id": "pln_pro"}
    expected = [t for t in population if t.type.value == "organization" and not live(t) and t.plan_id == "pln_pro"]
    assert listed({**query, "per_page": 5})["total"] is None
    assert ids(every_page({**query, "per_page": 5})) == newest_first(expected)


@pytest.mark.parametrize(("sort_by", "key"), [
    ("name", lambda t: t.name.lower()), ("email", lambda t: t.email), ("status", lambda t: t.status.value),
    ("type", lambda t: t.type.value), ("created_at", lambda t: t.created_at),
])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_each_sort_orders_the_whole_list(population: list[Tenant], sort_by: str, key: Callable[[Tenant], str],
                                         order: str) -> None:
    got = every_page({"sort_by": sort_by, "sort_order": order, "per_page": 25})
    assert sorted(ids(got)) == sorted(t.id for t in population)
    by_id = {t.id: t for t in population}
    keys = [key(by_id[item["id"]]) for item in got]
    assert keys == sorted(keys, reverse=order == "desc")


def test_a_filter_combines_with_a_sort(population: list[Tenant]) -> None:
    got = every_page({"status": "active", "sort_by": "name", "sort_order": "asc", "per_page": 10})
    names = [item["name"].lower() for item in got]
    assert names == sorted(names)
    assert len(got) == sum(1 for t in population if t.status.value == "active")


# ------------------------------------------------------------ search

def searched(term: str, **more: Any) -> list[dict[str, Any]]:
    return every_page({"search": term, "per_page": 50, **more})


def test_any_word_of_the_name_finds_the_tenant(population: list[Tenant]) -> None:
    tenant = population[5]
    first, second, _ = tenant.name.split()
    assert tenant.id in ids(searched(first[:3].upper()))
    assert tenant.id in ids(searched(second.lower()))


def test_the_email_whole_its_local_part_or_domain_and_the_subdomain_find_the_tenant(
        population: list[Tenant]) -> None:
    tenant = next(t for t in population if t.subdomain_preference)
    local, domain = tenant.email.split("@")
    for term in (tenant.email, local, domain, tenant.subdomain_preference):
        assert tenant.id in ids(searched(str(term))), term


def test_a_search_lists_exactly_the_tenants_whose_words_start_with_it(population: list[Tenant]) -> None:
    from saas_core.repositories.tenant_index import search_words

    expected = [t for t in population if any(word.startswith("cedar") for word in search_words(t))]
    page = listed({"search": "Cedar", "per_page": 3})
    assert page["total"] == len(expected)
    assert ids(searched("cedar")) == newest_first(expected)


def test_a_search_longer_than_the_indexed_prefixes_still_matches_whole_words(population: list[Tenant]) -> None:
    tenant = population[0]
    assert ids(searched(tenant.email)) == [tenant.id]
    assert listed({"search": tenant.email})["total"] is None, "narrowed by a filter: not counted"


def test_the_largest_tenant_a_search_indexes_is_created_and_deleted_within_one_transaction(
        catalog: dict[str, Any]) -> None:
    body = {"name": "Alpha Bravo Charlie Delta Echo Foxtrot Golf Hotel", "type": "organization",
            "email": "someone.long@subdomain.example", "plan_id": "pln_pro", "billing_cycle": "monthly",
            "subdomain_preference": "zulu-yankee-xray"}
    created = invoke("POST", "/v1/admin/tenants", body=body, api_key=ADMIN_API_KEY)
    assert created.status == 201, created.body
    assert ids(searched("foxtr")) == [created.data["id"]]
    assert searched("golf") == [], "the seventh word of a name is not searched"
    assert invoke("DELETE", f"/v1/admin/tenants/{created.data['id']}", api_key=ADMIN_API_KEY).status == 200
    assert searched("foxtr") == []


def test_a_search_combines_with_filters(population: list[Tenant]) -> None:
    got = searched("owner", type="personal", status="active")
    expected = [t for t in population if t.type.value == "personal" and t.status.value == "active"]
    assert ids(got) == newest_first(expected)


@pytest.mark.parametrize("term", ["a", " ", "x y"])
def test_a_search_without_a_two_letter_word_is_refused(population: list[Tenant], term: str) -> None:
    reply = invoke("GET", "/v1/admin/tenants", query={"search": term}, api_key=ADMIN_API_KEY)
    assert reply.status == 422
    assert "search" in reply.body["errors"]


# ------------------------------------------------------------ cursors and deleted tenants

def test_a_cursor_of_one_query_is_refused_by_another_and_a_forged_one_too(population: list[Tenant]) -> None:
    cursor = listed({"type": "personal", "per_page": 5})["next_cursor"]
    for query in ({"type": "organization", "cursor": cursor}, {"cursor": cursor[:-2] + "xx"}):
        reply = invoke("GET", "/v1/admin/tenants", query=query, api_key=ADMIN_API_KEY)
        assert reply.status == 422
        assert reply.body["errors"] == {"cursor": ["is not a cursor issued for this query"]}


def test_a_deleted_tenant_leaves_the_list_unless_asked_for(catalog: dict[str, Any]) -> None:
    body = {"name": "Gone Corp", "email": "gone@gone.example", "type": "organization", "plan_id": "pln_pro",
            "billing_cycle": "monthly"}
    gone = invoke("POST", "/v1/admin/tenants", body=body, api_key=ADMIN_API_KEY).data
    assert invoke("DELETE", f"/v1/admin/tenants/{gone['id']}", api_key=ADMIN_API_KEY).status == 200
    assert gone["id"] not in ids(every_page({}))
    assert gone["id"] not in ids(searched("gone"))
    everything = listed({"include_deleted": "true"})
    assert [item["deleted_at"] is not None for item in everything["items"]] == [True]
    assert everything["total"] == 1


def test_list_items_carry_seed_002s_fields(catalog: dict[str, Any]) -> None:
    body = {"name": "Acme Corp", "email": "admin@acme.example", "type": "organization", "plan_id": "pln_business",
            "billing_cycle": "monthly", "subdomain_preference": "acme"}
    created = invoke("POST", "/v1/admin/tenants", body=body, api_key=ADMIN_API_KEY).data
    [item] = listed({"search": "corp"})["items"]
    assert item["id"] == created["id"]
    assert item["is_on_trial"] is True
    assert item["trial_days_remaining"] == 14
    assert item["has_active_subscription"] is True
    plan = item["active_subscription"]["plan"]
    assert (plan["name"], plan["tier"], plan["price_monthly"]) == ("Business", "business", 299.0)
    assert item["memberships_count"] == 1
    assert item["created_at"] == created["created_at"]


# ------------------------------------------------------------ statistics

def test_statistics_count_the_population(population: list[Tenant]) -> None:
    stats = invoke("GET", "/v1/admin/tenants/statistics", api_key=ADMIN_API_KEY).data
    assert stats["total_tenants"] == POPULATION
    assert stats["by_type"] == {kind: sum(1 for t in population if t.type.value == kind)
                                for kind in ("personal", "organization")}
    for status in ("active", "suspended", "inactive", "pending_verification"):
        assert stats["by_status"][status] == sum(1 for t in population if t.status.value == status)
    assert stats["with_active_subscription"] == sum(1 for t in population if live(t))
    assert stats["on_trial"] == sum(1 for t in population if t.is_on_trial)
    by_plan = {row["id"]: row for row in stats["subscription_by_plan"]}
    assert by_plan["pln_pro"]["active_subscriptions"] == sum(1 for t in population
                                                              if live(t) and t.plan_id == "pln_pro")
    assert (by_plan["pln_pro"]["name"], by_plan["pln_pro"]["type"], by_plan["pln_pro"]["tier"]) == (
        "Pro", "organization", "pro")
    month_ago = utc_now() - timedelta(days=30)
    assert stats["recent_signups"] == sum(1 for t in population if parse_iso(t.created_at) > month_ago)


def test_statistics_follow_changes_and_deletions(catalog: dict[str, Any]) -> None:
    body = {"name": "Acme Corp", "email": "admin@acme.example", "type": "organization", "plan_id": "pln_pro",
            "billing_cycle": "monthly"}
    tenant = invoke("POST", "/v1/admin/tenants", body=body, api_key=ADMIN_API_KEY).data

    def stats() -> Any:
        return invoke("GET", "/v1/admin/tenants/statistics", api_key=ADMIN_API_KEY).data

    assert (stats()["total_tenants"], stats()["on_trial"], stats()["recent_signups"]) == (1, 1, 1)
    invoke("PUT", f"/v1/admin/tenants/{tenant['id']}/status", body={"status": "suspended", "reason": "Fraud check"},
           api_key=ADMIN_API_KEY)
    assert stats()["by_status"]["suspended"] == 1
    invoke("DELETE", f"/v1/admin/tenants/{tenant['id']}", api_key=ADMIN_API_KEY)
    after = stats()
    assert (after["total_tenants"], after["on_trial"], after["recent_signups"], after["deleted_tenants"]) == (
        0, 0, 0, 1)
    assert after["by_status"]["suspended"] == 0


# ------------------------------------------------------------ history and audit

def test_the_history_is_newest_first_with_each_plan_as_it_was(catalog: dict[str, Any]) -> None:
    body = {"name": "Acme Corp", "email": "admin@acme.example", "type": "organization", "plan_id": "pln_pro",
            "billing_cycle": "monthly"}
    tenant = invoke("POST", "/v1/admin/tenants", body=body, api_key=ADMIN_API_KEY).data
    changed = invoke("PUT", f"/v1/admin/tenants/{tenant['id']}/subscription", api_key=ADMIN_API_KEY,
                     body={"plan_id": "pln_business", "billing_cycle": "monthly", "starts_immediately": True})
    assert changed.status == 200
    renamed = invoke("PUT", "/v1/admin/plans/pln_pro", body={"name": "Pro Classic"}, api_key=ADMIN_API_KEY)
    assert renamed.status == 200
    reply = invoke("GET", f"/v1/admin/tenants/{tenant['id']}/subscriptions", api_key=ADMIN_API_KEY)
    assert reply.status == 200
    history = reply.data["subscriptions"]
    assert [(row["plan"]["name"], row["status"]) for row in history] == [("Business", "trialing"),
                                                                         ("Pro", "canceled")]
    assert history[1]["canceled_at"] is not None
    assert (history[0]["plan"]["price_monthly"], history[1]["plan"]["price_monthly"]) == (299.0, 29.0)
    assert reply.data["tenant"]["id"] == tenant["id"]


def test_the_audit_trail_pages_every_change_newest_first(catalog: dict[str, Any]) -> None:
    body = {"name": "Acme Corp", "email": "admin@acme.example", "type": "organization", "plan_id": "pln_pro",
            "billing_cycle": "monthly"}
    tenant = invoke("POST", "/v1/admin/tenants", body=body, api_key=ADMIN_API_KEY).data
    path = f"/v1/admin/tenants/{tenant['id']}/status"
    admin = token("root@example.com", role="system_admin")
    for status in ("suspended", "active", "inactive"):
        reply = invoke("PUT", path, body={"status": status, "reason": f"to {status}"}, token=admin,
                       headers={"X-Amzn-Trace-Id": f"Root=1-00000000-{status:0>24}"[:45]})
        assert reply.status == 200
    first = invoke("GET", f"/v1/admin/tenants/{tenant['id']}/audit", query={"per_page": "2"},
                   api_key=ADMIN_API_KEY).data
    rest = invoke("GET", f"/v1/admin/tenants/{tenant['id']}/audit",
                  query={"per_page": "2", "cursor": first["next_cursor"]}, api_key=ADMIN_API_KEY).data
    entries = first["items"] + rest["items"]
    assert rest["next_cursor"] is None
    assert [entry["action"] for entry in entries] == ["tenant.status_changed"] * 3 + ["tenant.created"]
    assert [entry["after"]["status"] for entry in entries[:3]] == ["inactive", "active", "suspended"]
    assert entries[0]["reason"] == "to inactive"
    assert entries[0]["before"]["status"] == "active"
    assert entries[0]["actor"]["subject"] == "root@example.com"
    assert entries[0]["trace_id"]
    assert entries[3]["actor"] == {"subject": "api-key", "email": None, "via": "api_key"}


def test_history_and_audit_of_an_unknown_tenant_are_404(catalog: dict[str, Any]) -> None:
    for suffix in ("subscriptions", "audit"):
        reply = invoke("GET", f"/v1/admin/tenants/tnt_00000000000000000000/{suffix}", api_key=ADMIN_API_KEY)
        assert reply.status == 404


def test_names_with_accents_and_apostrophes_are_found_by_their_words(catalog: dict[str, Any]) -> None:
    body = {"name": "Müller Café O'Brien", "email": "hallo@muller.example", "type": "organization",
            "plan_id": "pln_pro", "billing_cycle": "monthly", "subdomain_preference": "muller-cafe"}
    created = invoke("POST", "/v1/admin/tenants", body=body, api_key=ADMIN_API_KEY).data
    for term in ("müller", "MÜLL", "café", "o'brien", "brien", "muller-cafe", "muller.example"):
        assert ids(searched(term)) == [created["id"]], term
    assert searched("ller") == [], "the middle of a word is no match"


def test_a_combinations_pages_keep_reading_the_facet_they_started_on(
        population: list[Tenant], monkeypatch: pytest.MonkeyPatch) -> None:
    from collections import Counter

    from saas_core.services import tenant_lists

    query = {"type": "organization", "has_subscription": "true", "per_page": "5"}
    first = listed(query)

    # Meanwhile the counters change so that the other filter's facet is now the smaller one.
    def reversed_sizes() -> Counter[str]:
        return Counter({"type_organization": 1, "with_active_subscription": 10_000, "tenants": 10_000})

    monkeypatch.setattr(tenant_lists, "_counters", reversed_sizes)
    rest = every_page({**query, "cursor": first["next_cursor"]})
    expected = [t for t in population if t.type.value == "organization" and live(t)]
    assert ids(first["items"] + rest) == newest_first(expected)
