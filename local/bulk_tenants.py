"""Many tenants at once, with the rows the repositories write for them (no Stripe): what
the list and statistics benchmarks and their integration tests read. Each tenant gets
exactly what its create writes (tenant, owner, history, facet rows, counters, audit,
subdomain, place on its plan), some of them already suspended, deactivated or without
a subscription."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from local.default_catalog import DEFAULT_PLANS, SEEDER
from saas_core.access import Role
from saas_core.clock import iso, utc_now
from saas_core.models.plans import BillingCycle, PlanType
from saas_core.models.tenants import Member, SubscribedPlan, Subscription, Tenant, TenantStatus
from saas_core.repositories import dynamo, plans, tenants
from saas_core.settings import get_settings

_FIRST = ["Acme", "Blue", "Bright", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Indigo", "Juniper",
          "Kite", "Lumen", "Maple", "Nova", "Orbit", "Pine", "Quartz", "River", "Summit", "Tidal", "Umber"]
_SECOND = ["Labs", "Works", "Systems", "Studio", "Analytics", "Cloud", "Robotics", "Foods", "Health", "Media",
           "Logistics", "Capital", "Energy", "Corp"]
_DOMAINS = ["example.com", "mail.example", "corp.example", "startup.example"]


def bulk_tenant(index: int, rng: random.Random) -> Tenant:
    """The index-th tenant of a reproducible population: varied names, types, plans, trials."""
    kind = PlanType.ORGANIZATION if index % 3 else PlanType.PERSONAL
    plan_id = rng.choice([plan_id for plan_id, plan in DEFAULT_PLANS.items() if plan["type"] == kind.value])
    plan = plans.require(plan_id)
    name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)} {index:05d}"
    created = utc_now() - timedelta(days=rng.randrange(0, 90), seconds=index)
    cycle = rng.choice(list(BillingCycle))
    tenant_id = f"tnt_bulk{index:016d}"
    trial = plan.trial_days > 0
    period_end = created + timedelta(days=plan.trial_days if trial else 30)
    subscription = Subscription(
        id=f"sub_bulk{index:016d}", plan_id=plan.id, plan_version=plan.plan_version,
        price_id=f"price_bulk_{plan.id}_{cycle.value}", billing_cycle=cycle,
        status="trialing" if trial and period_end > utc_now() else "active", starts_at=iso(created),
        trial_ends_at=iso(period_end) if trial else None, current_period_start=iso(created),
        current_period_end=iso(period_end), created_at=iso(created), plan=SubscribedPlan.of(plan))
    slug = f"{name.split(maxsplit=1)[0].lower()}-{index:05d}"
    return Tenant(id=tenant_id, name=name, email=f"owner{index:05d}@{rng.choice(_DOMAINS)}", type=kind,
                  subdomain_preference=slug if kind is PlanType.ORGANIZATION else None, plan_id=plan.id,
                  billing_cycle=cycle, stripe_customer_id=f"cus_bulk{index:016d}", subscription=subscription,
                  members_count=1, subscriptions_count=1, created_at=iso(created), updated_at=iso(created))


def creation_writes(tenant: Tenant) -> list[dynamo.Write]:
    """What creating this tenant writes: its subdomain, its place on its plan, and the
    activation transaction's rows (tenant, owner, history, facets, counters, audit)."""
    owner = Member(tenant_id=tenant.id, email=tenant.email, role=Role.OWNER, joined_at=tenant.created_at)
    writes = tenants.activation_writes(tenant, owner, SEEDER, attempt=f"bulk-{tenant.id}")
    if tenant.subdomain_preference:
        pk, sk = tenants.subdomain_key(tenant.subdomain_preference)
        writes.append(dynamo.put(get_settings().tenants_table, {"pk": pk, "sk": sk, "tenant_id": tenant.id}))
    if tenant.has_active_subscription:
        writes.append(plans.take_place(tenant.plan_id))
    return writes


def vary(tenant: Tenant, rng: random.Random) -> Tenant:
    """Some tenants are suspended, deactivated or without a subscription, as admins leave them."""
    roll = rng.random()
    if roll < 0.08:
        return tenant.model_copy(update={"status": TenantStatus.SUSPENDED, "status_reason": "Payment overdue"})
    if roll < 0.12:
        return tenant.model_copy(update={"status": TenantStatus.INACTIVE, "status_reason": "Asked to pause"})
    if roll < 0.22 and tenant.subscription is not None:
        ended = tenant.subscription.model_copy(update={"status": "canceled", "canceled_at": tenant.created_at})
        return tenant.model_copy(update={"subscription": ended})
    return tenant


class _Import:
    """Rows put in batches of 25, counters added up first and written once each: what thousands
    of creates leave, without thousands of transactions (moto copies a table per transaction
    action, which makes a large load through transactions take hours)."""

    def __init__(self) -> None:
        self.puts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.additions: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)

    def add(self, write: dynamo.Write) -> None:
        [(kind, action)] = write.action.items()
        if kind == "Put":
            self.puts[action["TableName"]].append(action["Item"])
        elif kind == "Update" and action["UpdateExpression"].startswith("ADD "):
            key = (action["TableName"], action["Key"]["pk"]["S"], action["Key"]["sk"]["S"])
            for name, value in _additions(action):
                self.additions[key][name] += value
        else:
            raise ValueError(f"a create does not {kind} like this: {action}")

    def write(self) -> None:
        sink = _MotoInProcess() if _moto_in_process() else _Boto3()
        for table, items in self.puts.items():
            sink.put_all(table, items)
        for (table, pk, sk), counts in self.additions.items():
            moved = {name: count for name, count in counts.items() if count}
            if moved:
                sink.add(table, pk, sk, moved)


class _Boto3:
    """Through DynamoDB's API: batches of 25 puts, one ADD per counter item."""

    def put_all(self, table: str, items: list[dict[str, Any]]) -> None:
        client = dynamo.client()
        for start in range(0, len(items), BATCH):
            request: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items[start:start + BATCH]]}
            while request:
                request = dict(client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {})

    def add(self, table: str, pk: str, sk: str, counts: dict[str, int]) -> None:
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values = {f":d{i}": count for i, count in enumerate(counts.values())}
        expression = "ADD " + ", ".join(f"#c{i} :d{i}" for i in range(len(counts)))
        dynamo.execute(dynamo.update(table, pk, sk, expression, names=names, values=values))


class _MotoInProcess:
    """Straight into moto's in-process tables: the same items, without a request per row (the
    benchmark's 10,000 tenants are some 450,000 rows)."""

    def __init__(self) -> None:
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        self.backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][dynamo.client().meta.region_name]

    def put_all(self, table: str, items: list[dict[str, Any]]) -> None:
        for item in items:
            self.backend.put_item(table, item)

    def add(self, table: str, pk: str, sk: str, counts: dict[str, int]) -> None:
        key = {"pk": {"S": pk}, "sk": {"S": sk}}
        current = self.backend.get_item(table, key)
        item = dict(current.to_json()["Attributes"]) if current is not None else dict(key)
        for name, count in counts.items():
            item[name] = {"N": str(int(item.get(name, {"N": "0"})["N"]) + count)}
        self.backend.put_item(table, item)


def _moto_in_process() -> bool:
    from moto.core.models import botocore_stubber

    return bool(botocore_stubber.enabled)


BATCH = 25


def _additions(action: dict[str, Any]) -> list[tuple[str, int]]:
    names = action.get("ExpressionAttributeNames", {})
    values = action["ExpressionAttributeValues"]
    pairs = []
    for clause in action["UpdateExpression"].removeprefix("ADD ").split(","):
        name, value = clause.split()
        pairs.append((names.get(name, name), int(values[value]["N"])))
    return pairs


def load_tenants(count: int, *, seed: int = 2026) -> list[Tenant]:
    """`count` tenants as creates would have stored them (the catalog must be seeded), the same
    ones for the same seed."""
    rng = random.Random(seed)
    made = [vary(bulk_tenant(index, rng), rng) for index in range(count)]
    load = _Import()
    for tenant in made:
        for write in creation_writes(tenant):
            load.add(write)
    load.write()
    return made
