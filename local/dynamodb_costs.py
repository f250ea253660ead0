"""What DynamoDB calls cost, recorded at botocore: for the bench and the tests that
bound the reads of a request and the writes of a change. Counts, never timings.

`recording()` patches `BaseClient._make_api_call` for its duration and records each
DynamoDB call the code under it makes:

- the operation, its table and index;
- items read: Query and Scan, the response's `ScannedCount` (what DynamoDB evaluated,
  before any FilterExpression); GetItem, 1 when an item came back; BatchGetItem and
  TransactGetItems, the items returned;
- for PutItem, UpdateItem, DeleteItem, BatchWriteItem and TransactWriteItems that
  succeed, an estimate of the write units they consumed, per table and per index.

The estimate reads each touched item before and after the call (GetItem, strongly
consistent) and the tables' indexes (DescribeTable) through the call path as it was
when recording started, so those reads are not recorded. Nested inside another
patch of `_make_api_call` (the bench's `counting_calls`), that outer patch sees them:
nest the other way round, or record reads only (`writes=False`, which reads nothing).

The estimator's rules, from DynamoDB's documentation where it states them:

- A write unit covers up to 1 KB of an item, rounded up per item, at least 1.
  Item sizes are DynamoDB's (`local.strict_dynamodb.item_size`: names and values in
  UTF-8, numbers by significant digits, 3 bytes per map or list and 1 per element).
- Base table: PutItem and UpdateItem cost the larger of the item before and after;
  DeleteItem the item deleted (1 when there was none).
- Each global or local secondary index whose key attributes the item has before
  and/or after (Developer Guide, "Global secondary indexes", writes):
  the item enters the index, one put; leaves it, one delete; its index key values
  change, a delete and a put; keeps them while the projected attributes change, one
  write (sized on the larger projection); otherwise nothing. Each sized on the index
  entry: projection ALL the whole item, KEYS_ONLY the table's and the index's keys,
  INCLUDE those keys and the listed attributes the item has.
- Transactions (TransactWriteItems) cost twice the base table's units per item
  (prepare and commit). A ConditionCheck is charged like a write of the item it
  checks, with no index writes (measured against DynamoDB by a conformance suite,
  paritysuite/dynamodb-conformance#67: "a standalone ConditionCheck costs 2 WCU").

Assumptions the documentation does not settle, stated rather than hidden:

- Index writes inside a transaction are NOT doubled: only the base table's share is.
  AWS's pages do not say; emulator maintainers who measured real DynamoDB report it
  so (nubo-db/dynoxide#188: "the transactional 2x factor applies to the base table
  arm alone"). If AWS doubled them too, every index figure inside a transaction
  would double.
- An index entry is sized without the 100 bytes of per-entry overhead that DynamoDB
  adds for storage.
- Failed calls (a condition not met, a cancelled transaction) are recorded with no
  write estimate, although DynamoDB charges a failed conditional write.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from local.strict_dynamodb import item_size

JSON = dict[str, Any]
KB = 1024
TRANSACTION_FACTOR = 2
READ_OPERATIONS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem", "TransactGetItems"})
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


# ------------------------------------------------------------ what is recorded

@dataclass(frozen=True)
class ItemWrite:
    """One item one write call touched, and what it cost."""

    table: str
    key: tuple[tuple[str, str], ...]  # (name, value as text) of the table's key attributes
    action: str  # Put, Update, Delete or ConditionCheck
    base: int
    indexes: dict[str, int]  # every index of the table, 0 where the write moved nothing


@dataclass
class WriteUnits:
    """Write units per table (base) and per (table, index); every index of a written table
    is present, with 0 when nothing reached it."""

    base: Counter[str] = field(default_factory=Counter)
    indexes: dict[tuple[str, str], int] = field(default_factory=dict)
    items: list[ItemWrite] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.base.values()) + sum(self.indexes.values())

    def index_units(self, table: str) -> dict[str, int]:
        return {index: units for (owner, index), units in self.indexes.items() if owner == table}

    def add(self, other: WriteUnits) -> None:
        self.base.update(other.base)
        for name, units in other.indexes.items():
            self.indexes[name] = self.indexes.get(name, 0) + units
        self.items += other.items


@dataclass(frozen=True)
class Call:
    operation: str
    table: str | None
    index: str | None
    items_read: int
    items_returned: int
    failed: bool
    writes: WriteUnits | None
    params: Mapping[str, Any] = field(default_factory=dict, repr=False)  # the request, as sent

    def key_values(self) -> list[str]:
        """The string values a Query's or Scan's expressions compare with (its partition among them)."""
        values = self.params.get("ExpressionAttributeValues", {})
        return [value["S"] for value in values.values() if "S" in value]


@dataclass
class Recording:
    calls: list[Call] = field(default_factory=list)

    def operations(self) -> Counter[str]:
        return Counter(call.operation for call in self.calls)

    @property
    def count(self) -> int:
        return len(self.calls)

    def items_read(self, operation: str | None = None) -> int:
        return sum(call.items_read for call in self.calls if operation in (None, call.operation))

    @property
    def scans(self) -> list[Call]:
        return [call for call in self.calls if call.operation == "Scan"]

    def write_units(self) -> WriteUnits:
        total = WriteUnits()
        for call in self.calls:
            if call.writes is not None:
                total.add(call.writes)
        return total

    def clear(self) -> None:
        self.calls.clear()


# ------------------------------------------------------------ tables

@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    included: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableShape:
    keys: tuple[str, ...]
    indexes: tuple[Index, ...]

    @classmethod
    def of(cls, description: Mapping[str, Any]) -> TableShape:
        table = description["Table"]
        indexes = [*table.get("GlobalSecondaryIndexes", []), *table.get("LocalSecondaryIndexes", [])]
        return cls(
            keys=tuple(key["AttributeName"] for key in table["KeySchema"]),
            indexes=tuple(Index(
                name=index["IndexName"], keys=tuple(key["AttributeName"] for key in index["KeySchema"]),
                projection=index.get("Projection", {}).get("ProjectionType", "ALL"),
                included=tuple(index.get("Projection", {}).get("NonKeyAttributes", [])),
            ) for index in indexes))

    def key_of(self, item: Mapping[str, Any]) -> JSON:
        return {name: item[name] for name in self.keys}


def units(size: int) -> int:
    """Write units of one item of `size` bytes: 1 KB each, rounded up, at least one."""
    return max(1, math.ceil(size / KB))


def projected(index: Index, table_keys: tuple[str, ...], item: Mapping[str, Any]) -> JSON:
    """The index entry an item makes (its attributes in the index)."""
    if index.projection == "ALL":
        return dict(item)
    names = {*table_keys, *index.keys, *(index.included if index.projection == "INCLUDE" else ())}
    return {name: value for name, value in item.items() if name in names}


def index_units(index: Index, table_keys: tuple[str, ...], before: Mapping[str, Any] | None,
                after: Mapping[str, Any] | None) -> int:
    """Write units one item's change costs one secondary index."""
    was = before is not None and all(name in before for name in index.keys)
    now = after is not None and all(name in after for name in index.keys)
    old = projected(index, table_keys, before) if was and before is not None else None
    new = projected(index, table_keys, after) if now and after is not None else None
    if old is None:
        return 0 if new is None else units(item_size(new))
    if new is None:
        return units(item_size(old))
    if any(old[name] != new[name] for name in (*index.keys, *table_keys)):
        return units(item_size(old)) + units(item_size(new))
    if old != new:
        return units(max(item_size(old), item_size(new)))
    return 0


def item_write(shape: TableShape, table: str, action: str, key: Mapping[str, Any],
               before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, *,
               transactional: bool) -> ItemWrite:
    factor = TRANSACTION_FACTOR if transactional else 1
    sizes = [item_size(item) for item in (before, after) if item is not None]
    base = units(max(sizes, default=0)) * factor
    if action == "ConditionCheck":
        indexes = {index.name: 0 for index in shape.indexes}
    else:
        indexes = {index.name: index_units(index, shape.keys, before, after) for index in shape.indexes}
    text_key = tuple((name, str(next(iter(value.values())))) for name, value in sorted(key.items()))
    return ItemWrite(table=table, key=text_key, action=action, base=base, indexes=indexes)


# ------------------------------------------------------------ the recorder

Original = Callable[[Any, str, Mapping[str, Any]], Any]


class _Estimator:
    """Reads items and table shapes through the unrecorded call path."""

    def __init__(self, original: Original) -> None:
        self._original = original
        self._shapes: dict[str, TableShape] = {}

    def shape(self, client: Any, table: str) -> TableShape:
        if table not in self._shapes:
            self._shapes[table] = TableShape.of(self._original(client, "DescribeTable", {"TableName": table}))
        return self._shapes[table]

    def read(self, client: Any, table: str, key: Mapping[str, Any]) -> JSON | None:
        response = self._original(client, "GetItem", {"TableName": table, "Key": dict(key), "ConsistentRead": True})
        item = response.get("Item")
        return dict(item) if item else None

    def touched(self, client: Any, operation: str, params: Mapping[str, Any]) -> list[tuple[str, str, JSON]]:
        """(table, action, key) of each item the write call touches."""
        if operation == "TransactWriteItems":
            found = []
            for entry in params["TransactItems"]:
                ((action, request),) = entry.items()
                found.append((request["TableName"], action, self._key(client, request["TableName"], action, request)))
            return found
        if operation == "BatchWriteItem":
            found = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        found.append((table, "Put", self.shape(client, table).key_of(request["PutRequest"]["Item"])))
                    else:
                        found.append((table, "Delete", dict(request["DeleteRequest"]["Key"])))
            return found
        action = operation.removesuffix("Item")
        return [(params["TableName"], action, self._key(client, params["TableName"], action, params))]

    def _key(self, client: Any, table: str, action: str, request: Mapping[str, Any]) -> JSON:
        return self.shape(client, table).key_of(request["Item"]) if action == "Put" else dict(request["Key"])

    def cost(self, client: Any, operation: str, touched: list[tuple[str, str, JSON]],
             before: list[JSON | None]) -> WriteUnits:
        transactional = operation == "TransactWriteItems"
        total = WriteUnits()
        for (table, action, key), old in zip(touched, before, strict=True):
            shape = self.shape(client, table)
            new = self.read(client, table, key)
            written = item_write(shape, table, action, key, old, new, transactional=transactional)
            total.base[table] += written.base
            for index in shape.indexes:
                total.indexes[(table, index.name)] = total.indexes.get((table, index.name), 0) \
                    + written.indexes[index.name]
            total.items.append(written)
        return total


def _read_counts(operation: str, response: Mapping[str, Any]) -> tuple[int, int]:
    """(items read, items returned) of a read call's response."""
    if operation in ("Query", "Scan"):
        returned = int(response.get("Count", len(response.get("Items", []))))
        return int(response.get("ScannedCount", returned)), returned
    if operation == "GetItem":
        found = 1 if response.get("Item") else 0
        return found, found
    if operation == "BatchGetItem":
        returned = sum(len(items) for items in response.get("Responses", {}).values())
        return returned, returned
    if operation == "TransactGetItems":
        returned = sum(1 for entry in response.get("Responses", []) if entry.get("Item"))
        return returned, returned
    return 0, 0


def _is_dynamodb(client: Any) -> bool:
    return bool(client.meta.service_model.service_name == "dynamodb")


@contextmanager
def recording(*, writes: bool = True) -> Iterator[Recording]:
    """Record every DynamoDB call made under it (any client, this thread or another);
    `writes=False` skips the write estimate and reads nothing of its own."""
    import botocore.client

    record = Recording()
    original: Original = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]
    estimator = _Estimator(original)

    def recorded(client: Any, operation: str, params: Mapping[str, Any]) -> Any:
        if not _is_dynamodb(client):
            return original(client, operation, params)
        estimating = writes and operation in WRITE_OPERATIONS
        touched = estimator.touched(client, operation, params) if estimating else []
        before = [estimator.read(client, table, key) for table, _, key in touched]
        try:
            response = original(client, operation, params)
        except Exception:
            record.calls.append(Call(operation, params.get("TableName"), params.get("IndexName"), 0, 0, True, None,
                                     params))
            raise
        read, returned = _read_counts(operation, response)
        cost = estimator.cost(client, operation, touched, before) if estimating else None
        record.calls.append(Call(operation, params.get("TableName"), params.get("IndexName"), read, returned,
                                 False, cost, params))
        return response

    botocore.client.BaseClient._make_api_call = recorded  # type: ignore[attr-defined]
    try:
        yield record
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[attr-defined]
