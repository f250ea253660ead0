"""The revenue ledger: one entry per paid invoice, and per-day and per-month aggregates.

- `TENANT#<id> / INVOICE#<invoice id>`: the ledger entry (amount, currency, plan, tier, paid_at),
  written once: the put is conditional on its absence, so a redelivered `invoice.paid` adds nothing.
- `REVENUE#DAY#<yyyy-mm-dd> / <currency>#<shard>` and `REVENUE#MONTH#<yyyy-mm> / <currency>#<shard>`:
  sums kept in the same transaction as the entry (`amount_minor`, `invoices`, and `tier#<tier>` per
  tier). Renewals bunch up at the start of a month, so each period's sum is spread over a few
  items (by invoice id) rather than hammering one; analytics add up the shards.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from saas_core.access import Principal
from saas_core.clock import from_unix, iso
from saas_core.errors import Conflict
from saas_core.repositories import dynamo
from saas_core.settings import get_settings

REVENUE_SHARDS = 4


@dataclass(frozen=True)
class Payment:
    tenant_id: str
    invoice_id: str
    amount_minor: int
    currency: str
    plan_id: str
    tier: str
    paid_at: int  # unix seconds


class _AlreadyRecorded(Conflict):
    """This invoice is in the ledger already."""


def _shard(invoice_id: str) -> int:
    return int(hashlib.sha256(invoice_id.encode()).hexdigest(), 16) % REVENUE_SHARDS


def _aggregate(table: str, pk: str, payment: Payment) -> dynamo.Write:
    return dynamo.update(
        table, pk, f"{payment.currency}#{_shard(payment.invoice_id)}",
        "ADD amount_minor :amount, invoices :one, #tier :amount SET currency = :currency",
        names={"#tier": f"tier#{payment.tier}"},
        values={":amount": payment.amount_minor, ":one": 1, ":currency": payment.currency})


def record(payment: Payment, actor: Principal, reason: str) -> bool:
    """The payment in the ledger and the aggregates, once; False when it was there already."""
    table = get_settings().tenants_table
    paid_at = iso(from_unix(payment.paid_at))
    entry = {"invoice_id": payment.invoice_id, "amount_minor": payment.amount_minor, "currency": payment.currency,
             "tenant_id": payment.tenant_id, "plan_id": payment.plan_id, "tier": payment.tier, "paid_at": paid_at}
    tenant_pk = f"TENANT#{payment.tenant_id}"
    writes = [
        dynamo.put(table, {"pk": tenant_pk, "sk": f"INVOICE#{payment.invoice_id}", "kind": "revenue", **entry},
                   condition="attribute_not_exists(pk)", on_condition_failed=_AlreadyRecorded("recorded")),
        _aggregate(table, f"REVENUE#DAY#{paid_at[:10]}", payment),
        _aggregate(table, f"REVENUE#MONTH#{paid_at[:7]}", payment),
        dynamo.audit(table, tenant_pk, actor=actor, action="tenant.invoice_paid", before=None, after=entry,
                     reason=reason),
    ]
    try:
        dynamo.transact(writes)
    except _AlreadyRecorded:
        return False
    return True


def entry(tenant_id: str, invoice_id: str) -> dict[str, Any] | None:
    return dynamo.get(get_settings().tenants_table, f"TENANT#{tenant_id}", f"INVOICE#{invoice_id}")


def period_total(period_pk: str, currency: str) -> tuple[int, int]:
    """(amount_minor, invoices) of `REVENUE#DAY#...` or `REVENUE#MONTH#...` in a currency, over its shards."""
    table = get_settings().tenants_table
    amount = invoices = 0
    for shard in range(REVENUE_SHARDS):
        item = dynamo.get(table, period_pk, f"{currency}#{shard}") or {}
        amount += int(item.get("amount_minor", 0))
        invoices += int(item.get("invoices", 0))
    return amount, invoices
