"""Tenant create under every failure, one step at a time: Stripe refusing, failing
after it acted, answering too late, DynamoDB failing between the steps, the
undo failing too, a retry, a race. Each case ends by reading both sides (the
SDK and DynamoDB) and finding them in agreement."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.apigw import LambdaContext
from local.default_catalog import SEEDER
from saas_core import settings, stripe_gateway
from saas_core.models.plans import PlanUpdateIn
from saas_core.repositories import tenants as tenants_repository
from saas_core.services import plans_admin
from tests.consistency import expire, scan, tenant_disagreements
from tests.support import ADMIN_API_KEY, invoke

ACME = {"name": "Acme Corp", "email": "admin@acme.example", "type": "organization", "plan_id": "pln_business",
        "billing_cycle": "monthly", "subdomain_preference": "acme", "owner_user_id": "user-acme"}
Fault = Callable[..., None]


@pytest.fixture
def agree(dynamodb: Any, stripe_sdk: Callable[[str], Any]) -> Callable[[], None]:
    def check() -> None:
        assert tenant_disagreements(dynamodb, stripe_sdk) == []

    return check


def create(body: dict[str, Any] | None = None, key: str | None = None, **kwargs: Any) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return invoke("POST", "/v1/admin/tenants", body=body or ACME, headers=headers, api_key=ADMIN_API_KEY, **kwargs)


def live_customers(stripe_sdk: Callable[[str], Any]) -> list[Any]:
    return list(stripe_sdk("live").v1.customers.list({"limit": 100}).auto_paging_iter())


def reservations(dynamodb: Any) -> list[dict[str, Any]]:
    return [item["provisioning"] for item in scan(dynamodb, "tenants") if "provisioning" in item]


def _client_error(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "InternalServerError", "Message": "DynamoDB had a bad moment"}}, operation)


# ---------------------------------------------------- Stripe failing at each step

STRIPE_STEPS = [
    # (fault mode, path): refused before acting, failed after acting, acted but the answer was lost
    ("error", "/v1/customers"), ("error_after", "/v1/customers"), ("lost", "/v1/customers"),
    ("error", "/v1/subscriptions"), ("error_after", "/v1/subscriptions"), ("lost", "/v1/subscriptions"),
]


@pytest.mark.parametrize(("mode", "path"), STRIPE_STEPS)
def test_stripe_failing_at_any_step_is_a_502_that_leaves_nothing_on_either_side(
        dynamodb: Any, stripe_fault: Fault, stripe_sdk: Callable[[str], Any], agree: Callable[[], None],
        mode: str, path: str) -> None:
    stripe_fault(mode, path_prefix=path, seconds=2)
    reply = create()
    assert reply.status == 502, reply.body
    assert live_customers(stripe_sdk) == [], "the customer made before the failure is deleted again"
    assert reservations(dynamodb) == []
    agree()


def test_a_502_says_what_failed_in_the_products_words(catalog: dict[str, Any], stripe_fault: Fault) -> None:
    stripe_fault("error", path_prefix="/v1/subscriptions", status=400)
    reply = create()
    assert reply.status == 502
    assert reply.body["message"].startswith("Stripe refused or failed while trying to create the subscription")
    assert "price_" not in reply.body["message"]
    assert "emulator" not in reply.body["message"], "Stripe's own text goes to the log, not to the caller"


# ---------------------------------------------------- DynamoDB failing between the steps

@pytest.mark.parametrize("step", ["record_customer", "activate"])
def test_dynamodb_failing_after_stripe_acted_undoes_stripe(
        dynamodb: Any, monkeypatch: pytest.MonkeyPatch, stripe_sdk: Callable[[str], Any],
        agree: Callable[[], None], step: str) -> None:
    def fails(*args: Any, **kwargs: Any) -> None:
        raise _client_error(step)

    monkeypatch.setattr(tenants_repository, step, fails)
    reply = create()
    assert reply.status == 500
    assert live_customers(stripe_sdk) == []
    assert reservations(dynamodb) == []
    agree()


def test_an_activation_whose_answer_was_lost_is_a_success(
        dynamodb: Any, monkeypatch: pytest.MonkeyPatch, stripe_sdk: Callable[[str], Any],
        agree: Callable[[], None]) -> None:
    activate = tenants_repository.activate

    def commits_then_times_out(*args: Any, **kwargs: Any) -> None:
        activate(*args, **kwargs)
        raise _client_error("TransactWriteItems")

    monkeypatch.setattr(tenants_repository, "activate", commits_then_times_out)
    reply = create()
    assert reply.status == 201, reply.body
    assert [customer.id for customer in live_customers(stripe_sdk)] == [reply.data["stripe_customer_id"]]
    agree()


# ---------------------------------------------------- the undo failing too

@pytest.fixture
def stripe_then_undo_fail(stripe_fault: Fault) -> None:
    stripe_fault("error", path_prefix="/v1/subscriptions")
    stripe_fault("error", path_prefix="/v1/customers/", method="DELETE")


def test_when_stripe_cannot_be_undone_the_reservation_stays_naming_the_customer(
        dynamodb: Any, stripe_then_undo_fail: None, stripe_sdk: Callable[[str], Any],
        agree: Callable[[], None]) -> None:
    reply = create()
    assert reply.status == 502
    [customer] = live_customers(stripe_sdk)
    [held] = reservations(dynamodb)
    assert held["state"] == "failed"
    assert held["stripe_customer_id"] == customer.id
    assert invoke("GET", "/v1/admin/tenants/" + customer.metadata["tenant_id"], api_key=ADMIN_API_KEY).status == 404
    agree()


def test_a_retry_with_the_same_key_resumes_with_the_same_customer(
        dynamodb: Any, stripe_then_undo_fail: None, stripe_emulator: Any, stripe_sdk: Callable[[str], Any],
        agree: Callable[[], None]) -> None:
    from tests.conftest import emulator_call

    assert create(key="acme-1").status == 502
    [customer] = live_customers(stripe_sdk)
    emulator_call(stripe_emulator, "DELETE", "/_emulator/faults")
    expire(dynamodb, "tenants", "provisioning")
    reply = create(key="acme-1")
    assert reply.status == 201, reply.body
    assert reply.data["stripe_customer_id"] == customer.id, "the retry finds the customer instead of a second one"
    assert len(live_customers(stripe_sdk)) == 1
    assert reservations(dynamodb) == []
    agree()


def test_a_new_create_for_the_subdomain_clears_an_abandoned_reservation(
        dynamodb: Any, stripe_then_undo_fail: None, stripe_emulator: Any, stripe_sdk: Callable[[str], Any],
        agree: Callable[[], None]) -> None:
    from tests.conftest import emulator_call

    assert create().status == 502
    emulator_call(stripe_emulator, "DELETE", "/_emulator/faults")
    expire(dynamodb, "tenants", "provisioning")
    reply = create({**ACME, "email": "second@acme.example"})
    assert reply.status == 201, reply.body
    assert [customer.id for customer in live_customers(stripe_sdk)] == [reply.data["stripe_customer_id"]]
    agree()


def test_a_live_reservation_is_another_request_at_work(dynamodb: Any, stripe_then_undo_fail: None) -> None:
    assert create(key="acme-2").status == 502
    for item in scan(dynamodb, "tenants"):
        if "provisioning" in item:
            item["provisioning"]["state"] = "working"
            dynamodb.Table("tenants").put_item(Item=item)
    reply = create(key="acme-2")
    assert reply.status == 409
    assert "being created" in reply.body["message"]


# ---------------------------------------------------- races and retries

def test_transactions_cancelled_by_a_concurrent_one_are_tried_again(
        dynamodb: Any, transaction_conflicts: Callable[[int], None], agree: Callable[[], None]) -> None:
    transaction_conflicts(3)  # sign-ups at the same moment all count on the plan's item
    reply = create()
    assert reply.status == 201, reply.body
    agree()


def test_a_conflict_that_lasts_is_a_409_and_leaves_nothing(
        dynamodb: Any, transaction_conflicts: Callable[[int], None], stripe_sdk: Callable[[str], Any],
        agree: Callable[[], None]) -> None:
    transaction_conflicts(100)
    reply = create()
    assert reply.status == 409
    assert live_customers(stripe_sdk) == []
    agree()


def test_a_subdomain_taken_meanwhile_is_a_409_before_stripe_is_called(
        dynamodb: Any, monkeypatch: pytest.MonkeyPatch, stripe_sdk: Callable[[str], Any],
        agree: Callable[[], None]) -> None:
    reserve = tenants_repository.reserve

    def someone_else_first(*args: Any, **kwargs: Any) -> None:
        dynamodb.Table("tenants").put_item(Item={"pk": "SUBDOMAIN#acme", "sk": "SUBDOMAIN", "tenant_id": "tnt_other"})
        reserve(*args, **kwargs)

    monkeypatch.setattr(tenants_repository, "reserve", someone_else_first)
    reply = create()
    assert reply.status == 409
    assert live_customers(stripe_sdk) == []


def test_a_plan_archived_meanwhile_refuses_the_tenant_before_stripe_is_called(
        dynamodb: Any, monkeypatch: pytest.MonkeyPatch, stripe_sdk: Callable[[str], Any],
        agree: Callable[[], None]) -> None:
    reserve = tenants_repository.reserve

    def archived_first(*args: Any, **kwargs: Any) -> None:
        dynamodb.Table("plans").update_item(Key={"pk": "PLAN#pln_business", "sk": "PLAN"},
                                            UpdateExpression="SET is_archived = :yes",
                                            ExpressionAttributeValues={":yes": True})
        reserve(*args, **kwargs)

    monkeypatch.setattr(tenants_repository, "reserve", archived_first)
    reply = create()
    assert reply.status == 400
    assert live_customers(stripe_sdk) == []
    assert reservations(dynamodb) == []
    agree()


def test_a_signup_racing_a_reprice_subscribes_to_the_new_price(
        dynamodb: Any, monkeypatch: pytest.MonkeyPatch, stripe_sdk: Callable[[str], Any],
        agree: Callable[[], None]) -> None:
    create_subscription = stripe_gateway.create_subscription

    def repriced_meanwhile(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(stripe_gateway, "create_subscription", create_subscription)
        plans_admin.update_plan("pln_business", PlanUpdateIn(price_monthly=Decimal(109), price_annual=Decimal(1090)),
                                SEEDER)  # the old prices are retired now
        return create_subscription(*args, **kwargs)

    monkeypatch.setattr(stripe_gateway, "create_subscription", repriced_meanwhile)
    reply = create()
    assert reply.status == 201, reply.body
    subscription = stripe_sdk("live").v1.subscriptions.retrieve(reply.data["active_subscription"]["id"])
    assert subscription["items"].data[0].price.unit_amount == 10900
    assert reply.data["active_subscription"]["plan_version"] == "2.0.0"
    agree()


def test_an_archived_plan_takes_no_new_tenants(dynamodb: Any) -> None:
    assert invoke("PUT", "/v1/admin/plans/pln_business", body={"is_archived": True},
                  api_key=ADMIN_API_KEY).status == 200
    reply = create()
    assert reply.status == 400
    assert "archived" in reply.body["message"]


def test_a_retry_with_the_same_key_and_a_corrected_body_succeeds(
        dynamodb: Any, stripe_fault: Fault, stripe_emulator: Any, agree: Callable[[], None]) -> None:
    """Stripe idempotency keys follow the parameters: the corrected retry is not Stripe's idempotency_error."""
    from tests.conftest import emulator_call

    stripe_fault("error", path_prefix="/v1/subscriptions")
    assert create(key="acme-3").status == 502
    emulator_call(stripe_emulator, "DELETE", "/_emulator/faults")
    reply = create({**ACME, "billing_cycle": "annual", "name": "Acme Corporation"}, key="acme-3")
    assert reply.status == 201, reply.body
    assert reply.data["name"] == "Acme Corporation"
    agree()


# ---------------------------------------------------- the deadline

@pytest.fixture
def patient_stripe(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Production's timeouts (8 s a call, 2 retries) instead of the tests' short ones."""
    monkeypatch.setenv("STRIPE_TIMEOUT_SECONDS", "8")
    monkeypatch.setenv("STRIPE_MAX_RETRIES", "2")
    settings.get_settings.cache_clear()
    stripe_gateway._client_for_key.cache_clear()
    yield
    settings.get_settings.cache_clear()
    stripe_gateway._client_for_key.cache_clear()


def test_a_hanging_stripe_and_a_hanging_undo_still_end_before_the_function_is_killed(
        dynamodb: Any, stripe_fault: Fault, patient_stripe: None, stripe_sdk: Callable[[str], Any],
        agree: Callable[[], None]) -> None:
    stripe_fault("hang", path_prefix="/v1/subscriptions", seconds=60)
    stripe_fault("hang", path_prefix="/v1/customers/", method="DELETE", seconds=60)
    context = LambdaContext(function_name="AdminCreateTenantFunction", timeout_seconds=10)
    reply = create(context=context)
    assert reply.status == 502
    assert context.get_remaining_time_in_millis() > 0, "the function answered before Lambda would kill it"
    [held] = reservations(dynamodb)
    assert held["state"] == "failed"
    agree()
