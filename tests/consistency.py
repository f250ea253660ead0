"""Whether Stripe and DynamoDB agree, read from both sides: Stripe through the
SDK, DynamoDB through boto3 (moto in-process, or the local stack's server).

Each check returns the list of disagreements, so a failing test shows all of
them at once. The rule (issue: Stripe and DynamoDB together): no Stripe object
that nothing local points to, no local record pointing to nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import stripe

from saas_core.clock import parse_iso
from saas_core.models.tenants import LIVE_SUBSCRIPTION_STATUSES

StripeFor = Callable[[str], stripe.StripeClient]
ACCOUNTS = ("live", "test")


def scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every item of a table (tests only: nothing in the product scans)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = dynamodb.Table(table).scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


LONG_AGO = "2000-01-01T00:00:00Z"


def expire(dynamodb: Any, table: str, attribute: str) -> None:
    """What time does to the holds and reservations of requests that died: they expire (the
    hold's own expiry and its copy on the `held_until` index alike)."""
    for item in scan(dynamodb, table):
        if isinstance(item.get(attribute), dict):
            item[attribute]["expires_at"] = LONG_AGO
            if "held_until" in item:
                item["held_until"] = LONG_AGO
            dynamodb.Table(table).put_item(Item=item)


def _tenant_records(dynamodb: Any) -> dict[str, dict[str, Any]]:
    return {item["pk"].removeprefix("TENANT#"): item for item in scan(dynamodb, "tenants")
            if item["pk"].startswith("TENANT#") and item["sk"] == "TENANT"}


def _customers(stripe_for: StripeFor) -> list[tuple[str, Any]]:
    return [(account, customer) for account in ACCOUNTS
            for customer in stripe_for(account).v1.customers.list({"limit": 100}).auto_paging_iter()
            if customer.metadata and "tenant_id" in customer.metadata.to_dict()]


def tenant_disagreements(dynamodb: Any, stripe_for: StripeFor) -> list[str]:
    records = _tenant_records(dynamodb)
    problems = [problem for account, customer in _customers(stripe_for)
                if (problem := _customer_problem(account, customer, records)) is not None]
    problems += [problem for tenant_id, record in records.items() if "provisioning" not in record
                 for problem in _tenant_problems(tenant_id, record, stripe_for)]
    problems += _pointer_problems(dynamodb, records)
    return problems


def _customer_problem(account: str, customer: Any, records: dict[str, dict[str, Any]]) -> str | None:
    tenant_id = customer.metadata["tenant_id"]
    record = records.get(tenant_id)
    if record is None:
        return f"{account} customer {customer.id} of {tenant_id}: nothing local points to it"
    held = record.get("provisioning")
    if held is not None:
        if held["state"] == "failed" and held.get("stripe_customer_id") in (None, customer.id):
            return None  # a failed create's reservation names what is left to delete
        return f"{account} customer {customer.id}: reservation of {tenant_id} is {held}"
    expected_account = "live" if record["chargeable"] else "test"
    if record.get("stripe_customer_id") != customer.id or account != expected_account:
        return f"{account} customer {customer.id}: tenant {tenant_id} points to {record.get('stripe_customer_id')}"
    return None


def _tenant_problems(tenant_id: str, record: dict[str, Any], stripe_for: StripeFor) -> list[str]:
    sdk = stripe_for("live" if record["chargeable"] else "test")
    try:
        customer = sdk.v1.customers.retrieve(record["stripe_customer_id"])
    except stripe.InvalidRequestError:
        return [f"tenant {tenant_id} points to a customer that does not exist"]
    if getattr(customer, "deleted", False):
        return [f"tenant {tenant_id} points to a deleted customer"]
    subscription = record.get("subscription")
    if subscription is None:
        return []
    live = sdk.v1.subscriptions.retrieve(subscription["id"])
    if live.customer != customer.id or (live.status in LIVE_SUBSCRIPTION_STATUSES) != (
            subscription["status"] in LIVE_SUBSCRIPTION_STATUSES):
        return [f"tenant {tenant_id}: subscription {live.id} is {live.status} in Stripe, "
                f"{subscription['status']} locally"]
    if live.status not in LIVE_SUBSCRIPTION_STATUSES or "pending" in record:
        return []  # a held tenant's hold names what its next change repairs first
    return _subscription_problems(tenant_id, record, live)


def _subscription_problems(tenant_id: str, record: dict[str, Any], live: Any) -> list[str]:
    """A live subscription shows the stored price, trial end and pending change."""
    subscription = record["subscription"]
    problems = []
    if live["items"].data[0].price.id != subscription["price_id"]:
        problems.append(f"tenant {tenant_id}: Stripe bills {live['items'].data[0].price.id}, "
                        f"locally {subscription['price_id']}")
    stored_trial_end = subscription.get("trial_ends_at")
    if stored_trial_end and live.trial_end != int(parse_iso(stored_trial_end).timestamp()):
        problems.append(f"tenant {tenant_id}: trial ends at {live.trial_end} in Stripe, {stored_trial_end} locally")
    pending = record.get("pending_change")
    if live.schedule != (pending["schedule_id"] if pending else None):
        problems.append(f"tenant {tenant_id}: schedule {live.schedule} in Stripe, pending change {pending} locally")
    return problems


def _pointer_problems(dynamodb: Any, records: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    pointers = {item["pk"].removeprefix("SUBDOMAIN#"): item["tenant_id"] for item in scan(dynamodb, "tenants")
                if item["pk"].startswith("SUBDOMAIN#")}
    for subdomain, tenant_id in pointers.items():
        record = records.get(tenant_id, {})
        held = record.get("provisioning") or {}
        if subdomain not in (record.get("subdomain_preference"), held.get("subdomain")):
            problems.append(f"subdomain {subdomain} points to {tenant_id}, which does not hold it")
    for tenant_id, record in records.items():
        subdomain = record.get("subdomain_preference") or (record.get("provisioning") or {}).get("subdomain")
        if subdomain and pointers.get(subdomain) != tenant_id:
            problems.append(f"tenant {tenant_id} holds subdomain {subdomain} without its pointer")
    problems += _plan_count_problems(dynamodb, records)
    return problems


def _plan_count_problems(dynamodb: Any, records: dict[str, dict[str, Any]]) -> list[str]:
    expected: dict[str, int] = {}
    for record in records.values():
        held = record.get("provisioning")
        if held is not None:
            expected[held["plan_id"]] = expected.get(held["plan_id"], 0) + 1
        elif (record.get("subscription") or {}).get("status") in LIVE_SUBSCRIPTION_STATUSES:
            expected[record["plan_id"]] = expected.get(record["plan_id"], 0) + 1
    problems = []
    for item in scan(dynamodb, "plans"):
        if item["sk"] != "PLAN" or "catalog_order" not in item:
            continue
        plan_id = item["pk"].removeprefix("PLAN#")
        counted = int(item.get("active_subscriptions", 0))
        if counted != expected.get(plan_id, 0):
            problems.append(f"plan {plan_id} counts {counted} subscribers, the tenants say {expected.get(plan_id, 0)}")
    return problems


def plan_disagreements(dynamodb: Any, stripe_for: StripeFor) -> list[str]:
    """Each stored plan's product and current prices are as the plan says; a plan being created
    is invisible locally and owns no active product, unless its reservation still names it."""
    problems = []
    for item in scan(dynamodb, "plans"):
        if item["sk"] != "PLAN":
            continue
        plan_id = item["pk"].removeprefix("PLAN#")
        if item.get("kind") == "plan_reservation":
            continue  # a reservation names its product by the plan id: nothing dangles
        for account, ids in (item.get("stripe") or {}).items():
            problems += _plan_problems(plan_id, item, account, ids, stripe_for(account))
    problems += _orphan_products(dynamodb, stripe_for)
    return problems


def _plan_problems(plan_id: str, item: dict[str, Any], account: str, ids: dict[str, str],
                   sdk: stripe.StripeClient) -> list[str]:
    problems = []
    product = sdk.v1.products.retrieve(ids["product_id"])
    if product.active == bool(item.get("is_archived")):
        problems.append(f"plan {plan_id}: {account} product active={product.active}, archived={item['is_archived']}")
    if product.name != item["display_name"]:
        problems.append(f"plan {plan_id}: {account} product is named {product.name!r}, not {item['display_name']!r}")
    current = {ids["monthly_price_id"], ids["annual_price_id"]}
    for price_id in current:
        if not sdk.v1.prices.retrieve(price_id).active:
            problems.append(f"plan {plan_id}: current {account} price {price_id} is inactive")
    others = [price.id for price in sdk.v1.prices.list({"product": ids["product_id"], "active": True,
                                                         "limit": 100}).auto_paging_iter()
              if price.id not in current]
    if others:
        problems.append(f"plan {plan_id}: {account} prices {others} are active but not the plan's")
    return problems


def _orphan_products(dynamodb: Any, stripe_for: StripeFor) -> list[str]:
    known = {item["pk"].removeprefix("PLAN#") for item in scan(dynamodb, "plans") if item["sk"] == "PLAN"}
    return [f"{account} product {product.id} is active but no plan has it"
            for account in ACCOUNTS
            for product in stripe_for(account).v1.products.list({"active": True, "limit": 100}).auto_paging_iter()
            if product.id not in known]
