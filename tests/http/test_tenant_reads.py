"""Seed 002's tenant reads over HTTP on the local stack (`make dev`): the admin list
(search by word starts, filters, sorts, signed cursors, exact or null totals), the
statistics, the subscription history and the audit trail. The stack is shared by
the session and seeded with demo tenants, so every tenant and plan made here has
unique words in its name, email and subdomain, each test looks only at what it
made (or compares statistics before and after), and nothing waits on a clock."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.http.conftest import HttpReply, Stack, request

PRO = "pln_pro"  # organization, 14-day trial (its price is changed by the README examples)


# ------------------------------------------------------------ helpers

def admin(stack: Stack) -> dict[str, str]:
    return {"X-Api-Key": stack.info["admin_api_key"]}


def admin_jwt(stack: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.info['admin_token']}"}


def word() -> str:
    """A word no other tenant of the session has: a letter, then hex (search words are [a-z0-9])."""
    return "w" + uuid.uuid4().hex[:11]


def create_tenant(stack: Stack, *, name: str | None = None, email: str | None = None, subdomain: str | None = None,
                  plan_id: str = PRO, tenant_type: str = "organization") -> dict[str, Any]:
    tag = word()
    body = {"name": name or f"Reads {tag}", "email": email or f"billing@{tag}.example", "type": tenant_type,
            "plan_id": plan_id, "billing_cycle": "monthly", "subdomain_preference": subdomain or tag,
            "owner_user_id": f"user-{tag}"}
    reply = request("POST", f"{stack.url}/v1/admin/tenants", body=body, headers=admin(stack))
    assert reply.status == 201, reply.body
    return dict(reply.data)


def create_plan(stack: Stack, plan_type: str, price_monthly: int) -> dict[str, Any]:
    """A plan with no trial, made for one test or module."""
    tag = word()
    body = {"name": f"Plan {tag}", "type": plan_type, "tier": f"tier-{tag}", "price_monthly": price_monthly,
            "price_annual": price_monthly * 10}
    reply = request("POST", f"{stack.url}/v1/admin/plans", body=body, headers=admin(stack))
    assert reply.status == 201, reply.body
    return dict(reply.data)


def listing(stack: Stack, **query: Any) -> HttpReply:
    return request("GET", f"{stack.url}/v1/admin/tenants?{urlencode(query)}", headers=admin(stack))


def listed(stack: Stack, **query: Any) -> dict[str, Any]:
    reply = listing(stack, **query)
    assert reply.status == 200, reply.body
    return dict(reply.data)


def every_page(stack: Stack, **query: Any) -> list[list[dict[str, Any]]]:
    """The pages of a query, following next_cursor to the end (at most 1000 pages)."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    for _ in range(1000):
        page = listed(stack, **query, **({"cursor": cursor} if cursor else {}))
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the cursor never ended")


def found(stack: Stack, search: str) -> list[str]:
    """The ids a search lists, every page."""
    return [item["id"] for page in every_page(stack, search=search, per_page=100) for item in page]


def statistics(stack: Stack) -> dict[str, Any]:
    reply = request("GET", f"{stack.url}/v1/admin/tenants/statistics", headers=admin(stack))
    assert reply.status == 200, reply.body
    return dict(reply.data)


def set_status(stack: Stack, tenant_id: str, body: dict[str, Any], headers: dict[str, str]) -> HttpReply:
    reply = request("PUT", f"{stack.url}/v1/admin/tenants/{tenant_id}/status", body=body, headers=headers)
    assert reply.status == 200, reply.body
    return reply


def tampered(cursor: str) -> str:
    """The cursor with its last character changed."""
    return cursor[:-1] + ("A" if cursor[-1] != "A" else "B")


def audit(stack: Stack, tenant_id: str, **query: Any) -> HttpReply:
    return request("GET", f"{stack.url}/v1/admin/tenants/{tenant_id}/audit?{urlencode(query)}", headers=admin(stack))


# Out of order and in mixed case: the name sort is case-insensitive.
SUFFIXES = ["Delta", "alpha", "Echo", "bravo", "Charlie"]


@pytest.fixture(scope="module")
def plan_tenants(stack: Stack) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A personal plan of this module's own and five tenants on it, named `<word> <suffix>`."""
    plan = create_plan(stack, "personal", 15)
    tag = word()
    tenants = [create_tenant(stack, name=f"{tag} {suffix}", plan_id=plan["id"], tenant_type="personal")
               for suffix in SUFFIXES]
    return plan, tenants


def by_name(tenants: list[dict[str, Any]]) -> list[str]:
    return [tenant["id"] for tenant in sorted(tenants, key=lambda tenant: tenant["name"].lower())]


# ------------------------------------------------------------ search

def test_a_new_tenant_is_found_by_a_word_of_its_name_its_email_and_domain_and_its_subdomain(stack: Stack) -> None:
    name_word, local, domain_word, subdomain = word(), word(), word(), f"{word()}-hq"
    domain = f"{domain_word}-books.example"
    tenant = create_tenant(stack, name=f"Northwind {name_word} Traders", email=f"{local}@{domain}",
                           subdomain=subdomain)
    for term in (name_word, name_word.upper(), domain, local, f"{local}@{domain}", subdomain):
        assert found(stack, term) == [tenant["id"]], term
    # More words narrow: each must start a word of the tenant.
    assert found(stack, f"northwind {name_word}") == [tenant["id"]]
    assert found(stack, f"{name_word} nowhere{word()}") == []
    # The middle of a word is not the start of one.
    assert tenant["id"] not in found(stack, name_word[3:])

    [item] = listed(stack, search=subdomain)["items"]
    assert (item["name"], item["email"], item["subdomain_preference"]) == (
        f"Northwind {name_word} Traders", f"{local}@{domain}", subdomain)
    assert (item["type"], item["status"], item["plan_id"], item["billing_cycle"]) == (
        "organization", "active", PRO, "monthly")
    assert (item["is_on_trial"], item["trial_days_remaining"], item["has_active_subscription"]) == (True, 14, True)
    # The subscription as created, its plan as subscribed (Pro's price may have changed in this session).
    assert item["active_subscription"]["id"] == tenant["active_subscription"]["id"]
    assert item["active_subscription"]["plan"] == tenant["active_subscription"]["plan"]
    assert item["active_subscription"]["plan"]["id"] == PRO
    assert (item["memberships_count"], item["created_at"], item["deleted_at"]) == (1, tenant["created_at"], None)


def test_a_one_word_search_of_up_to_five_characters_has_an_exact_total_and_longer_ones_none(stack: Stack) -> None:
    name_word = word()
    tenant = create_tenant(stack, name=f"Totals {name_word}")
    short = listed(stack, search=name_word[:5], per_page=100)
    assert tenant["id"] in [item["id"] for item in short["items"]]
    assert short["total"] == len(short["items"]), "a prefix of at most 5 characters is counted exactly"
    assert listed(stack, search=name_word)["total"] is None
    assert listed(stack, search=f"totals {name_word[:5]}")["total"] is None


def test_a_search_without_a_word_of_two_characters_is_a_422(stack: Stack) -> None:
    reply = listing(stack, search="a b")
    assert reply.status == 422, reply.body
    assert "search" in reply.body["errors"]


# ------------------------------------------------------------ filters, sorts and pages

def test_a_filter_with_a_sort_lists_exactly_its_tenants_in_order_with_an_exact_total(
        stack: Stack, plan_tenants: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    plan, tenants = plan_tenants
    ascending = listed(stack, plan_id=plan["id"], sort_by="name", sort_order="asc", per_page=100)
    assert [item["id"] for item in ascending["items"]] == by_name(tenants)
    assert ascending["total"] == len(SUFFIXES)
    descending = listed(stack, plan_id=plan["id"], sort_by="name", sort_order="desc", per_page=100)
    assert [item["id"] for item in descending["items"]] == by_name(tenants)[::-1]
    # created_at (to the second), newest first; tenants of the same second by id
    newest = listed(stack, plan_id=plan["id"], per_page=100)
    assert [item["id"] for item in newest["items"]] == [
        tenant["id"] for tenant in sorted(tenants, key=lambda tenant: (tenant["created_at"], tenant["id"]),
                                          reverse=True)]


def test_pages_of_a_sorted_filter_follow_each_other_with_no_tenant_twice(
        stack: Stack, plan_tenants: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    plan, tenants = plan_tenants
    pages = every_page(stack, plan_id=plan["id"], sort_by="name", sort_order="asc", per_page=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [item["id"] for page in pages for item in page] == by_name(tenants)


def test_every_page_of_the_whole_list_together_is_every_tenant_once(stack: Stack) -> None:
    create_tenant(stack)
    total = listed(stack, per_page=1)["total"]
    pages = every_page(stack, sort_by="email", sort_order="asc", per_page=7)
    ids = [item["id"] for page in pages for item in page]
    assert len(ids) == len(set(ids)) == total
    assert all(len(page) == 7 for page in pages[:-1])
    emails = [item["email"] for page in pages for item in page]
    assert emails == sorted(emails)


def test_a_combination_of_filters_lists_exactly_its_tenants_with_a_null_total(
        stack: Stack, plan_tenants: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    plan, tenants = plan_tenants
    suspended = tenants[2]
    set_status(stack, suspended["id"], {"status": "suspended", "reason": "combination check"}, admin(stack))
    try:
        page = listed(stack, plan_id=plan["id"], status="suspended", per_page=100)
        assert [item["id"] for item in page["items"]] == [suspended["id"]]
        assert page["items"][0]["status"] == "suspended"
        assert page["total"] is None
        others = every_page(stack, plan_id=plan["id"], status="active", type="personal", sort_by="name",
                           sort_order="asc", per_page=3)
        assert [item["id"] for page in others for item in page] == [
            tenant_id for tenant_id in by_name(tenants) if tenant_id != suspended["id"]]
    finally:
        set_status(stack, suspended["id"], {"status": "active"}, admin(stack))


def test_a_forged_cursor_or_one_of_another_query_is_a_422(
        stack: Stack, plan_tenants: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    plan, tenants = plan_tenants
    query = {"plan_id": plan["id"], "sort_by": "name", "sort_order": "asc", "per_page": 2}
    cursor = listed(stack, **query)["next_cursor"]
    assert cursor
    follows = listed(stack, **query, cursor=cursor)
    assert [item["id"] for item in follows["items"]] == by_name(tenants)[2:4]

    payload, mac = cursor.split(".")
    position = json.loads(base64.urlsafe_b64decode(payload))
    position["by_name"] = "a"  # start from the top of someone else's view
    edited = base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode()
    forged = [f"{edited}.{mac}", tampered(cursor), payload, "not-a-cursor", "é"]
    for bad in forged:
        reply = listing(stack, **query, cursor=bad)
        assert reply.status == 422, (bad, reply.body)
        assert reply.body["errors"] == {"cursor": ["is not a cursor issued for this query"]}
    for other_query in ({**query, "sort_order": "desc"}, {**query, "plan_id": PRO}, {**query, "sort_by": "email"}):
        reply = listing(stack, **other_query, cursor=cursor)
        assert reply.status == 422, (other_query, reply.body)


def test_a_deleted_tenant_leaves_the_list_and_comes_back_with_include_deleted(stack: Stack) -> None:
    name_word = word()
    tenant = create_tenant(stack, name=f"Gone {name_word}")
    assert request("DELETE", f"{stack.url}/v1/admin/tenants/{tenant['id']}", headers=admin(stack)).status == 200
    assert found(stack, name_word) == []
    [item] = listed(stack, search=name_word, include_deleted="true")["items"]
    assert item["id"] == tenant["id"]
    assert item["deleted_at"] is not None
    assert (item["has_active_subscription"], item["active_subscription"]) == (False, None)


# ------------------------------------------------------------ statistics

def test_statistics_count_a_new_tenant_once_and_drop_it_when_deleted(stack: Stack) -> None:
    before = statistics(stack)
    tenant = create_tenant(stack)  # organization, Pro, trialing
    during = statistics(stack)
    plans_before = {row["id"]: row["active_subscriptions"] for row in before["subscription_by_plan"]}
    plans_during = {row["id"]: row["active_subscriptions"] for row in during["subscription_by_plan"]}
    assert during["total_tenants"] == before["total_tenants"] + 1
    assert during["by_type"] == {**before["by_type"], "organization": before["by_type"]["organization"] + 1}
    assert during["by_status"] == {**before["by_status"], "active": before["by_status"]["active"] + 1}
    assert during["with_active_subscription"] == before["with_active_subscription"] + 1
    assert during["on_trial"] == before["on_trial"] + 1
    assert during["recent_signups"] == before["recent_signups"] + 1
    assert plans_during == {**plans_before, PRO: plans_before[PRO] + 1}
    assert during["deleted_tenants"] == before["deleted_tenants"]

    assert request("DELETE", f"{stack.url}/v1/admin/tenants/{tenant['id']}", headers=admin(stack)).status == 200
    after = statistics(stack)
    assert after == {**before, "deleted_tenants": before["deleted_tenants"] + 1}


def test_statistics_name_each_plan_of_the_catalog(stack: Stack) -> None:
    rows = {row["id"]: row for row in statistics(stack)["subscription_by_plan"]}
    assert (rows[PRO]["name"], rows[PRO]["type"], rows[PRO]["tier"]) == ("Pro", "organization", "pro")
    assert {"pln_free", "pln_business", PRO} <= set(rows)


# ------------------------------------------------------------ subscription history

def test_after_a_change_now_the_history_lists_the_new_plan_first_and_the_old_one_canceled(stack: Stack) -> None:
    team = create_plan(stack, "organization", 79)
    scale = create_plan(stack, "organization", 199)
    tenant = create_tenant(stack, plan_id=team["id"])
    changed = request("PUT", f"{stack.url}/v1/admin/tenants/{tenant['id']}/subscription", headers=admin(stack),
                      body={"plan_id": scale["id"], "billing_cycle": "monthly", "starts_immediately": True})
    assert changed.status == 200, changed.body
    # The plan's price changes afterwards: the history keeps what the tenant subscribed to.
    repriced = request("PUT", f"{stack.url}/v1/admin/plans/{scale['id']}", body={"price_monthly": 249},
                       headers=admin(stack))
    assert repriced.status == 200, repriced.body

    reply = request("GET", f"{stack.url}/v1/admin/tenants/{tenant['id']}/subscriptions", headers=admin(stack))
    assert reply.status == 200, reply.body
    history = reply.data["subscriptions"]
    assert [(row["plan"]["id"], row["status"]) for row in history] == [(scale["id"], "active"),
                                                                       (team["id"], "canceled")]
    assert (history[0]["plan"]["price_monthly"], history[1]["plan"]["price_monthly"]) == (199.0, 79.0)
    assert history[0]["canceled_at"] is None
    assert history[1]["canceled_at"] is not None
    assert history[0]["id"] == history[1]["id"] == tenant["active_subscription"]["id"], "one Stripe subscription"
    assert reply.data["tenant"]["plan"]["id"] == scale["id"]

    [item] = listed(stack, search=tenant["subdomain_preference"])["items"]
    assert (item["plan_id"], item["active_subscription"]["plan"]["price_monthly"]) == (scale["id"], 199.0)


# ------------------------------------------------------------ audit

def test_the_audit_lists_a_status_change_with_its_reason_actor_and_trace_id(stack: Stack) -> None:
    tenant = create_tenant(stack)
    suspended = set_status(stack, tenant["id"], {"status": "suspended", "reason": "chargeback under review"},
                           admin(stack))
    reactivated = set_status(stack, tenant["id"], {"status": "active"}, admin_jwt(stack))

    first = audit(stack, tenant["id"], per_page=2)
    assert first.status == 200, first.body
    entries = first.data["items"]
    assert [entry["action"] for entry in entries] == ["tenant.status_changed"] * 2
    newest, suspension = entries
    assert suspension["reason"] == "chargeback under review"
    assert suspension["actor"] == {"subject": "api-key", "email": None, "via": "api_key"}
    assert suspension["trace_id"] == suspended.body["trace_id"]
    assert (suspension["before"]["status"], suspension["after"]["status"]) == ("active", "suspended")
    assert newest["actor"] == {"subject": "local-admin", "email": "admin@example.com", "via": "jwt"}
    assert newest["trace_id"] == reactivated.body["trace_id"]
    assert (newest["before"]["status"], newest["after"]["status"], newest["reason"]) == ("suspended", "active", None)
    assert newest["at"] >= suspension["at"]

    rest = audit(stack, tenant["id"], per_page=2, cursor=first.data["next_cursor"])
    assert rest.status == 200, rest.body
    assert [entry["action"] for entry in rest.data["items"]] == ["tenant.created"]
    assert rest.data["next_cursor"] is None


def test_an_audit_cursor_is_bound_to_its_tenant(stack: Stack) -> None:
    one, other = create_tenant(stack), create_tenant(stack)
    set_status(stack, one["id"], {"status": "suspended", "reason": "cursor check"}, admin(stack))
    cursor = audit(stack, one["id"], per_page=1).data["next_cursor"]
    assert cursor
    assert audit(stack, one["id"], per_page=1, cursor=cursor).status == 200
    for tenant_id, bad in ((other["id"], cursor), (one["id"], tampered(cursor))):
        reply = audit(stack, tenant_id, per_page=1, cursor=bad)
        assert reply.status == 422, reply.body
        assert "cursor" in reply.body["errors"]
