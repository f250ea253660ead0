"""The tenants table: tenants, their members, subscription history, audit,
uniqueness pointers, listing facets and statistics. Layout: docs/data-model.md."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from saas_core.access import Principal, Role
from saas_core.clock import iso, parse_iso, utc_now
from saas_core.errors import AppError, Conflict, Forbidden, NotFound
from saas_core.models.tenants import Member, Subscription, Tenant, TenantStatus
from saas_core.repositories import dynamo, holds, tenant_index
from saas_core.settings import get_settings

TENANT_SK = "TENANT"
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


def member_write(member: Member, *, on_exists: AppError) -> dynamo.Write:
    """A new member, unless that email is a member already."""
    return dynamo.put(_table(), _member_item(member), condition="attribute_not_exists(pk)",
                      on_condition_failed=on_exists)


def member_removal(member: Member) -> dynamo.Write:
    return dynamo.delete(_table(), tenant_pk(member.tenant_id), member_sk(member.email),
                         condition="attribute_exists(pk)",
                         on_condition_failed=Conflict("The member was removed meanwhile"))


def _subscription_item(tenant_id: str, subscription: Subscription) -> dict[str, Any]:
    return {
        "pk": tenant_pk(tenant_id), "sk": f"SUB#{subscription.row_key}",
        "kind": "subscription", **subscription.model_dump(mode="json"),
    }


# ----------------------------------------------------------------- reads

def get(tenant_id: str) -> Tenant | None:
    """The tenant; None when deleted or still a reservation being created."""
    item = dynamo.get(_table(), tenant_pk(tenant_id), TENANT_SK)
    if item is None or item.get("deleted_at") or item.get("provisioning"):
        return None
    return Tenant.model_validate(item)


def require_including_deleted(tenant_id: str) -> Tenant:
    """The tenant, deleted or not (admins still read deleted tenants); reservations are not tenants."""
    item = dynamo.get(_table(), tenant_pk(tenant_id), TENANT_SK)
    if item is None or item.get("provisioning"):
        raise NotFound("Tenant not found")
    return Tenant.model_validate(item)


def tenant_of_customer(customer_id: str) -> str | None:
    """The id of the tenant whose Stripe customer this is (its pointer, written with the tenant)."""
    item = dynamo.get(_table(), *customer_key(customer_id))
    return str(item["tenant_id"]) if item else None


def customer_pointer_writes(tenant_id: str, old: str | None, new: str) -> list[dynamo.Write]:
    """Events of the new customer find this tenant; the old customer's no longer do. A customer that
    points at another tenant already is refused."""
    pk, sk = customer_key(new)
    writes = [dynamo.put(_table(), {"pk": pk, "sk": sk, "tenant_id": tenant_id},
                         condition="attribute_not_exists(pk) OR tenant_id = :tenant",
                         condition_values={":tenant": tenant_id},
                         on_condition_failed=Conflict(f"Stripe customer {new} belongs to another tenant"))]
    if old and old != new:
        writes.append(dynamo.delete(_table(), *customer_key(old)))
    return writes


def customer_key(customer_id: str) -> tuple[str, str]:
    return f"STRIPE_CUSTOMER#{customer_id}", "TENANT"


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


def all_subscriptions(tenant_id: str) -> list[Subscription]:
    """The whole subscription history, newest first (a tenant's changes are few)."""
    items = dynamo.query_all(
        TableName=_table(), KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": tenant_pk(tenant_id)}, ":prefix": {"S": "SUB#"}},
        ScanIndexForward=False,
    )
    return [Subscription.model_validate(item) for item in items]


def audit_records(tenant_id: str, limit: int, after_sk: str | None) -> list[dict[str, Any]]:
    """At most `limit` audit records of a tenant, newest first, after the one keyed `after_sk`."""
    request: dict[str, Any] = {
        "TableName": _table(), "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": tenant_pk(tenant_id)}, ":prefix": {"S": "AUDIT#"}},
        "ScanIndexForward": False, "Limit": limit,
    }
    if after_sk is not None:
        request["ExclusiveStartKey"] = dynamo.key(tenant_pk(tenant_id), after_sk)
    return [dynamo.from_item(item) for item in dynamo.client().query(**request).get("Items", [])]


def subscriptions(tenant_id: str, limit: int = RECENT_SUBSCRIPTIONS) -> list[Subscription]:
    """Subscription history, newest first."""
    response = dynamo.client().query(
        TableName=_table(), KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": tenant_pk(tenant_id)}, ":prefix": {"S": "SUB#"}},
        ScanIndexForward=False, Limit=limit,
    )
    return [Subscription.model_validate(dynamo.from_item(item)) for item in response.get("Items", [])]


def membership_role(tenant_id: str, principal: Principal) -> Role | None:
    """The role of the member this principal speaks for (API.md, Identity of members).

    A member of a deleted tenant finds nothing (404); of a suspended or inactive one, a
    refusal naming why (403). Someone who is not a member learns neither.
    """
    role = _role(tenant_id, principal)
    if role is None:
        return None
    tenant = dynamo.get(_table(), tenant_pk(tenant_id), TENANT_SK)
    if tenant is None or tenant.get("deleted_at"):
        raise NotFound("Tenant not found")
    status = TenantStatus(tenant["status"])
    if status in (TenantStatus.SUSPENDED, TenantStatus.INACTIVE):
        raise Forbidden(f"This tenant is {status.value}: its members cannot use it until an admin reactivates it")
    return role


def _role(tenant_id: str, principal: Principal) -> Role | None:
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


# ------------------------------------------------------ changing a tenant

@dataclass(frozen=True)
class TenantChange:
    """One change of a tenant, as the tenant before and after, who made it and why.

    `save` writes it in one transaction: the tenant (if nobody changed it since
    `before` was read), the listing rows and statistics that differ, the place on
    each plan the change moves, subscription history rows, the audit record, and
    any `extra` writes the change needs.
    """

    before: Tenant
    after: Tenant
    actor: Principal
    action: str
    reason: str | None = None
    history: tuple[Subscription, ...] = ()
    extra: tuple[dynamo.Write, ...] = ()
    hold: str | None = None  # the change holding the tenant (one that touched Stripe); the write releases it


def save(change: TenantChange) -> None:
    before, after = change.before, change.after
    if after.version != before.version + 1:
        raise ValueError("a change moves the tenant's version by one")
    table = _table()
    condition = "version = :expected AND attribute_not_exists(deleted_at)"
    if change.hold is not None:
        held, names, values = holds.same_change(change.hold)
        condition += f" AND {held}"
    else:
        # A change that does not touch Stripe waits for one that does: its put would drop that
        # change's hold, and with it the record of what Stripe holds.
        condition += " AND attribute_not_exists(#pending)"
        names, values = {"#pending": "pending"}, {}
    try:
        dynamo.transact(_change_writes(change, table, condition, names, values))
    except _TenantMoved:
        raise _why_not_held(before) from None


class _TenantMoved(Conflict):
    """The tenant is not as the change read it: changed, deleted or held by another change."""


def _change_writes(change: TenantChange, table: str, condition: str, names: dict[str, str],
                   values: dict[str, Any]) -> list[dynamo.Write]:
    before, after = change.before, change.after
    return [
        # A put: the tenant as it is now, which also drops the hold (and its index entry).
        dynamo.put(table, _tenant_item(after), condition=condition, names=names,
                   condition_values={":expected": before.version, **values},
                   on_condition_failed=_TenantMoved("The tenant was changed meanwhile; reload and retry")),
        *_plan_places(before, after),
        *(dynamo.put(table, _subscription_item(after.id, subscription)) for subscription in change.history),
        dynamo.audit(table, tenant_pk(after.id), actor=change.actor, action=change.action,
                     before=_record(before), after=_record(after), reason=change.reason),
        *tenant_index.writes(table, before, after),
        *change.extra,
    ]


# A tenant held by a change that touches Stripe is on the `held_until` index under this partition.
HELD_TENANT = "tenant_change"


def hold(tenant: Tenant, change: str, kind: str, repair: list[str]) -> None:
    """Hold a tenant for one change that touches Stripe, if nobody changed it since it was read
    and no other change holds it (else 409 before anything reaches Stripe)."""
    try:
        dynamo.execute(holds.hold(
            _table(), tenant_pk(tenant.id), TENANT_SK, holds.new_pending(change, kind, repair), HELD_TENANT,
            condition=f"version = :expected AND attribute_not_exists(deleted_at) AND {holds.FREE}",
            values={":expected": tenant.version}))
    except Conflict:
        raise _why_not_held(tenant) from None


def _why_not_held(tenant: Tenant) -> AppError:
    current = get(tenant.id)
    if current is None:
        return NotFound("Tenant not found")
    if current.version != tenant.version:
        return Conflict("The tenant was changed meanwhile; reload and retry")
    return Conflict("Another change to this tenant is in progress; retry shortly")


def release_hold(tenant_id: str, change: str) -> None:
    dynamo.execute(holds.release(_table(), tenant_pk(tenant_id), TENANT_SK, change, "tenant"))


def pending_of(tenant_id: str) -> holds.Pending | None:
    return holds.pending_in(dynamo.get(_table(), tenant_pk(tenant_id), TENANT_SK))


def expired_holds(now: datetime, limit: int) -> list[str]:
    return [pk.removeprefix("TENANT#") for pk in holds.expired(_table(), HELD_TENANT, now, limit)]


def _live_plan(tenant: Tenant) -> str | None:
    """The plan whose subscriber count this tenant is part of."""
    return tenant.plan_id if tenant.has_active_subscription and tenant.deleted_at is None else None


def _plan_places(before: Tenant, after: Tenant) -> list[dynamo.Write]:
    left, joined = _live_plan(before), _live_plan(after)
    if left == joined:
        return []
    from saas_core.repositories import plans

    return ([plans.give_back_place(left)] if left else []) + ([plans.take_place(joined)] if joined else [])


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


def subdomain_key(subdomain: str) -> tuple[str, str]:
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
        pk, sk = subdomain_key(tenant.subdomain_preference)
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
    pk, sk = subdomain_key(subdomain)
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
    # A retry of this very request (botocore's, after a timeout) is a no-op for DynamoDB.
    dynamo.transact(activation_writes(tenant, owner, actor, attempt), client_token=_client_token(tenant.id, attempt))


def activation_writes(tenant: Tenant, owner: Member, actor: Principal, attempt: str) -> list[dynamo.Write]:
    """What `activate` writes in its one transaction."""
    if tenant.subscription is None:
        raise ValueError("a tenant is created with its first subscription")
    table = _table()
    writes = [
        dynamo.put(table, _tenant_item(tenant), condition=_SAME_ATTEMPT, names=_RESERVATION_NAMES,
                   condition_values={":attempt": attempt},
                   on_condition_failed=Conflict("Another request took over this tenant's creation; retry")),
        dynamo.put(table, _member_item(owner)),
        dynamo.put(table, _subscription_item(tenant.id, tenant.subscription)),
        dynamo.audit(table, tenant_pk(tenant.id), actor=actor, action="tenant.created", before=None,
                     after=_record(tenant)),
        *tenant_index.writes(table, None, tenant),
    ]
    if tenant.stripe_customer_id:
        pk, sk = customer_key(tenant.stripe_customer_id)
        writes.append(dynamo.put(table, {"pk": pk, "sk": sk, "tenant_id": tenant.id}))
    return writes


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
        pk, sk = subdomain_key(held.subdomain)
        writes.append(dynamo.delete(table, pk, sk, condition="tenant_id = :tenant",
                                    values={":tenant": held.tenant_id}))
    dynamo.transact(writes)


def _client_token(tenant_id: str, attempt: str) -> str:
    return hashlib.sha256(f"{tenant_id}|{attempt}".encode()).hexdigest()[:36]
