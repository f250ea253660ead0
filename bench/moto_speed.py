"""Bench only: moto's in-process Query fast enough for 10,000 tenants, with the same answers.

moto 5 answers every Query by sorting every item of the table (`Table.all_items`) and
comparing each one with the partition asked for: at 10,000 tenants (some 450,000 items)
that is over a minute per Query, for a read DynamoDB serves from one partition.
`partitioned_queries()` hands each Query only the items of the partition it asks for
(the table's own partition, or the items whose index hash attributes equal the
condition's), then lets moto's own code sort, page, filter and count them, so Items,
ScannedCount and LastEvaluatedKey are what moto would answer from the whole table.

The map from index hash values to items is built on first use and rebuilt when the
table's item count changes: it assumes that a table is not updated in place while it
is on (the list section only reads). Scans are left alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _items(table: Any) -> Iterator[Any]:
    for held in table.items.values():
        if table.range_key_attr:
            yield from held.values()
        else:
            yield held


def _item_count(table: Any) -> int:
    return sum(len(held) for held in table.items.values()) if table.range_key_attr else len(table.items)


class _Partitions:
    """Per table: index hash (attribute, value) -> the items that have it."""

    def __init__(self) -> None:
        self._maps: dict[int, tuple[int, dict[tuple[str, Any], list[Any]]]] = {}

    def of(self, table: Any) -> dict[tuple[str, Any], list[Any]]:
        count = _item_count(table)
        cached = self._maps.get(id(table))
        if cached is not None and cached[0] == count:
            return cached[1]
        names = {key["AttributeName"] for index in table.all_indexes() for key in index.schema
                 if key["KeyType"] == "HASH"}
        found: dict[tuple[str, Any], list[Any]] = defaultdict(list)
        for item in _items(table):
            for name in names:
                value = item.attrs.get(name)
                if value is not None:
                    found[(name, value)].append(item)
        self._maps[id(table)] = (count, found)
        return found


def _narrowed(table: Any, hash_key: Any, index_name: str | None,
              hash_key_conditions: list[tuple[str, Any]] | None, partitions: _Partitions) -> dict[Any, Any] | None:
    """The table's items as moto keeps them (hash -> range -> item), only those the Query can match;
    None when it cannot tell (moto then reads the whole table)."""
    if index_name is None:
        if hash_key is None or not table.range_key_attr:
            return None
        narrowed: dict[Any, Any] = defaultdict(dict)
        if hash_key in table.items:
            narrowed[hash_key] = table.items[hash_key]
        return narrowed
    if not hash_key_conditions or not table.range_key_attr:
        return None
    by_value = partitions.of(table)
    (first_name, first_value), *others = hash_key_conditions
    narrowed = defaultdict(dict)
    for item in by_value.get((first_name, first_value), []):
        if all(item.attrs.get(name) == value for name, value in others):
            narrowed[item.hash_key][item.range_key] = item
    return narrowed


@contextmanager
def partitioned_queries() -> Iterator[None]:
    from moto.dynamodb.models.table import Table

    original = Table.query
    partitions = _Partitions()

    def query(self: Any, hash_key: Any, range_comparison: Any, range_objs: Any, limit: Any,
              exclusive_start_key: Any, scan_index_forward: Any, projection_expressions: Any,
              index_name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        narrowed = _narrowed(self, hash_key, index_name, kwargs.get("hash_key_conditions"), partitions)
        if narrowed is None:
            return original(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                            scan_index_forward, projection_expressions, index_name, *args, **kwargs)
        whole = self.items
        self.items = narrowed
        try:
            return original(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                            scan_index_forward, projection_expressions, index_name, *args, **kwargs)
        finally:
            self.items = whole

    Table.query = query  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query = original  # type: ignore[method-assign]
