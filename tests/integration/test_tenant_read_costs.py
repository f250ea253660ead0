"""What the admin's tenant reads and one tenant change cost in DynamoDB, as counted by
`local.dynamodb_costs` at botocore (moto in-process): calls, rows read, write units.
Counts only, never timings; `make bench` prints the same figures at 10,000 tenants."""

from __future__ import annotations

from typing import Any

import pytest

from local.bulk_tenants import load_tenants
from local.default_catalog import SEEDER
from local.dynamodb_costs import Call, Recording, WriteUnits, item_write, recording, units
from local.strict_dynamodb import item_size
from tests.support import ADMIN_API_KEY, TABLE_NAMES, invoke

POPULATION = 100
PER_PAGE = 8
PAGES = 2  # the first page and the next, a middle one where the list is longer
MAX_CALLS = 2
MAX_READ_FACTOR = 10
READS = {"Query", "BatchGetItem", "GetItem"}
TENANTS = TABLE_NAMES["TenantsTable"]

# (query, filtered): a filtered read narrows a facet's rows with a FilterExpression
CASES: list[tuple[dict[str, str], bool]] = [
    ({}, False),
    *(({"sort_by": field, "sort_order": "desc"}, False) for field in ("created_at", "name", "email", "type", "status")),
    ({"sort_by": "name", "sort_order": "asc"}, False),
    ({"type": "personal"}, False),
    ({"status": "suspended"}, False),
    ({"plan_id": "pln_pro"}, False),
    ({"has_subscription": "true"}, False),
    ({"has_subscription": "false"}, False),
    ({"type": "organization", "status": "active"}, False),
    ({"status": "active", "sort_by": "email", "sort_order": "asc"}, False),
    ({"search": "cedar"}, False),
    ({"search": "owner"}, False),
    ({"search": "owner00042"}, True),
    ({"type": "organization", "has_subscription": "false", "plan_id": "pln_pro"}, True),
]


def is_count_read(call: Call) -> bool:
    """A read of counters (statistics shards, a search prefix's counts), not of list rows."""
    return call.operation == "BatchGetItem" or any(value.startswith(("STATS#", "FACETCOUNT#"))
                                                   for value in call.key_values())


def rows_read(record: Recording) -> int:
    return sum(call.items_read for call in record.calls if not is_count_read(call))


def pages(query: dict[str, str]) -> list[Recording]:
    """The recordings of the first PAGES pages of a query (fewer when the list ends first)."""
    recorded: list[Recording] = []
    cursor = None
    for _ in range(PAGES):
        with recording(writes=False) as record:
            reply = invoke("GET", "/v1/admin/tenants", api_key=ADMIN_API_KEY,
                           query={**query, "per_page": str(PER_PAGE), **({"cursor": cursor} if cursor else {})})
        assert reply.status == 200, reply.body
        recorded.append(record)
        cursor = reply.data["next_cursor"]
        if cursor is None:
            break
    return recorded


def test_every_list_read_and_the_statistics_stay_within_their_bounds(catalog: dict[str, Any]) -> None:
    load_tenants(POPULATION)
    everything = Recording()
    for query, filtered in CASES:
        recorded = pages(query)
        if "search" not in query and "status" not in query and "has_subscription" not in query:
            assert len(recorded) == PAGES, f"{query} has a middle page"
        for number, record in enumerate(recorded, start=1):
            everything.calls += record.calls
            where = f"{query} page {number}: {[(c.operation, c.items_read) for c in record.calls]}"
            assert set(record.operations()) <= READS, where
            if filtered:
                assert rows_read(record) <= MAX_READ_FACTOR * PER_PAGE, where
            else:
                assert record.count <= MAX_CALLS, where
                assert rows_read(record) <= PER_PAGE + 1, where
                page_queries = [call for call in record.calls if not is_count_read(call)]
                assert [call.operation for call in page_queries] == ["Query"], where

    with recording(writes=False) as record:
        reply = invoke("GET", "/v1/admin/tenants/statistics", api_key=ADMIN_API_KEY)
    assert reply.status == 200
    assert reply.data["total_tenants"] == POPULATION
    assert record.count <= MAX_CALLS
    assert set(record.operations()) <= READS
    everything.calls += record.calls

    assert everything.scans == []
    assert everything.count > len(CASES)


def test_a_status_change_writes_one_transaction_of_its_rows_and_no_untouched_index(
        catalog: dict[str, Any]) -> None:
    from saas_core.models.tenants import TenantIn, TenantStatus, TenantStatusIn
    from saas_core.repositories import tenant_index, tenants
    from saas_core.services import tenant_changes, tenants_admin

    tenant_id = tenants_admin.create_tenant(TenantIn.model_validate({
        "name": "Cedar Robotics", "email": "billing@cedar.example", "type": "organization", "plan_id": "pln_pro",
        "billing_cycle": "monthly", "subdomain_preference": "cedar-robotics"}), SEEDER, None).id
    before = tenants.require(tenant_id)
    with recording() as record:
        tenant_changes.change_status(tenant_id, TenantStatusIn(status=TenantStatus.SUSPENDED, reason="Overdue"),
                                     SEEDER)
    after = tenants.require(tenant_id)

    assert [call.operation for call in record.calls if call.writes is not None] == ["TransactWriteItems"]
    assert record.scans == []
    written = record.write_units()
    expected = {("pk", f"TENANT#{tenant_id}"): {"TENANT"}}
    for write in tenant_index.writes(TENANTS, before, after):
        ((_, action),) = write.action.items()
        key = action.get("Key") or {"pk": action["Item"]["pk"], "sk": action["Item"]["sk"]}
        expected.setdefault(("pk", key["pk"]["S"]), set()).add(key["sk"]["S"])
    got: dict[tuple[str, str], set[str]] = {}
    for item in written.items:
        assert item.table == TENANTS
        key = dict(item.key)
        got.setdefault(("pk", key["pk"]), set()).add(key["sk"])
    audit = got[("pk", f"TENANT#{tenant_id}")] - {"TENANT"}
    assert len(audit) == 1
    assert next(iter(audit)).startswith("AUDIT#")
    got[("pk", f"TENANT#{tenant_id}")] -= audit
    assert got == expected

    # In a transaction every base-table item costs twice its 1 KB units, so at least 2.
    assert all(item.base >= 2 and item.base % 2 == 0 for item in written.items)
    assert written.base[TENANTS] == sum(item.base for item in written.items) >= 2 * len(written.items)
    assert set(written.base) == {TENANTS}, "no plan changes its subscribers"
    by_index = written.index_units(TENANTS)
    for untouched in ("members_by_user", "members_by_email", "periods_due", "held_until"):
        assert by_index[untouched] == 0, untouched
    facet_rows = sum(1 for item in written.items if dict(item.key)["pk"].startswith("FACET#"))
    # Every facet row is in the four facet indexes; by_status is a key of one, which moves.
    assert by_index["facet_by_name"] == by_index["facet_by_email"] == by_index["facet_by_type"] >= facet_rows
    assert by_index["facet_by_status"] > by_index["facet_by_name"]


def facet_row(**more: Any) -> dict[str, Any]:
    row = {"pk": {"S": "FACET#x"}, "sk": {"S": "2026#t"}, "facet": {"S": "x"}, "by_name": {"S": "n#t"},
           "by_email": {"S": "e#t"}, "by_status": {"S": "active#t"}, "by_type": {"S": "personal#t"}}
    return {**row, **{name: {"S": value} for name, value in more.items()}}


@pytest.fixture
def shape(aws: None) -> Any:
    import boto3

    from local.dynamodb_costs import TableShape

    return TableShape.of(boto3.client("dynamodb", region_name="us-east-1").describe_table(TableName=TENANTS))


def test_the_estimator_counts_dynamodbs_units_for_base_table_and_each_index(shape: Any) -> None:
    key = {"pk": {"S": "FACET#x"}, "sk": {"S": "2026#t"}}
    small = facet_row()
    assert item_size(small) < 1024

    put = item_write(shape, TENANTS, "Put", key, None, small, transactional=True)
    assert put.base == 2
    assert put.indexes == {"members_by_user": 0, "members_by_email": 0, "facet_by_name": 1, "facet_by_email": 1,
                           "facet_by_status": 1, "facet_by_type": 1, "periods_due": 0, "held_until": 0}

    moved = item_write(shape, TENANTS, "Update", key, small, facet_row(by_status="suspended#t"), transactional=False)
    assert moved.base == 1
    assert moved.indexes["facet_by_status"] == 2, "a key moves: a delete and a put"
    assert moved.indexes["facet_by_name"] == 1, "a projected attribute changes: one write"

    large = facet_row(padding="x" * 1500)
    grown = item_write(shape, TENANTS, "Put", key, small, large, transactional=True)
    assert grown.base == 2 * units(item_size(large)) == 4
    assert grown.indexes["facet_by_name"] == 2

    gone = item_write(shape, TENANTS, "Delete", key, large, None, transactional=False)
    assert gone.base == 2
    assert gone.indexes["facet_by_type"] == 2
    assert gone.indexes["members_by_user"] == 0

    due = {"pk": {"S": "TENANT#t"}, "sk": {"S": "TENANT"}, "due_day": {"S": "2026-01-01"},
           "due_at": {"S": "2026-01-01T00:00:00Z#t"}}
    renamed = item_write(shape, TENANTS, "Put", {"pk": due["pk"], "sk": due["sk"]}, due,
                         {**due, "name": {"S": "New"}}, transactional=False)
    assert renamed.indexes["periods_due"] == 0, "KEYS_ONLY: a non-key attribute is not in the index"


def test_the_recorder_sums_what_a_call_wrote(aws: None) -> None:
    from saas_core.repositories import dynamo

    with recording() as record:
        dynamo.transact([dynamo.put(TENANTS, {"pk": "FACET#x", "sk": "2026#t", "facet": "x", "by_name": "n#t",
                                              "by_email": "e#t", "by_status": "active#t", "by_type": "p#t"})])
        dynamo.execute(dynamo.update(TENANTS, "FACET#x", "2026#t", "SET by_status = :s",
                                     values={":s": "suspended#t"}))
    first, second = (call.writes for call in record.calls)
    assert isinstance(first, WriteUnits)
    assert isinstance(second, WriteUnits)
    assert (first.base[TENANTS], first.index_units(TENANTS)["facet_by_status"]) == (2, 1)
    assert (second.base[TENANTS], second.index_units(TENANTS)["facet_by_status"]) == (1, 2)
    assert record.write_units().total == first.total + second.total == (2 + 4) + (1 + 2 + 3)
