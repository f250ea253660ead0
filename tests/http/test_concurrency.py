"""Concurrent changes over HTTP on the local stack (each request in its own
execution environment, DynamoDB on moto's server, Stripe on the emulator),
then both sides read back and found in agreement."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from tests.consistency import plan_disagreements
from tests.http.conftest import Stack, request

CONCURRENT_CHANGES = 20


@pytest.fixture
def dynamodb(stack: Stack) -> Any:
    return boto3.resource("dynamodb", endpoint_url=stack.info["dynamodb_url"], region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")


def test_concurrent_price_changes_of_one_plan_are_one_success_and_conflicts(stack: Stack, dynamodb: Any) -> None:
    admin = {"X-Api-Key": stack.info["admin_api_key"]}
    plan = request("GET", f"{stack.url}/v1/admin/plans", headers=admin).data["items"]
    target = next(item for item in plan if item["id"] == "pln_business")

    def change(cents: int) -> int:
        body = {"price_monthly": 100 + cents / 100, "price_annual": 1000 + cents / 100}
        return request("PUT", f"{stack.url}/v1/admin/plans/{target['id']}", body=body, headers=admin).status

    with ThreadPoolExecutor(max_workers=CONCURRENT_CHANGES) as pool:
        statuses = sorted(pool.map(change, range(1, CONCURRENT_CHANGES + 1)))
    assert statuses.count(200) >= 1, statuses
    assert set(statuses) <= {200, 409}, "a lost race is a 409, never Stripe's idempotency_error as a 502"
    after = request("PUT", f"{stack.url}/v1/admin/plans/{target['id']}", headers=admin,
                    body={"price_monthly": 250, "price_annual": 2500})
    assert after.status == 200, "a later price change still works"
    assert plan_disagreements(dynamodb, stack.stripe) == []
