"""Each function's IAM policy in template.yaml covers exactly the DynamoDB calls the
function makes: every call it makes is allowed (else AccessDenied in AWS), and
nothing it never calls is granted (least privilege). The calls are recorded
while each route of the route table runs its success path and its failure paths."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.client
import pytest

from local.invoke import handler_module
from local.sample_events import SAMPLE_TENANT_ID, concrete_path, sample_for
from local.template import Route
from saas_core.access import Access
from saas_core.repositories import plans as plans_repository
from saas_core.repositories import tenants as tenants_repository
from tests.support import ADMIN_API_KEY, SAMPLE_PREREQUISITES, TABLE_NAMES, access_of, invoke, routes, token
from tests.unit.test_template_operations import granted_dynamodb_actions

TABLE_IDS = {name: table_id for table_id, name in TABLE_NAMES.items()}
TRANSACTION_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                       "ConditionCheck": "ConditionCheckItem"}


def _table_of(request: dict[str, Any]) -> str:
    table = TABLE_IDS[request["TableName"]]
    return f"{table}/index" if request.get("IndexName") else table


def _dynamodb_grants_needed(operation: str, params: dict[str, Any]) -> set[tuple[str, str]]:
    """(table, IAM action) pairs one call needs, as IAM evaluates them."""
    if operation == "TransactWriteItems":
        return {(TABLE_IDS[action["TableName"]], f"dynamodb:{TRANSACTION_ACTIONS[kind]}")
                for item in params["TransactItems"] for kind, action in item.items()}
    if operation == "BatchGetItem":
        return {(TABLE_IDS[name], "dynamodb:BatchGetItem") for name in params["RequestItems"]}
    if operation in ("DescribeTable", "CreateTable", "UpdateTimeToLive", "ListTables"):
        return set()  # test set-up, not the function
    return {(_table_of(params), f"dynamodb:{operation}")}


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    calls: set[tuple[str, str]] = set()
    make_api_call = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]  # untyped internals

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "dynamodb":
            calls.update(_dynamodb_grants_needed(operation, params))
        return make_api_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return calls


def _credentials(route: Route) -> dict[str, Any]:
    access = access_of(route)
    if access in (Access.MEMBER, Access.OWNER):
        return {"token": token("user-acme")}  # through the membership check, not past it as an admin
    return {} if access is Access.PUBLIC else {"api_key": ADMIN_API_KEY}


def _run(route: Route, tenant_id: str, body: dict[str, Any] | None = None,
         query: dict[str, str] | None = None) -> int:
    if access_of(route) is Access.STRIPE:
        return _deliver_signed(route, body)
    sample = sample_for(route)
    params = {name: tenant_id if value == SAMPLE_TENANT_ID else value
              for name, value in sample.path_parameters.items()}
    headers = {"Idempotency-Key": f"iam-{len(str(body))}"} if route.method != "GET" else None
    return invoke(route.method, concrete_path(route, params), body=body or sample.body,
                  query=sample.query if query is None else query, headers=headers, **_credentials(route)).status


def _deliver_signed(route: Route, body: dict[str, Any] | None) -> int:
    """A Stripe event signed as Stripe signs it, to a queue of its own."""
    from tests.integration.stripe_events_support import deliver, make_queue

    make_queue()
    return deliver(body or sample_for(route).body or {}).status


# A drift to repair first: canceled in Stripe, the tenant moves between facets, counters and plans.
def _drift_in_stripe(tenant_id: str) -> None:
    from tests.integration.stripe_events_support import stripe_client

    tenant = tenants_repository.require(tenant_id)
    assert tenant.subscription is not None
    stripe_client("live").v1.subscriptions.cancel(tenant.subscription.id)


BEFORE_THE_RUN: dict[str, Callable[[str], None]] = {"RepairTenantFromStripeFunction": _drift_in_stripe,
                                                    **SAMPLE_PREREQUISITES}


# The Stripe calls whose failure sends each route down its undo path: (path, failed attempts).
FAILURE_PATHS: dict[str, list[tuple[str, int]]] = {
    "AdminCreateTenantFunction": [("/v1/subscriptions", 100)],
    "AdminCreatePlanFunction": [("/v1/prices", 100)],
    "AdminUpdatePlanFunction": [("/v1/prices", 100)],
    "AdminDeletePlanFunction": [("/v1/products/", 2)],  # archiving fails, restoring works
}
# Grants for calls the runs above do not make, and why they are still needed.
POWERTOOLS_IDEMPOTENCY = {("IdempotencyTable", f"dynamodb:{action}")
                          for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")}
NEEDED_BEYOND_THE_RUNS: dict[str, set[tuple[str, str]]] = {
    # Taking over a reservation an earlier attempt left behind.
    "AdminCreatePlanFunction": {("PlansTable", "dynamodb:UpdateItem")},
    # Forgetting an event it could not queue, so that Stripe's retry queues it.
    "StripeWebhookFunction": {("IdempotencyTable", "dynamodb:DeleteItem")},
    # The catalog, for a price without the product's metadata or a canceled tenant's free plan.
    "TenantStripeDriftFunction": {("PlansTable/index", "dynamodb:Query")},
    "RepairTenantFromStripeFunction": {("PlansTable/index", "dynamodb:Query")},
    # A customer or subscription the owner links (tests/integration/test_billing.py): the old customer's
    # pointer deleted, then the tenant brought in step with Stripe as the repair above does.
    "UpdateBillingFunction": {("TenantsTable", "dynamodb:DeleteItem"), ("TenantsTable", "dynamodb:UpdateItem"),
                              ("PlansTable", "dynamodb:UpdateItem"), ("PlansTable/index", "dynamodb:Query")},
}


def _needed_beyond_the_runs(route: Route) -> set[tuple[str, str]]:
    """Powertools documents these permissions for its persistence layer (it reads a record on some
    conflicts), for every function whose route takes an Idempotency-Key."""
    idempotent = handler_module(route).app.spec.idempotent
    return NEEDED_BEYOND_THE_RUNS.get(route.function_id, set()) | (POWERTOOLS_IDEMPOTENCY if idempotent else set())


# Other bodies that take a route down its other paths (a plan change moves the tenant between plans).
OTHER_BODIES: dict[str, list[dict[str, Any]]] = {
    "ChangeTenantSubscriptionFunction": [{"plan_id": "pln_pro", "billing_cycle": "monthly",
                                          "starts_immediately": True}],
    # Without an idempotency key a consume is a single conditional update, not a transaction.
    "RecordUsageFunction": [{"metric": "workflows", "amount": 1}],
}
# Other query strings that do the same (the list without a filter reads counters and the table itself).
OTHER_QUERIES: dict[str, list[dict[str, str]]] = {
    "AdminListTenantsFunction": [{}, {"search": "acme"}],
}


def _answer_lost(monkeypatch: pytest.MonkeyPatch, repository: Any, write: str) -> None:
    """The write commits, then its answer is lost: the function finds out what happened."""
    original = getattr(repository, write)

    def lost(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        monkeypatch.setattr(repository, write, original)
        raise RuntimeError("the answer was lost")

    monkeypatch.setattr(repository, write, lost)


# The writes whose lost answer sends each route down its recovery path.
RECOVERY_PATHS: dict[str, tuple[Any, str]] = {
    "AdminCreateTenantFunction": (tenants_repository, "activate"),
    "AdminCreatePlanFunction": (plans_repository, "create"),
    "AdminUpdatePlanFunction": (plans_repository, "save_edit"),
}


@pytest.mark.parametrize("route", routes(), ids=lambda route: route.function_id)
def test_each_policy_grants_exactly_the_dynamodb_calls_its_function_makes(
        route: Route, catalog: dict[str, Any], recorded: set[tuple[str, str]],
        stripe_fault: Callable[..., None], stripe_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import emulator_call

    tenant_id = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Acme", "email": "owner@acme.example", "type": "organization", "plan_id": "pln_business",
        "billing_cycle": "monthly", "owner_user_id": "user-acme"}).data["id"]
    if route.function_id in BEFORE_THE_RUN:  # the set-up's own calls are not the function's
        BEFORE_THE_RUN[route.function_id](tenant_id)
    recorded.clear()
    for path, attempts in FAILURE_PATHS.get(route.function_id, []):
        stripe_fault("error", path_prefix=path, count=attempts)
        assert _run(route, tenant_id) == 502
        emulator_call(stripe_emulator, "DELETE", "/_emulator/faults")
    if route.function_id in RECOVERY_PATHS:
        # The whole success path, then the look at what landed.
        _answer_lost(monkeypatch, *RECOVERY_PATHS[route.function_id])
    assert 200 <= _run(route, tenant_id) < 300
    for body in OTHER_BODIES.get(route.function_id, []):
        assert 200 <= _run(route, tenant_id, body) < 300
    for query in OTHER_QUERIES.get(route.function_id, []):
        assert 200 <= _run(route, tenant_id, query=query) < 300
    granted = {(table, action) for table, actions in granted_dynamodb_actions(route.function_id).items()
               for action in actions}
    assert recorded - granted == set(), "calls AWS would refuse with AccessDenied"
    assert granted - recorded - _needed_beyond_the_runs(route) == set(), "grants the function never uses"


def test_the_sweepers_policy_grants_exactly_the_calls_it_makes(
        catalog: dict[str, Any], recorded: set[tuple[str, str]], stripe_fault: Callable[..., None],
        stripe_emulator: Any, dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import emulator_call
    from tests.consistency import expire
    from tests.integration.test_admin_plans import NEW_PLAN
    from tests.integration.test_reservation_sweeper import (
        ACME,
        left_behind_deletion,
        left_behind_trial_extension,
        sweep,
    )

    # Something of every kind left behind: a tenant reservation, a plan's, a plan change's and a
    # tenant change's holds.
    left_behind_trial_extension(stripe_fault)
    emulator_call(stripe_emulator, "DELETE", "/_emulator/faults")
    left_behind_deletion(monkeypatch)
    stripe_fault("error", path_prefix="/v1/subscriptions")
    stripe_fault("error", path_prefix="/v1/customers/", method="DELETE")
    stripe_fault("error", path_prefix="/v1/prices")
    stripe_fault("error", path_prefix="/v1/products/")
    assert invoke("POST", "/v1/admin/tenants", body=ACME, api_key=ADMIN_API_KEY).status == 502
    assert invoke("POST", "/v1/admin/plans", body=NEW_PLAN, api_key=ADMIN_API_KEY).status == 502
    renamed = invoke("PUT", "/v1/admin/plans/pln_pro", body={"display_name": "Pro Max"}, api_key=ADMIN_API_KEY)
    assert renamed.status == 502
    emulator_call(stripe_emulator, "DELETE", "/_emulator/faults")
    expire(dynamodb, "tenants", "provisioning")
    expire(dynamodb, "plans", "pending")
    expire(dynamodb, "tenants", "pending")
    recorded.clear()
    assert sweep() == {"cleared": 5, "left": 0}
    granted = {(table, action) for table, actions in granted_dynamodb_actions("ReservationSweepFunction").items()
               for action in actions}
    assert recorded - granted == set(), "calls AWS would refuse with AccessDenied"
    assert granted - recorded == set(), "grants the sweeper never uses"
