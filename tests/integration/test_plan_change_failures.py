"""Plan create, update and delete under failure, one step at a time, then both
sides read back (the SDK and DynamoDB) and found in agreement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.default_catalog import SEEDER
from saas_core import stripe_gateway
from saas_core.errors import Conflict, StripeUnavailable
from saas_core.models.plans import PlanUpdateIn
from saas_core.repositories import plans as plans_repository
from saas_core.services import plans_admin
from tests.consistency import expire, plan_disagreements, scan
from tests.integration.test_admin_plans import NEW_PLAN
from tests.support import ADMIN_API_KEY, invoke

Fault = Callable[..., None]


@pytest.fixture
def agree(dynamodb: Any, stripe_sdk: Callable[[str], Any]) -> Callable[[], None]:
    def check() -> None:
        assert plan_disagreements(dynamodb, stripe_sdk) == []

    return check


def visible_plan_ids() -> set[str]:
    listed = invoke("GET", "/v1/admin/plans", query={"per_page": "100"}, api_key=ADMIN_API_KEY).data["items"]
    return {plan["id"] for plan in listed}


def holds(dynamodb: Any) -> list[dict[str, Any]]:
    return [item["pending"] for item in scan(dynamodb, "plans") if item["sk"] == "PLAN" and "pending" in item]


# ------------------------------------------------------------------ create

@pytest.mark.parametrize(("mode", "path"), [
    ("error", "/v1/products"), ("error_after", "/v1/products"), ("lost", "/v1/products"),
    ("error", "/v1/prices"), ("error_after", "/v1/prices"), ("lost", "/v1/prices"),
])
def test_a_create_failing_at_stripe_leaves_no_plan_and_no_live_product(
        dynamodb: Any, stripe_fault: Fault, agree: Callable[[], None], mode: str, path: str) -> None:
    before = visible_plan_ids()
    # Once: the first create of that kind fails, the undo after it goes through.
    stripe_fault(mode, path_prefix=path, count=2, seconds=2)
    reply = invoke("POST", "/v1/admin/plans", body=NEW_PLAN, api_key=ADMIN_API_KEY)
    assert reply.status == 502, reply.body
    assert visible_plan_ids() == before
    agree()


def test_a_create_failing_to_store_archives_what_it_made_in_stripe(
        dynamodb: Any, monkeypatch: pytest.MonkeyPatch, agree: Callable[[], None]) -> None:
    def store_fails(*args: Any, **kwargs: Any) -> None:
        raise Conflict("DynamoDB refused")

    monkeypatch.setattr(plans_repository, "create", store_fails)
    reply = invoke("POST", "/v1/admin/plans", body=NEW_PLAN, api_key=ADMIN_API_KEY)
    assert reply.status == 409
    assert [item for item in scan(dynamodb, "plans") if item["sk"] == "PLAN" and "Startup" in str(item)] == []
    agree()


def test_a_create_whose_undo_fails_keeps_an_invisible_reservation_naming_the_product(
        dynamodb: Any, stripe_fault: Fault, agree: Callable[[], None]) -> None:
    stripe_fault("error", path_prefix="/v1/prices")  # the prices cannot be made,
    stripe_fault("error", path_prefix="/v1/products/")  # nor the product archived again
    reply = invoke("POST", "/v1/admin/plans", body=NEW_PLAN, api_key=ADMIN_API_KEY,
                   headers={"Idempotency-Key": "startup"})
    assert reply.status == 502
    [reservation] = [item for item in scan(dynamodb, "plans") if item.get("kind") == "plan_reservation"]
    plan_id = reservation["pk"].removeprefix("PLAN#")
    assert plan_id not in visible_plan_ids()
    assert invoke("GET", f"/v1/plans/{plan_id}").status == 404
    agree()


def test_a_retry_of_a_create_whose_undo_failed_resumes_it(
        dynamodb: Any, stripe_fault: Fault, stripe_emulator: Any, stripe_sdk: Callable[[str], Any],
        agree: Callable[[], None]) -> None:
    from tests.conftest import emulator_call

    stripe_fault("error", path_prefix="/v1/prices")
    stripe_fault("error", path_prefix="/v1/products/")
    assert invoke("POST", "/v1/admin/plans", body=NEW_PLAN, api_key=ADMIN_API_KEY,
                  headers={"Idempotency-Key": "startup"}).status == 502
    emulator_call(stripe_emulator, "DELETE", "/_emulator/faults")
    expire(dynamodb, "plans", "pending")
    reply = invoke("POST", "/v1/admin/plans", body=NEW_PLAN, api_key=ADMIN_API_KEY,
                   headers={"Idempotency-Key": "startup"})
    assert reply.status == 201, reply.body
    product = stripe_sdk("live").v1.products.retrieve(reply.data["id"])
    assert product.active is True
    agree()


# ------------------------------------------------------------------ a write whose answer was lost

def _commits_then_fails(write: Callable[..., None]) -> Callable[..., None]:
    def lost_answer(*args: Any, **kwargs: Any) -> None:
        write(*args, **kwargs)
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "answer lost"}}, "TransactWriteItems")

    return lost_answer


@pytest.mark.parametrize(("write", "method", "path", "body", "status"), [
    ("create", "POST", "/v1/admin/plans", NEW_PLAN, 201),
    ("save_edit", "PUT", "/v1/admin/plans/pln_pro", {"price_monthly": 39, "price_annual": 390}, 200),
    ("delete", "DELETE", "/v1/admin/plans/pln_trial", None, 200),
])
def test_a_change_stored_although_its_answer_was_lost_is_a_success_and_nothing_is_undone(
        dynamodb: Any, monkeypatch: pytest.MonkeyPatch, agree: Callable[[], None],
        write: str, method: str, path: str, body: Any, status: int) -> None:
    monkeypatch.setattr(plans_repository, write, _commits_then_fails(getattr(plans_repository, write)))
    reply = invoke(method, path, body=body, api_key=ADMIN_API_KEY)
    assert reply.status == status, reply.body
    assert holds(dynamodb) == []
    agree()


# ------------------------------------------------------------------ update

def test_a_price_change_failing_at_stripe_changes_nothing(
        dynamodb: Any, stripe_fault: Fault, agree: Callable[[], None], catalog: dict[str, Any]) -> None:
    stripe_fault("error_after", path_prefix="/v1/prices", count=2)
    reply = invoke("PUT", "/v1/admin/plans/pln_pro", body={"price_monthly": 39, "price_annual": 390},
                   api_key=ADMIN_API_KEY)
    assert reply.status == 502
    assert invoke("GET", "/v1/plans/pln_pro").data["price_monthly"] == 29.0
    assert holds(dynamodb) == []
    agree()


def test_a_price_change_losing_the_race_retires_its_new_prices(
        dynamodb: Any, monkeypatch: pytest.MonkeyPatch, agree: Callable[[], None]) -> None:
    def someone_saved_first(*args: Any, **kwargs: Any) -> None:
        raise Conflict("The plan was changed meanwhile; reload and retry")

    monkeypatch.setattr(plans_repository, "save_edit", someone_saved_first)
    reply = invoke("PUT", "/v1/admin/plans/pln_pro", body={"price_monthly": 39, "price_annual": 390},
                   api_key=ADMIN_API_KEY)
    assert reply.status == 409
    assert holds(dynamodb) == []
    agree()


def test_a_second_change_while_one_holds_the_plan_is_a_409_before_stripe(
        dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    create_prices = stripe_gateway.create_prices
    refused: list[str] = []

    def meanwhile_another_admin(*args: Any, **kwargs: Any) -> Any:
        if not refused:
            with pytest.raises(Conflict) as other:
                plans_admin.update_plan("pln_pro", PlanUpdateIn(price_monthly=45, price_annual=450), SEEDER)
            refused.append(other.value.message)
        return create_prices(*args, **kwargs)

    monkeypatch.setattr(stripe_gateway, "create_prices", meanwhile_another_admin)
    reply = invoke("PUT", "/v1/admin/plans/pln_pro", body={"price_monthly": 39, "price_annual": 390},
                   api_key=ADMIN_API_KEY)
    assert reply.status == 200
    assert refused == ["Another change to this plan is in progress; retry shortly"]
    assert invoke("GET", "/v1/plans/pln_pro").data["price_monthly"] == 39.0


def test_later_price_changes_work_after_one_lost_a_race(
        dynamodb: Any, monkeypatch: pytest.MonkeyPatch, agree: Callable[[], None]) -> None:
    save = plans_repository.save_edit
    calls: list[int] = []

    def first_save_loses(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise Conflict("The plan was changed meanwhile; reload and retry")
        save(*args, **kwargs)

    monkeypatch.setattr(plans_repository, "save_edit", first_save_loses)
    body = {"price_monthly": 39, "price_annual": 390}
    assert invoke("PUT", "/v1/admin/plans/pln_pro", body=body, api_key=ADMIN_API_KEY).status == 409
    assert invoke("PUT", "/v1/admin/plans/pln_pro", body=body, api_key=ADMIN_API_KEY).status == 200
    assert invoke("PUT", "/v1/admin/plans/pln_pro", body={"price_monthly": 41, "price_annual": 410},
                  api_key=ADMIN_API_KEY).status == 200
    agree()


def test_a_rename_with_a_price_change_reaches_stripe(
        stripe_sdk: Callable[[str], Any], agree: Callable[[], None]) -> None:
    reply = invoke("PUT", "/v1/admin/plans/pln_pro",
                   body={"display_name": "Pro 2027", "price_monthly": 39, "price_annual": 390}, api_key=ADMIN_API_KEY)
    assert reply.status == 200
    assert stripe_sdk("live").v1.products.retrieve(reply.data["stripe"]["live"]["product_id"]).name == "Pro 2027"
    agree()


def test_an_update_whose_undo_failed_is_repaired_by_the_next_change(
        dynamodb: Any, stripe_fault: Fault, stripe_emulator: Any, agree: Callable[[], None]) -> None:
    from tests.conftest import emulator_call

    # New prices are made, then the product cannot be renamed, nor the new prices retired.
    stripe_fault("error", path_prefix="/v1/products/", count=100)
    stripe_fault("error", path_prefix="/v1/prices/", count=100)
    reply = invoke("PUT", "/v1/admin/plans/pln_pro", body={"display_name": "Pro Max", "price_monthly": 39,
                                                           "price_annual": 390}, api_key=ADMIN_API_KEY)
    assert reply.status == 502
    emulator_call(stripe_emulator, "DELETE", "/_emulator/faults")
    assert plan_disagreements(dynamodb, _sdk(stripe_emulator)) != [], "Stripe still holds the dead change's prices"
    assert len(holds(dynamodb)) == 1, "the hold stays, naming the change to repair"
    expire(dynamodb, "plans", "pending")
    assert invoke("PUT", "/v1/admin/plans/pln_pro", body={"description": "Repaired"},
                  api_key=ADMIN_API_KEY).status == 200
    assert holds(dynamodb) == []
    agree()


def _sdk(emulator: Any) -> Callable[[str], Any]:
    import stripe

    return lambda account: stripe.StripeClient(f"sk_{account}_emulator", base_addresses={"api": emulator.url})


# ------------------------------------------------------------------ delete

def test_a_delete_failing_midway_at_stripe_restores_what_it_archived(
        dynamodb: Any, stripe_fault: Fault, stripe_emulator: Any, agree: Callable[[], None]) -> None:
    from tests.conftest import emulator_call

    # The prices retire, then archiving the product fails (both tries of the SDK).
    stripe_fault("error", path_prefix="/v1/products/", count=2)
    reply = invoke("DELETE", "/v1/admin/plans/pln_trial", api_key=ADMIN_API_KEY)
    assert reply.status == 502
    emulator_call(stripe_emulator, "DELETE", "/_emulator/faults")
    assert holds(dynamodb) == []
    agree()
    tenant = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Trial Co", "email": "owner@trial.example", "type": "personal", "plan_id": "pln_trial",
        "billing_cycle": "monthly"})
    assert tenant.status == 201, "the plan's prices are live again, so new tenants can take it"


def test_a_delete_whose_restore_fails_is_repaired_by_the_next_change(
        dynamodb: Any, stripe_fault: Fault, stripe_emulator: Any, monkeypatch: pytest.MonkeyPatch,
        agree: Callable[[], None]) -> None:
    from tests.conftest import emulator_call

    set_prices_active = stripe_gateway.set_prices_active

    def restoring_fails(price_ids: Any, account: str, *, active: bool) -> None:
        if active:
            raise StripeUnavailable("Stripe did not answer in time")
        set_prices_active(price_ids, account, active=active)

    monkeypatch.setattr(stripe_gateway, "set_prices_active", restoring_fails)
    stripe_fault("error", path_prefix="/v1/products/", count=100)
    assert invoke("DELETE", "/v1/admin/plans/pln_trial", api_key=ADMIN_API_KEY).status == 502
    monkeypatch.setattr(stripe_gateway, "set_prices_active", set_prices_active)
    emulator_call(stripe_emulator, "DELETE", "/_emulator/faults")
    assert plan_disagreements(dynamodb, _sdk(stripe_emulator)) != [], "the plan's prices are still retired"
    expire(dynamodb, "plans", "pending")
    trial_tenant = {"name": "Trial Co", "email": "owner@trial.example", "type": "personal", "plan_id": "pln_trial",
                    "billing_cycle": "monthly"}
    refused = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body=trial_tenant)
    assert refused.status == 400, "a clear refusal while Stripe is not repaired, not a 502 from its archived prices"
    assert invoke("PUT", "/v1/admin/plans/pln_trial", body={"description": "Still here"},
                  api_key=ADMIN_API_KEY).status == 200
    agree()
    assert invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body=trial_tenant).status == 201
