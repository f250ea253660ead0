"""The tenants table: tenants, their members, subscription history, audit,
uniqueness pointers, listing facets and statistics. Layout: docs/data-model.md."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from saas_core.access import Principal, Role
from saas_core.clock import iso, parse_iso, utc_now
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
    """The tenant; None when deleted or still a reservation being created."""
    item = dynamo.get(_table(), tenant_pk(tenant_id), TENANT_SK)
    if item is None or item.get("deleted_at") or item.get("provisioning"):
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


# ------------------------------------------------------ creating a tenant
#
# A tenant is created in three steps so that Stripe and DynamoDB can never
# disagree for good: `reserve` (the tenant as a reservation, its subdomain and
# a place on its plan, in one transaction), then Stripe, then `activate` (the
# rest, in one transaction). A failure undoes Stripe and `release`s the
# reservation; if Stripe cannot be undone, the reservation stays, marked
# failed, pointing at what Stripe holds, until a retry resumes or clears it.

RESERVATION_SECONDS = 120  # longer than any invocation: a live reservation is another request at work


@dataclass(frozen=True)
class Reservation:
    tenant_id: str
    attempt: str
    state: str  # "working" or "failed"
    expires_at: str
    plan_id: str
    subdomain: str | None
    email: str
    stripe_account: str
    stripe_customer_id: str | None

    def in_progress(self, now: datetime) -> bool:
        return self.state == "working" and parse_iso(self.expires_at) > now


class ReservationExists(Conflict):
    """The tenant id is already reserved (an earlier attempt at the same request)."""


def _subdomain_key(subdomain: str) -> tuple[str, str]:
    return f"SUBDOMAIN#{subdomain}", "SUBDOMAIN"


def _reservation_attributes(tenant: Tenant, attempt: str, now: datetime) -> dict[str, Any]:
    return {"attempt": attempt, "state": "working", "expires_at": iso(now + timedelta(seconds=RESERVATION_SECONDS)),
            "plan_id": tenant.plan_id, "subdomain": tenant.subdomain_preference, "email": tenant.email,
            "stripe_account": tenant.stripe_account}


# Every reservation is also on the `held_until` index (partition HELD_RESERVATION), by the
# time it expires: the sweeper reads the expired ones there, never scanning the table.
HELD_RESERVATION = "tenant_reservation"


def reserve(tenant: Tenant, attempt: str, plan_place: dynamo.Write) -> None:
    """Hold the tenant id, its subdomain and a place on its plan (`plan_place`) before Stripe is called."""
    table = _table()
    held = _reservation_attributes(tenant, attempt, utc_now())
    writes = [
        dynamo.put(table, {"pk": tenant_pk(tenant.id), "sk": TENANT_SK, "kind": "reservation",
                           "provisioning": held, "held": HELD_RESERVATION, "held_until": held["expires_at"]},
                   condition="attribute_not_exists(pk)", on_condition_failed=ReservationExists("Tenant is reserved")),
        plan_place,
    ]
    if tenant.subdomain_preference:
        pk, sk = _subdomain_key(tenant.subdomain_preference)
        writes.append(dynamo.put(
            table, {"pk": pk, "sk": sk, "tenant_id": tenant.id}, condition="attribute_not_exists(pk)",
            on_condition_failed=Conflict(f"Subdomain '{tenant.subdomain_preference}' is already taken")))
    dynamo.transact(writes)


def reservation(tenant_id: str) -> Reservation | None:
    item = dynamo.get(_table(), tenant_pk(tenant_id), TENANT_SK)
    held = (item or {}).get("provisioning")
    if not isinstance(held, dict):
        return None
    return Reservation(tenant_id=tenant_id, attempt=held["attempt"], state=held["state"],
                       expires_at=held["expires_at"], plan_id=held["plan_id"], subdomain=held.get("subdomain"),
                       email=held["email"], stripe_account=held["stripe_account"],
                       stripe_customer_id=held.get("stripe_customer_id"))


def expired_reservations(now: datetime, limit: int) -> list[str]:
    """Ids of tenants whose reservation has expired: their create died or could not clean up."""
    response = dynamo.client().query(
        TableName=_table(), IndexName="held_until", Limit=limit,
        KeyConditionExpression="#held = :kind AND #until < :now",
        ExpressionAttributeNames={"#held": "held", "#until": "held_until"},
        ExpressionAttributeValues={":kind": {"S": HELD_RESERVATION}, ":now": {"S": iso(now)}},
    )
    return [str(dynamo.from_item(item)["pk"]).removeprefix("TENANT#") for item in response.get("Items", [])]


def subdomain_holder(subdomain: str) -> str | None:
    pk, sk = _subdomain_key(subdomain)
    item = dynamo.get(_table(), pk, sk)
    return str(item["tenant_id"]) if item else None


_SAME_ATTEMPT = "#p.#attempt = :attempt"
_RESERVATION_NAMES = {"#p": "provisioning", "#attempt": "attempt"}


def _update_reservation(tenant_id: str, attempt: str, expression: str, values: dict[str, Any],
                        names: dict[str, str]) -> None:
    dynamo.execute(dynamo.update(
        _table(), tenant_pk(tenant_id), TENANT_SK, expression, names={**_RESERVATION_NAMES, **names},
        values={":attempt": attempt, **values}, condition=_SAME_ATTEMPT,
        on_condition_failed=Conflict("Another request took over this tenant's creation; retry")))


def take_over(tenant_id: str, previous_attempt: str, attempt: str) -> None:
    """A new attempt resumes a reservation whose own attempt stopped (failed or expired)."""
    expires_at = iso(utc_now() + timedelta(seconds=RESERVATION_SECONDS))
    _update_reservation(tenant_id, previous_attempt,
                        "SET #p.#attempt = :new, #p.#state = :working, #p.#expires = :exp, #until = :exp",
                        {":new": attempt, ":working": "working", ":exp": expires_at},
                        {"#state": "state", "#expires": "expires_at", "#until": "held_until"})


def record_customer(tenant_id: str, attempt: str, customer_id: str) -> None:
    """The reservation points at the Stripe customer as soon as it exists."""
    _update_reservation(tenant_id, attempt, "SET #p.#customer = :customer", {":customer": customer_id},
                        {"#customer": "stripe_customer_id"})


def mark_failed(tenant_id: str, attempt: str, reason: str) -> None:
    """Stripe could not be undone: the reservation stays as the record of what Stripe holds."""
    _update_reservation(tenant_id, attempt, "SET #p.#state = :failed, #p.#reason = :reason",
                        {":failed": "failed", ":reason": reason[:500]}, {"#state": "state", "#reason": "reason"})


def activate(tenant: Tenant, owner: Member, actor: Principal, attempt: str) -> None:
    """The tenant, its owner, its first subscription, the Stripe customer pointer,
    listing rows, statistics and audit: all in one transaction, only while
    this attempt still holds the reservation."""
    if tenant.subscription is None:
        raise ValueError("a tenant is created with its first subscription")
    table = _table()
    writes = [
        dynamo.put(table, _tenant_item(tenant), condition=_SAME_ATTEMPT, names=_RESERVATION_NAMES,
                   condition_values={":attempt": attempt},
                   on_condition_failed=Conflict("Another request took over this tenant's creation; retry")),
        dynamo.put(table, _member_item(owner)),
        dynamo.put(table, _subscription_item(tenant.id, tenant.subscription)),
        _count(tenant, +1),
        dynamo.audit(table, tenant_pk(tenant.id), actor=actor, action="tenant.created", before=None,
                     after=_record(tenant)),
    ]
    if tenant.stripe_customer_id:
        writes.append(dynamo.put(table, {"pk": f"STRIPE_CUSTOMER#{tenant.stripe_customer_id}", "sk": "TENANT",
                                         "tenant_id": tenant.id}))
    writes += [dynamo.put(table, item) for item in _facet_items(tenant)]
    # A retry of this very request (botocore's, after a timeout) is a no-op for DynamoDB.
    dynamo.transact(writes, client_token=_client_token(tenant.id, attempt))


def release(held: Reservation, plan_place: dynamo.Write) -> None:
    """Give back what `reserve` held, once Stripe is undone: a create that failed leaves nothing."""
    table = _table()
    writes = [
        dynamo.delete(table, tenant_pk(held.tenant_id), TENANT_SK, condition=_SAME_ATTEMPT,
                      names=_RESERVATION_NAMES, values={":attempt": held.attempt},
                      on_condition_failed=Conflict("Another request took over this tenant's creation")),
        plan_place,
    ]
    if held.subdomain:
        pk, sk = _subdomain_key(held.subdomain)
        writes.append(dynamo.delete(table, pk, sk, condition="tenant_id = :tenant",
                                    values={":tenant": held.tenant_id}))
    dynamo.transact(writes)


def _client_token(tenant_id: str, attempt: str) -> str:
    return hashlib.sha256(f"{tenant_id}|{attempt}".encode()).hexdigest()[:36]
