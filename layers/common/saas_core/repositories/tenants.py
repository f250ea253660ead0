"""The tenants table: tenants, their members, subscription history, audit,
uniqueness pointers, listing facets and statistics. Layout: docs/data-model.md."""

from __future__ import annotations

import hashlib
from typing import Any

from saas_core.access import Principal, Role
from saas_core.errors import Conflict, NotFound
from saas_core.models.tenants import Member, Subscription, Tenant
from saas_core.repositories import dynamo
from saas_core.settings import get_settings

TENANT_SK = "TENANT"
STATS_SHARDS = 8
RECENT_SUBSCRIPTIONS = 20


def _table() -> str:
    return get_settings().tenants_table


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def member_sk(email: str) -> str:
    return f"MEMBER#{email.lower()}"


def _record(tenant: Tenant) -> dict[str, Any]:
    return tenant.model_dump(mode="json")


def _tenant_item(tenant: Tenant) -> dict[str, Any]:
    item = {"pk": tenant_pk(tenant.id), "sk": TENANT_SK, "kind": "tenant", **_record(tenant)}
    if tenant.subscription is not None and tenant.deleted_at is None:
        # periods_due index: the scheduled job reads only tenants due that day.
        period_end = tenant.subscription.current_period_end
        item["due_day"] = period_end[:10]
        item["due_at"] = f"{period_end}#{tenant.id}"
    return item


def _member_item(member: Member) -> dict[str, Any]:
    return {
        "pk": tenant_pk(member.tenant_id), "sk": member_sk(member.email), "kind": "member",
        "member_email": member.email.lower(), "member_user_id": member.user_id,
        **member.model_dump(mode="json"),
    }


def _subscription_item(tenant_id: str, subscription: Subscription) -> dict[str, Any]:
    return {
        "pk": tenant_pk(tenant_id), "sk": f"SUB#{subscription.created_at}#{subscription.id}",
        "kind": "subscription", **subscription.model_dump(mode="json"),
    }


# --------------------------------------------------------------- listing

def listing_facets(tenant: Tenant) -> list[str]:
    """The facet partitions a tenant is listed under (admin list filters).

    Each facet row carries one sort key per sortable field, indexed by the
    facet_by_* GSIs, so a filtered, sorted page is one Query. Filters not
    covered by a facet narrow the best facet with a FilterExpression.
    """
    has_subscription = "true" if tenant.has_active_subscription else "false"
    return [
        "all",
        f"type={tenant.type.value}",
        f"status={tenant.status.value}",
        f"plan={tenant.plan_id}",
        f"has_subscription={has_subscription}",
        f"type={tenant.type.value}&status={tenant.status.value}",
    ]


def _facet_items(tenant: Tenant) -> list[dict[str, Any]]:
    suffix = f"{tenant.created_at}#{tenant.id}"
    summary = {
        "tenant_id": tenant.id, "name": tenant.name, "email": tenant.email, "type": tenant.type.value,
        "status": tenant.status.value, "plan_id": tenant.plan_id, "created_at": tenant.created_at,
        "subdomain_preference": tenant.subdomain_preference,
        "has_active_subscription": tenant.has_active_subscription,
    }
    return [{
        "pk": f"FACET#{facet}", "sk": suffix, "facet": facet, "kind": "facet",
        "by_name": f"{tenant.name.lower()}#{suffix}", "by_email": f"{tenant.email}#{suffix}",
        "by_status": f"{tenant.status.value}#{suffix}", "by_type": f"{tenant.type.value}#{suffix}",
        **summary,
    } for facet in listing_facets(tenant)]


# ------------------------------------------------------------ statistics

def stats_shard(tenant_id: str) -> str:
    # Sharded so concurrent signups do not all contend on one item; readers
    # sum STATS_SHARDS items.
    shard = int(hashlib.sha256(tenant_id.encode()).hexdigest(), 16) % STATS_SHARDS
    return f"STATS#{shard}"


def _counter_names(tenant: Tenant) -> list[str]:
    names = ["tenants", f"type_{tenant.type.value}", f"status_{tenant.status.value}"]
    if tenant.has_active_subscription:
        names += ["with_active_subscription", f"plan_{tenant.plan_id}"]
    if tenant.subscription is not None and tenant.subscription.status == "trialing":
        names.append("on_trial")
    return names


def _count(tenant: Tenant, delta: int) -> dynamo.Write:
    counters = _counter_names(tenant)
    names = {f"#c{i}": name for i, name in enumerate(counters)}
    expression = "ADD " + ", ".join(f"#c{i} :delta" for i in range(len(counters)))
    return dynamo.update(_table(), stats_shard(tenant.id), "TENANTS", expression, names=names,
                         values={":delta": delta})


# ----------------------------------------------------------------- reads

def get(tenant_id: str) -> Tenant | None:
    item = dynamo.get(_table(), tenant_pk(tenant_id), TENANT_SK)
    if item is None or item.get("deleted_at"):
        return None
    return Tenant.model_validate(item)


def require(tenant_id: str) -> Tenant:
    tenant = get(tenant_id)
    if tenant is None:
        raise NotFound("Tenant not found")
    return tenant


def members(tenant_id: str) -> list[Member]:
    items = dynamo.query_all(
        TableName=_table(), KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": tenant_pk(tenant_id)}, ":prefix": {"S": "MEMBER#"}},
    )
    return [Member.model_validate(item) for item in items]


def subscriptions(tenant_id: str, limit: int = RECENT_SUBSCRIPTIONS) -> list[Subscription]:
    """Subscription history, newest first."""
    response = dynamo.client().query(
        TableName=_table(), KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": tenant_pk(tenant_id)}, ":prefix": {"S": "SUB#"}},
        ScanIndexForward=False, Limit=limit,
    )
    return [Subscription.model_validate(dynamo.from_item(item)) for item in response.get("Items", [])]


def membership_role(tenant_id: str, principal: Principal) -> Role | None:
    """The role of the member this principal speaks for (API.md, Identity of members)."""
    email = principal.identity_email
    if email:
        item = dynamo.get(_table(), tenant_pk(tenant_id), member_sk(email))
        if item:
            return Role(item["role"])
    response = dynamo.client().query(
        TableName=_table(), IndexName="members_by_user",
        KeyConditionExpression="member_user_id = :user AND pk = :pk",
        ExpressionAttributeValues={":user": {"S": principal.subject}, ":pk": {"S": tenant_pk(tenant_id)}},
        Limit=1,
    )
    items = response.get("Items", [])
    return Role(dynamo.from_item(items[0])["role"]) if items else None


# ---------------------------------------------------------------- writes

def create(tenant: Tenant, owner: Member, actor: Principal, plan_subscription: dynamo.Write) -> None:
    """The tenant, its owner, its first subscription, its uniqueness pointers,
    listing rows, statistics and audit: all in one transaction."""
    if tenant.subscription is None:
        raise ValueError("a tenant is created with its first subscription")
    table = _table()
    writes = [
        dynamo.put(table, _tenant_item(tenant), condition="attribute_not_exists(pk)",
                   on_condition_failed=Conflict("Tenant already exists")),
        dynamo.put(table, _member_item(owner)),
        dynamo.put(table, _subscription_item(tenant.id, tenant.subscription)),
        plan_subscription,
        _count(tenant, +1),
        dynamo.audit(table, tenant_pk(tenant.id), actor=actor, action="tenant.created", before=None,
                     after=_record(tenant)),
    ]
    if tenant.stripe_customer_id:
        writes.append(dynamo.put(table, {"pk": f"STRIPE_CUSTOMER#{tenant.stripe_customer_id}", "sk": "TENANT",
                                         "tenant_id": tenant.id}))
    if tenant.subdomain_preference:
        writes.append(dynamo.put(
            table, {"pk": f"SUBDOMAIN#{tenant.subdomain_preference}", "sk": "SUBDOMAIN", "tenant_id": tenant.id},
            condition="attribute_not_exists(pk)",
            on_condition_failed=Conflict(f"Subdomain '{tenant.subdomain_preference}' is already taken")))
    writes += [dynamo.put(table, item) for item in _facet_items(tenant)]
    # DynamoDB makes a retried transaction with the same token a no-op.
    dynamo.transact(writes, client_token=hashlib.sha256(tenant.id.encode()).hexdigest()[:36])


def subdomain_taken(subdomain: str) -> bool:
    return dynamo.get(_table(), f"SUBDOMAIN#{subdomain}", "SUBDOMAIN") is not None

