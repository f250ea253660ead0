"""The reservation sweeper (ReservationSweepFunction, every five minutes) finishes
what requests that died left behind, then both sides agree and nothing is held."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from local.apigw import LambdaContext, scheduled_event
from local.template import load_template, schedule_functions
from tests.consistency import expire, plan_disagreements, scan, tenant_disagreements
from tests.integration.test_admin_plans import NEW_PLAN
from tests.support import ADMIN_API_KEY, invoke

Fault = Callable[..., None]
ACME = {"name": "Acme Corp", "email": "admin@acme.example", "type": "organization", "plan_id": "pln_business",
        "billing_cycle": "monthly", "subdomain_preference": "acme"}


def sweep() -> dict[str, int]:
    """One scheduled run, as EventBridge starts it."""
    [handler] = [handler for function_id, handler in schedule_functions(load_template())
                 if function_id == "ReservationSweepFunction"]
    module = importlib.import_module(handler.rsplit(".", 1)[0])
    event = scheduled_event("arn:aws:events:us-east-1:123456789012:rule/sweep", datetime.now(UTC))
    result: dict[str, int] = module.handler(event, LambdaContext(function_name="ReservationSweepFunction"))
    return result


def held(dynamodb: Any) -> list[dict[str, Any]]:
    return [item for table in ("tenants", "plans") for item in scan(dynamodb, table) if "held" in item]


@pytest.fixture
def everything_agrees(dynamodb: Any, stripe_sdk: Callable[[str], Any]) -> Callable[[], None]:
    def check() -> None:
        assert tenant_disagreements(dynamodb, stripe_sdk) == []
        assert plan_disagreements(dynamodb, stripe_sdk) == []
        assert held(dynamodb) == []

    return check


def clear_faults(emulator: Any) -> None:
    from tests.conftest import emulator_call

    emulator_call(emulator, "DELETE", "/_emulator/faults")


def test_a_tenant_create_that_could_not_undo_stripe_is_finished_by_the_sweeper(
        dynamodb: Any, stripe_fault: Fault, stripe_emulator: Any, stripe_sdk: Callable[[str], Any],
        everything_agrees: Callable[[], None]) -> None:
    stripe_fault("error", path_prefix="/v1/subscriptions")
    stripe_fault("error", path_prefix="/v1/customers/", method="DELETE")
    assert invoke("POST", "/v1/admin/tenants", body=ACME, api_key=ADMIN_API_KEY).status == 502
    clear_faults(stripe_emulator)
    assert sweep() == {"cleared": 0, "left": 0}, "a reservation that has not expired is another request's"
    expire(dynamodb, "tenants", "provisioning")
    assert sweep() == {"cleared": 1, "left": 0}
    assert list(stripe_sdk("live").v1.customers.list().auto_paging_iter()) == []
    everything_agrees()
    assert invoke("POST", "/v1/admin/tenants", body=ACME, api_key=ADMIN_API_KEY).status == 201, \
        "the subdomain and the plan's place are free again"


def test_while_stripe_stays_unreachable_the_sweeper_keeps_the_reservation_for_the_next_run(
        dynamodb: Any, stripe_fault: Fault, stripe_emulator: Any, everything_agrees: Callable[[], None]) -> None:
    stripe_fault("error", path_prefix="/v1/subscriptions")
    stripe_fault("error", path_prefix="/v1/customers/", method="DELETE")
    assert invoke("POST", "/v1/admin/tenants", body=ACME, api_key=ADMIN_API_KEY).status == 502
    expire(dynamodb, "tenants", "provisioning")
    assert sweep() == {"cleared": 0, "left": 1}
    assert len(held(dynamodb)) == 1
    clear_faults(stripe_emulator)
    expire(dynamodb, "tenants", "provisioning")
    assert sweep() == {"cleared": 1, "left": 0}
    everything_agrees()


def test_a_plan_create_that_could_not_undo_stripe_is_archived_by_the_sweeper(
        dynamodb: Any, stripe_fault: Fault, stripe_emulator: Any, everything_agrees: Callable[[], None]) -> None:
    stripe_fault("error", path_prefix="/v1/prices")
    stripe_fault("error", path_prefix="/v1/products/")
    assert invoke("POST", "/v1/admin/plans", body=NEW_PLAN, api_key=ADMIN_API_KEY).status == 502
    clear_faults(stripe_emulator)
    expire(dynamodb, "plans", "pending")
    assert sweep() == {"cleared": 1, "left": 0}
    everything_agrees()


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "/v1/admin/plans/pln_pro", {"display_name": "Pro Max", "price_monthly": 39, "price_annual": 390}),
    ("DELETE", "/v1/admin/plans/pln_trial", None),
])
def test_a_plan_change_that_could_not_undo_stripe_is_repaired_by_the_sweeper(
        dynamodb: Any, stripe_fault: Fault, stripe_emulator: Any, everything_agrees: Callable[[], None],
        method: str, path: str, body: Any) -> None:
    stripe_fault("error", path_prefix="/v1/products/")
    stripe_fault("error", path_prefix="/v1/prices/")
    assert invoke(method, path, body=body, api_key=ADMIN_API_KEY).status == 502
    clear_faults(stripe_emulator)
    expire(dynamodb, "plans", "pending")
    assert sweep() == {"cleared": 1, "left": 0}
    everything_agrees()


def left_behind_trial_extension(stripe_fault: Fault) -> dict[str, Any]:
    """A trial extension Stripe made but whose answer failed, then whose undo failed too:
    Stripe's trial end moved, the tenant's did not, and the hold says so."""
    body = {**ACME, "name": "Trialist", "email": "trials@trialist.example", "subdomain_preference": "trialist"}
    tenant: dict[str, Any] = invoke("POST", "/v1/admin/tenants", body=body, api_key=ADMIN_API_KEY).data
    stripe_fault("error_after", path_prefix="/v1/subscriptions/", count=1)
    stripe_fault("error", path_prefix="/v1/subscriptions/")
    reply = invoke("POST", f"/v1/admin/tenants/{tenant['id']}/extend-trial", body={"days": 30},
                   api_key=ADMIN_API_KEY)
    assert reply.status == 502
    return tenant


def test_a_tenant_change_that_could_not_undo_stripe_is_repaired_by_the_sweeper(
        dynamodb: Any, stripe_fault: Fault, stripe_emulator: Any, stripe_sdk: Callable[[str], Any],
        everything_agrees: Callable[[], None]) -> None:
    tenant = left_behind_trial_extension(stripe_fault)
    live = stripe_sdk("live").v1.subscriptions.retrieve(tenant["active_subscription"]["id"])
    stored_end = int(datetime.fromisoformat(tenant["active_subscription"]["trial_ends_at"]).timestamp())
    assert live.trial_end == stored_end + 30 * 86400, "Stripe kept the extension nobody stored"
    clear_faults(stripe_emulator)
    assert sweep() == {"cleared": 0, "left": 0}, "a hold that has not expired is another request's"
    expire(dynamodb, "tenants", "pending")
    assert sweep() == {"cleared": 1, "left": 0}
    assert stripe_sdk("live").v1.subscriptions.retrieve(live.id).trial_end == stored_end
    everything_agrees()


def left_behind_deletion(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A deletion whose function was stopped after Stripe canceled the subscription."""
    from saas_core.repositories import tenants

    body = {**ACME, "name": "Goner", "email": "bye@goner.example", "subdomain_preference": "goner"}
    tenant: dict[str, Any] = invoke("POST", "/v1/admin/tenants", body=body, api_key=ADMIN_API_KEY).data
    with monkeypatch.context() as patched:
        def killed(change: Any) -> None:
            raise TimeoutError("the function was stopped")  # stands for a Lambda killed mid-change

        patched.setattr(tenants, "save", killed)
        assert invoke("DELETE", f"/v1/admin/tenants/{tenant['id']}", api_key=ADMIN_API_KEY).status == 500
    return tenant


def test_a_deletion_that_died_after_stripe_canceled_is_finished_by_the_sweeper(
        dynamodb: Any, monkeypatch: pytest.MonkeyPatch, stripe_sdk: Callable[[str], Any],
        everything_agrees: Callable[[], None]) -> None:
    tenant = left_behind_deletion(monkeypatch)
    extended = invoke("POST", f"/v1/admin/tenants/{tenant['id']}/extend-trial", body={"days": 3},
                      api_key=ADMIN_API_KEY)
    assert extended.status == 409, "only a deletion finishes a deletion"
    live = stripe_sdk("live").v1.subscriptions.retrieve(tenant["active_subscription"]["id"])
    assert live.status == "canceled"
    assert len(held(dynamodb)) == 1
    expire(dynamodb, "tenants", "pending")
    assert sweep() == {"cleared": 1, "left": 0}
    details = invoke("GET", f"/v1/admin/tenants/{tenant['id']}", api_key=ADMIN_API_KEY).data
    assert details["deleted_at"]
    everything_agrees()


def test_the_sweeper_is_scheduled_every_five_minutes() -> None:
    events = load_template()["Resources"]["ReservationSweepFunction"]["Properties"]["Events"]
    assert [event["Properties"]["Schedule"] for event in events.values()] == ["rate(5 minutes)"]
