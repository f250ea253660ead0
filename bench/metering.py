"""`make bench`, metering section: the DynamoDB calls of one consume (aim: one write) and of one
limit check, counted at botocore with moto in-process and the default catalog."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.calls import counting_calls
from bench.tenants import local_stack

CONSUME_WRITE_AIM = 1
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")


def _tenant(admin_key: str) -> str:
    from local.invoke import invoke

    plan = invoke("POST", "/v1/admin/plans", api_key=admin_key, body={
        "name": "Bench Metered", "type": "organization", "tier": "bench-metered", "price_monthly": 10,
        "price_annual": 100, "limits": {"max_workflows_per_workspace": 1000}})
    tenant = invoke("POST", "/v1/admin/tenants", api_key=admin_key, body={
        "name": "Bench Metering", "email": "metering@bench.example", "type": "organization",
        "plan_id": plan.data["id"], "billing_cycle": "monthly", "owner_user_id": "user-metering"})
    return str(tenant.data["id"])


def _row(label: str, counts: Mapping[str, int], status: int) -> str:
    dynamodb = {name.split(":", 1)[1]: n for name, n in counts.items() if name.startswith("dynamodb:")}
    writes = sum(n for operation, n in dynamodb.items() if operation in WRITES)
    operations = ", ".join(f"{operation}×{n}" for operation, n in sorted(dynamodb.items()))
    return f"{label:44} {sum(dynamodb.values()):>5} {writes:>6}  {operations}  [{status}]"


def metering_costs(env: Mapping[str, str]) -> None:
    with local_stack(env):
        from local.invoke import invoke

        admin_key = env["ADMIN_API_KEY"]
        tenant_id = _tenant(admin_key)
        requests: list[tuple[str, str, dict[str, Any]]] = [
            ("consume", "usage", {"metric": "workflows", "amount": 1}),
            ("consume with an idempotency key", "usage", {"metric": "workflows", "amount": 1, "idempotency_key": "k1"}),
            ("the same key replayed", "usage", {"metric": "workflows", "amount": 1, "idempotency_key": "k1"}),
            ("consume past the limit (429)", "usage", {"metric": "workflows", "amount": 999}),
            ("limits/check", "limits/check", {"limit_type": "workflows", "increment": 1}),
        ]
        print("\nMetering: DynamoDB calls of one request (moto in-process); a consume aims at "
              f"{CONSUME_WRITE_AIM} write (a keyed one is one transaction of the key and the counter)\n")
        print(f"{'request':44} {'calls':>5} {'writes':>6}  operations")
        for label, route, body in requests:
            with counting_calls() as counts:
                reply = invoke("POST", f"/v1/tenants/{tenant_id}/{route}", api_key=admin_key, body=body)
            print(_row(label, counts, reply.status))
