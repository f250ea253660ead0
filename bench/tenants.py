"""`make bench`, tenant sections: what one tenant change writes and what the admin's reads
cost over a large population, counted with `local.dynamodb_costs` (moto in-process, the
Stripe emulator, the default catalog). Counts only: nothing here passes or fails on time.

3. Tenant writes: the write units of each tenant change, per table and per index, as
   estimated from the items before and after each write (see local/dynamodb_costs.py).
4. Tenant list at POPULATION: DynamoDB calls and rows read by the list route's first and
   a middle page for every sort, each filter, a filter with a sort, searches and a
   combination, against the bound each one promises; statistics and details.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from local.dynamodb_costs import Recording, WriteUnits, recording

PER_PAGE = 20
MIDDLE_PAGE = 5
POPULATION = 10_000
MAX_CALLS = 2
MAX_READ_FACTOR = 10  # saas_core.services.tenant_lists.MAX_READ_FACTOR, restated: the bound is the issue's
LIST_PATH = "/v1/admin/tenants"


@contextmanager
def local_stack(env: Mapping[str, str]) -> Iterator[None]:
    """moto in-process with template.yaml's tables, the Stripe emulator and the default catalog."""
    os.environ.update(env)
    import boto3
    from moto import mock_aws

    from local.default_catalog import seed_catalog
    from local.invoke import cold_start
    from local.stack import TABLE_NAMES
    from local.stripe_emulator import start_in_thread
    from local.template import create_tables

    emulator = start_in_thread()
    os.environ["STRIPE_API_BASE"] = emulator.url
    try:
        with mock_aws():
            cold_start()
            create_tables(boto3.client("dynamodb", region_name="us-east-1"), TABLE_NAMES)
            seed_catalog()
            yield
    finally:
        emulator.stop()


def admin_token(env: Mapping[str, str]) -> str:
    from local.tokens import issue_token

    return issue_token(env["JWT_SECRET"], "admin", admin=True, issuer=env["JWT_ISSUER"], audience=env["JWT_AUDIENCE"])


# ------------------------------------------------------------ tenant writes

REALISTIC_TENANT = {
    # Four name words, a subdomain and an email: some 30 search prefixes, each a facet row.
    "name": "Cedar Robotics Analytics Group", "email": "billing@cedar-robotics.example", "type": "organization",
    "plan_id": "pln_pro", "billing_cycle": "monthly", "subdomain_preference": "cedar-robotics",
    "owner_user_id": "user-bench",
}


def tenant_writes(env: Mapping[str, str]) -> None:
    from local.default_catalog import SEEDER
    from saas_core.models.plans import BillingCycle
    from saas_core.models.tenants import (
        ExtendTrialIn,
        SubscriptionChangeIn,
        TenantIn,
        TenantStatus,
        TenantStatusIn,
    )
    from saas_core.repositories import tenant_index, tenants
    from saas_core.services import tenant_changes, tenants_admin

    measured: list[tuple[str, Recording]] = []
    with local_stack(env):
        with recording() as record:
            tenant_id = tenants_admin.create_tenant(TenantIn.model_validate(REALISTIC_TENANT), SEEDER, None).id
        measured.append(("create", record))
        rows = len(tenant_index.facets_of(tenants.require(tenant_id)))
        with recording() as record:
            tenant_changes.change_status(tenant_id, TenantStatusIn(status=TenantStatus.SUSPENDED,
                                                                   reason="Payment overdue"), SEEDER)
        measured.append(("status", record))
        tenant_changes.change_status(tenant_id, TenantStatusIn(status=TenantStatus.ACTIVE), SEEDER)
        with recording() as record:
            tenant_changes.extend_trial(tenant_id, ExtendTrialIn(days=7), SEEDER)
        measured.append(("trial+7d", record))
        with recording() as record:
            tenant_changes.change_subscription(tenant_id, SubscriptionChangeIn(
                plan_id="pln_business", billing_cycle=BillingCycle.MONTHLY, starts_immediately=False), SEEDER)
        measured.append(("sub@end", record))
        with recording() as record:
            tenant_changes.change_subscription(tenant_id, SubscriptionChangeIn(
                plan_id="pln_business", billing_cycle=BillingCycle.ANNUAL, starts_immediately=True), SEEDER)
        measured.append(("sub now", record))
        with recording() as record:
            tenant_changes.delete_tenant(tenant_id, SEEDER)
        measured.append(("delete", record))
    _print_writes(measured, rows)


def _print_writes(measured: list[tuple[str, Recording]], facet_rows: int) -> None:
    units = [(label, record.write_units()) for label, record in measured]
    print(f"\nTenant writes: write units (WCU, 1 KB each) one change costs, per table and index "
          f"(a {facet_rows}-facet-row tenant: {REALISTIC_TENANT['name']!r})")
    print("status: active -> suspended; sub@end / sub now: Pro -> Business at period end, then now (annual); "
          "transactions count 2x on base tables, not on indexes (local/dynamodb_costs.py)\n")
    print(f"{'':34}" + "".join(f"{label:>10}" for label, _ in units))
    for name, figures in _write_rows(units):
        print(f"{name:34}" + "".join(f"{figure:>10}" for figure in figures))
    calls = ["+".join(f"{op.removesuffix('Item').removesuffix('Items')}×{n}"
                      for op, n in sorted(_write_operations(record).items())) for _, record in measured]
    print("\nwrite calls: " + "; ".join(f"{label} {ops}" for (label, _), ops in zip(measured, calls, strict=True)))


def _write_operations(record: Recording) -> dict[str, int]:
    operations = record.operations()
    return {op: n for op, n in operations.items() if op in ("PutItem", "UpdateItem", "DeleteItem",
                                                              "TransactWriteItems", "BatchWriteItem")}


def _write_rows(units: list[tuple[str, WriteUnits]]) -> list[tuple[str, list[int]]]:
    tables = sorted({table for _, unit in units for table in unit.base}
                    | {table for _, unit in units for table, _ in unit.indexes})
    rows: list[tuple[str, list[int]]] = []
    for table in tables:
        rows.append((f"{table} (base table)", [unit.base.get(table, 0) for _, unit in units]))
        indexes = sorted({index for _, unit in units for owner, index in unit.indexes if owner == table})
        rows += [(f"{table}.{index}", [unit.indexes.get((table, index), 0) for _, unit in units])
                 for index in indexes]
    rows.append(("total", [unit.total for _, unit in units]))
    rows.append(("items written", [len(unit.items) for _, unit in units]))
    return rows


# ------------------------------------------------------------ tenant list at scale

@dataclass(frozen=True)
class ListCase:
    label: str
    query: dict[str, str]
    filtered: bool  # a row filter on the facet: at most MAX_READ_FACTOR x per_page rows, not per_page + 1


def list_cases() -> list[ListCase]:
    cases = [ListCase("no filter", {}, filtered=False)]
    for field in ("created_at", "name", "email", "type", "status"):
        for order in ("desc", "asc"):
            cases.append(ListCase(f"sort {field} {order}", {"sort_by": field, "sort_order": order}, filtered=False))
    for name, value in (("type", "personal"), ("status", "suspended"), ("plan_id", "pln_pro"),
                        ("has_subscription", "true"), ("has_subscription", "false")):
        cases.append(ListCase(f"{name}={value}", {name: value}, filtered=False))
    cases += [
        ListCase("type=organization&status=active", {"type": "organization", "status": "active"}, filtered=False),
        ListCase("status=suspended, sort name asc", {"status": "suspended", "sort_by": "name", "sort_order": "asc"},
                 filtered=False),
        ListCase("search 'cedar'", {"search": "cedar"}, filtered=False),
        ListCase("search 'robotics' (> 5 chars)", {"search": "robotics"}, filtered=True),
        ListCase("search 'owner04242' (> 5, rare)", {"search": "owner04242"}, filtered=True),
        ListCase("organization&no sub&pln_pro", {"type": "organization", "has_subscription": "false",
                                                 "plan_id": "pln_pro"}, filtered=True),
    ]
    return cases


def is_count_read(call: Any) -> bool:
    """A read of counters (the statistics shards, a search prefix's counts), not of list rows."""
    return call.operation == "BatchGetItem" or any(value.startswith(("STATS#", "FACETCOUNT#"))
                                                   for value in call.key_values())


def rows_read(record: Recording) -> int:
    """Rows the page's own reads evaluated (Query's ScannedCount), counters left out."""
    return sum(call.items_read for call in record.calls if not is_count_read(call))


def counter_items(record: Recording) -> int:
    return sum(call.items_read for call in record.calls if is_count_read(call))


def operations_text(record: Recording) -> str:
    return ", ".join(f"{op}×{n}" for op, n in sorted(record.operations().items()))


def tenant_list_at_scale(env: Mapping[str, str], population: int = POPULATION) -> None:
    from bench.moto_speed import partitioned_queries
    from local.bulk_tenants import load_tenants

    token = admin_token(env)
    with local_stack(env):
        # Before the load: moto copies the whole table for each action of a transaction, which
        # a create is, so no transaction can run once the table holds 10,000 tenants.
        tenant_id = _a_created_tenant()
        started = time.perf_counter()
        load_tenants(population)
        loaded = time.perf_counter() - started
        print(f"\nTenant list at {population:,} tenants (moto in-process, each Query handed only its partition's "
              f"items: bench/moto_speed.py; per_page={PER_PAGE}, pages 1 and {MIDDLE_PAGE}; through the handler)")
        print(f"loaded {population:,} tenants through the repositories' writes in {loaded:.0f} s "
              "(informational)\n", flush=True)
        with partitioned_queries():
            scans, over = _measure_reads(token, tenant_id)
    print(f"\nrows: list rows read (Query ScannedCount); ctrs: counter items read (statistics shards, search "
          f"counts); items: all items read; ! over the bound. Scans: {scans}.")
    print("Over the bound: " + (", ".join(over) if over else "none"), flush=True)


def _measure_reads(token: str, tenant_id: str) -> tuple[int, list[str]]:
    """Print each read's figures; (scans seen, reads over their bound)."""
    from bench.calls import counting_calls
    from local.invoke import invoke

    scans = 0
    over: list[str] = []
    print(f"{'query':36} {'page':>4} {'calls':>5} {'rows':>5} {'ctrs':>4} {'items':>5} {'bound':>16}  operations")
    for case in list_cases():
        for page, record, status in _pages(case, token, invoke):
            scans += len(record.scans)
            rows = rows_read(record)
            row_bound = MAX_READ_FACTOR * PER_PAGE if case.filtered else PER_PAGE + 1
            calls_over = not case.filtered and record.count > MAX_CALLS
            rows_over = rows > row_bound
            if calls_over or rows_over or record.scans or status != 200:
                over.append(f"{case.label} page {page}")
            bound = f"rows≤{row_bound}" if case.filtered else f"{MAX_CALLS} calls, rows≤{row_bound}"
            print(f"{case.label:36} {page:>4} {record.count:>4}{'!' if calls_over else ' '} "
                  f"{rows:>4}{'!' if rows_over else ' '} {counter_items(record):>4} "
                  f"{record.items_read():>5} {bound:>16}  {operations_text(record)} [{status}]", flush=True)
    with recording(writes=False) as record:
        reply = invoke("GET", f"{LIST_PATH}/statistics", token=token)
    scans += len(record.scans)
    if record.count > MAX_CALLS:
        over.append("statistics")
    print(f"{'statistics':36} {'':>4} {record.count:>4}{'!' if record.count > MAX_CALLS else ' '} "
          f"{'':>5} {counter_items(record):>4} {record.items_read():>5} {f'{MAX_CALLS} calls':>16}  "
          f"{operations_text(record)} [{reply.status}]")
    with counting_calls() as counts, recording(writes=False) as record:
        reply = invoke("GET", f"{LIST_PATH}/{tenant_id}", token=token)
    scans += len(record.scans)
    print(f"{'details (+ ' + str(counts['stripe']) + ' Stripe calls)':36} {'':>4} {record.count:>4}  "
          f"{'':>5} {'':>4} {record.items_read():>5} {'':>16}  {operations_text(record)} [{reply.status}]")
    return scans, over


def _pages(case: ListCase, token: str, invoke: Any) -> Iterator[tuple[int, Recording, int]]:
    """The first and the MIDDLE_PAGE-th page (following next_cursor), each as recorded."""
    cursor: str | None = None
    for page in range(1, MIDDLE_PAGE + 1):
        query = {**case.query, "per_page": str(PER_PAGE), **({"cursor": cursor} if cursor else {})}
        with recording(writes=False) as record:
            reply = invoke("GET", LIST_PATH, query=query, token=token)
        if page in (1, MIDDLE_PAGE):
            yield page, record, reply.status
        cursor = (reply.data or {}).get("next_cursor") if reply.status == 200 else None
        if cursor is None:
            if page < MIDDLE_PAGE:
                print(f"{case.label:36} (no page {MIDDLE_PAGE}: the list ends at page {page})")
            return


def _a_created_tenant() -> str:
    """A tenant made by the create route's service (its Stripe customer exists in the emulator)."""
    from local.default_catalog import SEEDER
    from saas_core.models.tenants import TenantIn
    from saas_core.services import tenants_admin

    return tenants_admin.create_tenant(TenantIn.model_validate(REALISTIC_TENANT), SEEDER, None).id
