"""An admin's tenant operations (seed 002): status, trial, subscription, deletion and the
details view, each checked on Stripe's side through the SDK and on DynamoDB's through
the records, counters and audit it leaves."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from local.default_catalog import SEEDER
from saas_core.clock import parse_iso
from saas_core.errors import Conflict
from saas_core.models.tenants import ExtendTrialIn
from saas_core.repositories import tenant_index
from saas_core.services import tenant_changes
from tests.consistency import tenant_disagreements
from tests.support import ADMIN_API_KEY, invoke, token

Fault = Callable[..., None]
OWNER = token("user-acme")


@pytest.fixture
def tenant(catalog: dict[str, Any]) -> dict[str, Any]:
    reply = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Acme Corp", "email": "admin@acme.example", "type": "organization", "plan_id": "pln_pro",
        "billing_cycle": "monthly", "subdomain_preference": "acme", "owner_user_id": "user-acme"})
    assert reply.status == 201, reply.body
    data: dict[str, Any] = reply.data
    return data


@pytest.fixture
def agree(dynamodb: Any, stripe_sdk: Callable[[str], Any]) -> Callable[[], None]:
    def check() -> None:
        assert tenant_disagreements(dynamodb, stripe_sdk) == []

    return check


def counters() -> Counter[str]:
    return tenant_index.read_counters("tenants")


def audit(tenant_id: str) -> list[dict[str, Any]]:
    import boto3

    table = boto3.resource("dynamodb", region_name="us-east-1").Table("tenants")
    items = table.query(KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
                        ExpressionAttributeValues={":pk": f"TENANT#{tenant_id}", ":audit": "AUDIT#"})["Items"]
    return list(items)


def stripe_subscription(stripe_sdk: Callable[[str], Any], subscription_id: str) -> Any:
    return stripe_sdk("live").v1.subscriptions.retrieve(subscription_id)


# ------------------------------------------------------------ status

def test_suspending_needs_a_reason(tenant: dict[str, Any]) -> None:
    reply = invoke("PUT", f"/v1/admin/tenants/{tenant['id']}/status", body={"status": "suspended"},
                   api_key=ADMIN_API_KEY)
    assert reply.status == 422
    assert reply.body["errors"] == {"reason": ["is required to make a tenant suspended"]}


def test_a_suspended_tenant_refuses_its_members_and_not_its_admins(tenant: dict[str, Any]) -> None:
    path = f"/v1/tenants/{tenant['id']}/plan"
    assert invoke("GET", path, token=OWNER).status == 200
    before = counters()
    reply = invoke("PUT", f"/v1/admin/tenants/{tenant['id']}/status", api_key=ADMIN_API_KEY,
                   body={"status": "suspended", "reason": "Payment overdue"}, headers={"X-Amzn-Trace-Id": "t"})
    assert reply.status == 200, reply.body
    assert reply.body["message"] == "Tenant status updated successfully"
    assert reply.data["status"] == "suspended"
    assert reply.data["status_reason"] == "Payment overdue"
    refused = invoke("GET", path, token=OWNER)
    assert refused.status == 403
    assert "suspended" in refused.body["message"]
    assert invoke("GET", path, api_key=ADMIN_API_KEY).status == 200
    after = counters()
    assert (after["status_active"], after["status_suspended"]) == (before["status_active"] - 1, 1)
    [record] = [item for item in audit(tenant["id"]) if item["action"] == "tenant.status_changed"]
    assert record["reason"] == "Payment overdue"
    assert record["before"]["status"] == "active"
    assert record["after"]["status"] == "suspended"
    assert record["trace_id"]
    reactivated = invoke("PUT", f"/v1/admin/tenants/{tenant['id']}/status", api_key=ADMIN_API_KEY,
                         body={"status": "active"})
    assert reactivated.status == 200
    assert invoke("GET", path, token=OWNER).status == 200


# ------------------------------------------------------------ trial

def test_extending_a_trial_moves_stripes_trial_end(tenant: dict[str, Any], stripe_sdk: Callable[[str], Any],
                                                   agree: Callable[[], None]) -> None:
    subscription_id = tenant["active_subscription"]["id"]
    old_end = parse_iso(tenant["active_subscription"]["trial_ends_at"])
    reply = invoke("POST", f"/v1/admin/tenants/{tenant['id']}/extend-trial", api_key=ADMIN_API_KEY,
                   body={"days": 30, "reason": "Customer requested demo extension"})
    assert reply.status == 200, reply.body
    assert reply.body["message"] == "Trial extended by 30 days"
    assert reply.data["id"] == subscription_id
    assert reply.data["status"] == "trialing"
    assert parse_iso(reply.data["trial_ends_at"]) == old_end + timedelta(days=30)
    assert stripe_subscription(stripe_sdk, subscription_id).trial_end == int((old_end + timedelta(days=30)).timestamp())
    agree()


def test_a_trial_extension_stripe_refuses_changes_nothing(tenant: dict[str, Any], stripe_fault: Fault,
                                                           stripe_sdk: Callable[[str], Any],
                                                           agree: Callable[[], None]) -> None:
    stripe_fault("error", path_prefix="/v1/subscriptions/")
    reply = invoke("POST", f"/v1/admin/tenants/{tenant['id']}/extend-trial", api_key=ADMIN_API_KEY,
                   body={"days": 30})
    assert reply.status == 502
    stored = invoke("GET", f"/v1/admin/tenants/{tenant['id']}", api_key=ADMIN_API_KEY).data
    assert stored["active_subscription"]["trial_ends_at"] == tenant["active_subscription"]["trial_ends_at"]


def test_a_tenant_not_on_trial_cannot_have_it_extended(catalog: dict[str, Any]) -> None:
    created = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Solo", "email": "solo@example.com", "type": "personal", "plan_id": "pln_starter",
        "billing_cycle": "monthly"}).data
    reply = invoke("POST", f"/v1/admin/tenants/{created['id']}/extend-trial", api_key=ADMIN_API_KEY,
                   body={"days": 7})
    assert reply.status == 400
    assert reply.body["message"] == "Tenant is not on trial"


@pytest.mark.parametrize("days", [0, 366, -1, 1.5, None])
def test_trial_days_are_one_to_a_year(tenant: dict[str, Any], days: Any) -> None:
    reply = invoke("POST", f"/v1/admin/tenants/{tenant['id']}/extend-trial", api_key=ADMIN_API_KEY,
                   body={"days": days})
    assert reply.status == 422
    assert "days" in reply.body["errors"]


# ------------------------------------------------------------ subscription now

def test_changing_the_plan_now_moves_the_stripe_item_and_every_counter(
        tenant: dict[str, Any], stripe_sdk: Callable[[str], Any], catalog: dict[str, Any],
        agree: Callable[[], None]) -> None:
    before = counters()
    reply = invoke("PUT", f"/v1/admin/tenants/{tenant['id']}/subscription", api_key=ADMIN_API_KEY,
                   body={"plan_id": "pln_business", "billing_cycle": "annual", "starts_immediately": True,
                         "prorate": True})
    assert reply.status == 200, reply.body
    assert reply.body["message"] == "Subscription changed successfully"
    subscription = reply.data["subscription"]
    assert subscription["plan"]["id"] == "pln_business"
    assert subscription["billing_cycle"] == "annual"
    live = stripe_subscription(stripe_sdk, subscription["id"])
    assert live["items"].data[0].price.id == catalog["pln_business"].stripe["live"].annual_price_id
    after = counters()
    assert after["on_plan_pln_business"] == before["on_plan_pln_business"] + 1
    assert after["on_plan_pln_pro"] == before["on_plan_pln_pro"] - 1
    history = invoke("GET", f"/v1/admin/tenants/{tenant['id']}", api_key=ADMIN_API_KEY).data["subscriptions"]
    assert [row["plan"]["id"] for row in history] == ["pln_business", "pln_pro"]
    assert history[1]["status"] == "canceled"
    agree()


def test_a_plan_of_another_type_is_refused(tenant: dict[str, Any]) -> None:
    reply = invoke("PUT", f"/v1/admin/tenants/{tenant['id']}/subscription", api_key=ADMIN_API_KEY,
                   body={"plan_id": "pln_starter", "billing_cycle": "monthly", "starts_immediately": True})
    assert reply.status == 400
    assert "personal" in reply.body["message"]


def test_a_change_stripe_refuses_changes_nothing_on_either_side(
        tenant: dict[str, Any], stripe_fault: Fault, stripe_sdk: Callable[[str], Any], catalog: dict[str, Any],
        agree: Callable[[], None]) -> None:
    stripe_fault("error", path_prefix="/v1/subscriptions/")
    reply = invoke("PUT", f"/v1/admin/tenants/{tenant['id']}/subscription", api_key=ADMIN_API_KEY,
                   body={"plan_id": "pln_business", "billing_cycle": "monthly", "starts_immediately": True})
    assert reply.status == 502
    live = stripe_subscription(stripe_sdk, tenant["active_subscription"]["id"])
    assert live["items"].data[0].price.id == catalog["pln_pro"].stripe["live"].monthly_price_id
    agree()


def test_two_admins_changing_a_tenant_at_once_get_one_change_and_one_409(
        tenant: dict[str, Any], monkeypatch: pytest.MonkeyPatch, stripe_sdk: Callable[[str], Any],
        agree: Callable[[], None]) -> None:
    from saas_core import stripe_gateway

    change_price = stripe_gateway.change_price
    refused: list[str] = []

    def meanwhile_another_admin(*args: Any, **kwargs: Any) -> Any:
        if not refused:
            with pytest.raises(Conflict) as other:
                tenant_changes.extend_trial(tenant["id"], ExtendTrialIn(days=5), SEEDER)
            refused.append(other.value.message)
        return change_price(*args, **kwargs)

    monkeypatch.setattr(stripe_gateway, "change_price", meanwhile_another_admin)
    reply = invoke("PUT", f"/v1/admin/tenants/{tenant['id']}/subscription", api_key=ADMIN_API_KEY,
                   body={"plan_id": "pln_business", "billing_cycle": "monthly", "starts_immediately": True})
    assert reply.status == 200
    assert refused == ["Another change to this tenant is in progress; retry shortly"]
    agree()


# ------------------------------------------------------------ subscription at period end

def change_plan(tenant_id: str, **body: Any) -> Any:
    return invoke("PUT", f"/v1/admin/tenants/{tenant_id}/subscription", api_key=ADMIN_API_KEY, body=body)


def schedule_of(stripe_sdk: Callable[[str], Any], subscription_id: str) -> Any:
    live = stripe_subscription(stripe_sdk, subscription_id)
    return stripe_sdk("live").v1.subscription_schedules.retrieve(live.schedule) if live.schedule else None


def test_a_change_at_period_end_is_a_schedule_whose_next_phase_starts_then(
        tenant: dict[str, Any], stripe_sdk: Callable[[str], Any], catalog: dict[str, Any],
        agree: Callable[[], None]) -> None:
    before = counters()
    subscription = tenant["active_subscription"]
    reply = change_plan(tenant["id"], plan_id="pln_business", billing_cycle="annual")
    assert reply.status == 200, reply.body
    pending = reply.data["tenant"]["pending_change"]
    assert (pending["plan"]["id"], pending["billing_cycle"]) == ("pln_business", "annual")
    assert pending["starts_at"] == subscription["current_period_end"]
    assert reply.data["subscription"]["plan"]["id"] == "pln_pro", "the current plan runs to its period's end"
    schedule = schedule_of(stripe_sdk, subscription["id"])
    assert [phase["items"][0].price for phase in schedule.phases] == [
        catalog["pln_pro"].stripe["live"].monthly_price_id, catalog["pln_business"].stripe["live"].annual_price_id]
    assert schedule.phases[1].start_date == int(parse_iso(subscription["current_period_end"]).timestamp())
    assert schedule.phases[0].trial_end == int(parse_iso(subscription["trial_ends_at"]).timestamp()), \
        "the trial runs on"
    assert schedule.end_behavior == "release"
    assert counters() == before, "nothing moves until the period ends"
    assert [item["action"] for item in audit(tenant["id"])][-1] == "tenant.plan_change_scheduled"
    agree()


def test_a_second_change_replaces_the_pending_one_and_the_current_plan_cancels_it(
        tenant: dict[str, Any], stripe_sdk: Callable[[str], Any], catalog: dict[str, Any],
        agree: Callable[[], None]) -> None:
    subscription_id = tenant["active_subscription"]["id"]
    first = change_plan(tenant["id"], plan_id="pln_business", billing_cycle="annual")
    second = change_plan(tenant["id"], plan_id="pln_business", billing_cycle="monthly")
    assert second.status == 200
    assert second.data["tenant"]["pending_change"]["billing_cycle"] == "monthly"
    schedule = schedule_of(stripe_sdk, subscription_id)
    assert first.status == 200
    assert len(list(stripe_sdk("live").v1.subscription_schedules.list().auto_paging_iter())) == 1, "replaced"
    assert schedule.phases[1]["items"][0].price == catalog["pln_business"].stripe["live"].monthly_price_id
    agree()
    back = change_plan(tenant["id"], plan_id="pln_pro", billing_cycle="monthly")
    assert back.status == 200
    assert back.data["tenant"]["pending_change"] is None
    assert stripe_subscription(stripe_sdk, subscription_id).schedule is None
    assert stripe_sdk("live").v1.subscription_schedules.retrieve(schedule.id).status == "released"
    agree()


def test_changing_now_drops_a_pending_change(tenant: dict[str, Any], stripe_sdk: Callable[[str], Any],
                                            agree: Callable[[], None]) -> None:
    change_plan(tenant["id"], plan_id="pln_business", billing_cycle="annual")
    now = change_plan(tenant["id"], plan_id="pln_business", billing_cycle="monthly", starts_immediately=True)
    assert now.status == 200, now.body
    assert now.data["tenant"]["pending_change"] is None
    assert stripe_subscription(stripe_sdk, tenant["active_subscription"]["id"]).schedule is None
    agree()


def test_a_schedule_stripe_refuses_leaves_no_pending_change(tenant: dict[str, Any], stripe_fault: Fault,
                                                            stripe_sdk: Callable[[str], Any],
                                                            agree: Callable[[], None]) -> None:
    stripe_fault("error", path_prefix="/v1/subscription_schedules/", count=1)  # the update after the create
    reply = change_plan(tenant["id"], plan_id="pln_business", billing_cycle="annual")
    assert reply.status == 502
    assert invoke("GET", f"/v1/admin/tenants/{tenant['id']}", api_key=ADMIN_API_KEY).data["pending_change"] is None
    live = stripe_subscription(stripe_sdk, tenant["active_subscription"]["id"])
    assert live.schedule is None, "the schedule made before the failure was released"
    agree()


def test_a_tenant_without_a_live_subscription_gets_a_new_one(
        tenant: dict[str, Any], stripe_sdk: Callable[[str], Any], catalog: dict[str, Any],
        agree: Callable[[], None]) -> None:
    from saas_core.repositories import tenants

    # What Stripe's cancellation (and its webhook) leaves: the subscription over.
    stored = tenants.require(tenant["id"])
    assert stored.subscription is not None
    stripe_sdk("live").v1.subscriptions.cancel(stored.subscription.id)
    ended = stored.subscription.model_copy(update={"status": "canceled", "canceled_at": stored.updated_at})
    tenants.save(tenants.TenantChange(stored, stored.changed(subscription=ended), SEEDER, "subscription.ended"))
    reply = change_plan(tenant["id"], plan_id="pln_business", billing_cycle="monthly")
    assert reply.status == 200, reply.body
    new = reply.data["subscription"]
    assert new["id"] != stored.subscription.id
    assert new["plan"]["id"] == "pln_business"
    live = stripe_subscription(stripe_sdk, new["id"])
    assert live["items"].data[0].price.id == catalog["pln_business"].stripe["live"].monthly_price_id
    assert reply.data["tenant"]["has_active_subscription"] is True
    agree()


@pytest.mark.parametrize("body", [{"is_active": False}, {"is_archived": True}])
def test_an_inactive_or_archived_plan_is_refused(tenant: dict[str, Any], body: dict[str, bool]) -> None:
    assert invoke("PUT", "/v1/admin/plans/pln_business", api_key=ADMIN_API_KEY, body=body).status == 200
    reply = change_plan(tenant["id"], plan_id="pln_business", billing_cycle="monthly", starts_immediately=True)
    assert reply.status == 400
    assert reply.body["message"] == "Plan pln_business takes no new subscriptions"


def test_a_trial_with_a_pending_plan_change_is_not_extended_until_the_change_is_canceled(
        tenant: dict[str, Any], stripe_sdk: Callable[[str], Any], agree: Callable[[], None]) -> None:
    change_plan(tenant["id"], plan_id="pln_business", billing_cycle="annual")
    path = f"/v1/admin/tenants/{tenant['id']}/extend-trial"
    refused = invoke("POST", path, api_key=ADMIN_API_KEY, body={"days": 10})
    assert refused.status == 400
    assert "cancel it first" in refused.body["message"]
    change_plan(tenant["id"], plan_id="pln_pro", billing_cycle="monthly")
    assert invoke("POST", path, api_key=ADMIN_API_KEY, body={"days": 10}).status == 200
    agree()


def test_changing_now_with_a_pending_change_that_stripe_refuses_keeps_both_as_they_were(
        tenant: dict[str, Any], stripe_fault: Fault, stripe_sdk: Callable[[str], Any], catalog: dict[str, Any],
        agree: Callable[[], None]) -> None:
    scheduled = change_plan(tenant["id"], plan_id="pln_business", billing_cycle="annual").data
    stripe_fault("error", path_prefix="/v1/subscription_schedules/", count=2)  # the release
    reply = change_plan(tenant["id"], plan_id="pln_business", billing_cycle="monthly", starts_immediately=True)
    assert reply.status == 502
    stored = invoke("GET", f"/v1/admin/tenants/{tenant['id']}", api_key=ADMIN_API_KEY).data
    assert stored["pending_change"] == scheduled["tenant"]["pending_change"]
    live = stripe_subscription(stripe_sdk, tenant["active_subscription"]["id"])
    assert live["items"].data[0].price.id == catalog["pln_pro"].stripe["live"].monthly_price_id
    assert live.schedule is not None
    agree()


# ------------------------------------------------------------ preview

def test_a_preview_shows_what_stripe_would_invoice_and_changes_nothing(
        catalog: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    created = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Solo", "email": "solo@example.com", "type": "personal", "plan_id": "pln_starter",
        "billing_cycle": "monthly"}).data
    before_audit = audit(created["id"])
    reply = change_plan(created["id"], plan_id="pln_professional", billing_cycle="monthly",
                        starts_immediately=True, prorate=True, preview=True)
    assert reply.status == 200, reply.body
    preview = reply.data["preview"]
    prorations = [line for line in preview["lines"] if line["proration"]]
    assert len(prorations) == 2, "unused time credited, the rest of the period on the new price"
    assert preview["proration_total"] == pytest.approx(sum(line["amount"] for line in prorations))
    assert preview["proration_total"] > 0, "an upgrade costs more"
    assert preview["amount_due_now"] == 0, "the prorations wait for the next invoice"
    assert preview["next_invoice_total"] > 0
    assert reply.data["subscription"]["plan"]["id"] == "pln_starter"
    live = stripe_subscription(stripe_sdk, created["active_subscription"]["id"])
    assert live["items"].data[0].price.id == catalog["pln_starter"].stripe["live"].monthly_price_id
    assert audit(created["id"]) == before_audit


def test_a_period_end_preview_bills_the_new_price_from_the_period_end(tenant: dict[str, Any]) -> None:
    reply = change_plan(tenant["id"], plan_id="pln_business", billing_cycle="annual", preview=True)
    assert reply.status == 200, reply.body
    preview = reply.data["preview"]
    assert preview["amount_due_now"] == 0
    assert [line["period_start"] for line in preview["lines"]] == [tenant["active_subscription"]["current_period_end"]]
    assert preview["next_invoice_total"] == 2990.0


def test_a_cycle_change_now_is_previewed_as_due_at_once_and_then_invoiced_so(
        catalog: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    created = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Solo", "email": "solo@example.com", "type": "personal", "plan_id": "pln_starter",
        "billing_cycle": "monthly"}).data
    body = {"plan_id": "pln_starter", "billing_cycle": "annual", "starts_immediately": True, "prorate": True}
    preview = change_plan(created["id"], **body, preview=True).data["preview"]
    assert preview["amount_due_now"] == preview["next_invoice_total"]
    assert 0 < preview["amount_due_now"] < 190, "the annual price less the unused month"
    assert change_plan(created["id"], **body).status == 200
    invoices = stripe_sdk("live").v1.invoices.list({"customer": created["stripe_customer_id"]}).data
    assert invoices[0].amount_due / 100 == preview["amount_due_now"]


def test_a_prorated_downgrade_is_a_credit_and_nothing_due_now(catalog: dict[str, Any]) -> None:
    created = invoke("POST", "/v1/admin/tenants", api_key=ADMIN_API_KEY, body={
        "name": "Solo", "email": "solo@example.com", "type": "personal", "plan_id": "pln_enterprise",
        "billing_cycle": "monthly"}).data
    preview = change_plan(created["id"], plan_id="pln_professional", billing_cycle="monthly",
                          starts_immediately=True, prorate=True, preview=True).data["preview"]
    assert preview["proration_total"] < 0
    assert preview["amount_due_now"] == 0


def test_a_status_change_waits_for_a_subscription_change_in_progress(
        tenant: dict[str, Any], monkeypatch: pytest.MonkeyPatch, agree: Callable[[], None]) -> None:
    from saas_core import stripe_gateway
    from saas_core.models.tenants import TenantStatusIn

    change_price = stripe_gateway.change_price
    refused: list[str] = []

    def meanwhile_a_status_change(*args: Any, **kwargs: Any) -> Any:
        if not refused:
            with pytest.raises(Conflict) as other:
                tenant_changes.change_status(tenant["id"], TenantStatusIn(status="suspended", reason="race"), SEEDER)
            refused.append(other.value.message)
        return change_price(*args, **kwargs)

    monkeypatch.setattr(stripe_gateway, "change_price", meanwhile_a_status_change)
    reply = change_plan(tenant["id"], plan_id="pln_business", billing_cycle="monthly", starts_immediately=True)
    assert reply.status == 200
    assert reply.data["subscription"]["plan"]["id"] == "pln_business"
    assert refused == ["Another change to this tenant is in progress; retry shortly"]
    agree()


def test_a_preview_without_proration_bills_nothing_now(tenant: dict[str, Any]) -> None:
    reply = change_plan(tenant["id"], plan_id="pln_business", billing_cycle="monthly", preview=True)
    assert reply.status == 200, reply.body
    assert reply.data["preview"]["amount_due_now"] == 0
    assert reply.data["tenant"]["pending_change"] is None


# ------------------------------------------------------------ deletion

def test_deleting_cancels_stripe_first_then_hides_the_tenant_from_all_but_admins(
        tenant: dict[str, Any], stripe_sdk: Callable[[str], Any], agree: Callable[[], None]) -> None:
    before = counters()
    reply = invoke("DELETE", f"/v1/admin/tenants/{tenant['id']}", api_key=ADMIN_API_KEY)
    assert reply.status == 200, reply.body
    assert reply.body["message"] == "Tenant deleted successfully"
    assert stripe_subscription(stripe_sdk, tenant["active_subscription"]["id"]).status == "canceled"
    details = invoke("GET", f"/v1/admin/tenants/{tenant['id']}", api_key=ADMIN_API_KEY)
    assert details.status == 200
    assert details.data["deleted_at"]
    assert invoke("GET", f"/v1/tenants/{tenant['id']}/plan", token=OWNER).status == 404
    assert invoke("DELETE", f"/v1/admin/tenants/{tenant['id']}", api_key=ADMIN_API_KEY).status == 404
    after = counters()
    assert after["tenants"] == before["tenants"] - 1
    assert after["deleted"] == before["deleted"] + 1
    assert after["plan_pln_pro"] == before["plan_pln_pro"] - 1
    agree()


def test_a_delete_stripe_refuses_leaves_the_tenant_as_it_was(tenant: dict[str, Any], stripe_fault: Fault,
                                                              stripe_sdk: Callable[[str], Any],
                                                              agree: Callable[[], None]) -> None:
    stripe_fault("error", path_prefix="/v1/subscriptions/", method="DELETE")
    reply = invoke("DELETE", f"/v1/admin/tenants/{tenant['id']}", api_key=ADMIN_API_KEY)
    assert reply.status == 502
    assert invoke("GET", f"/v1/tenants/{tenant['id']}/plan", token=OWNER).status == 200
    assert stripe_subscription(stripe_sdk, tenant["active_subscription"]["id"]).status == "trialing"
    agree()


# ------------------------------------------------------------ details

def test_details_show_stripes_invoices_and_payment_methods(tenant: dict[str, Any],
                                                           stripe_sdk: Callable[[str], Any]) -> None:
    sdk = stripe_sdk("live")
    sdk.v1.payment_methods.attach("pm_card_visa", {"customer": tenant["stripe_customer_id"]})
    details = invoke("GET", f"/v1/admin/tenants/{tenant['id']}", api_key=ADMIN_API_KEY).data
    assert details["warnings"] == []
    assert [method["last4"] for method in details["payment_methods"]] == ["4242"]
    assert isinstance(details["invoices"], list)
    assert details["invoices_count"] == len(details["invoices"])
    assert details["organization"]["subdomain"] == "acme"


def test_details_come_back_with_a_warning_when_stripe_does_not_answer(tenant: dict[str, Any],
                                                                      stripe_fault: Fault) -> None:
    stripe_fault("error", method="GET", path_prefix="/v1/")
    reply = invoke("GET", f"/v1/admin/tenants/{tenant['id']}", api_key=ADMIN_API_KEY)
    assert reply.status == 200
    assert reply.data["invoices"] is None
    assert reply.data["payment_methods"] is None
    assert reply.data["warnings"] == ["Stripe did not answer: invoices and payment methods are not shown"]
    assert reply.data["name"] == "Acme Corp"


# ------------------------------------------------------------ idempotency

def test_a_retried_trial_extension_with_its_idempotency_key_extends_once(
        tenant: dict[str, Any], stripe_sdk: Callable[[str], Any]) -> None:
    path = f"/v1/admin/tenants/{tenant['id']}/extend-trial"
    headers = {"Idempotency-Key": "extend-acme-once"}
    first = invoke("POST", path, body={"days": 30}, headers=headers, api_key=ADMIN_API_KEY)
    again = invoke("POST", path, body={"days": 30}, headers=headers, api_key=ADMIN_API_KEY)
    assert first.status == again.status == 200
    assert again.data == first.data
    extended = parse_iso(tenant["active_subscription"]["trial_ends_at"]) + timedelta(days=30)
    assert stripe_subscription(stripe_sdk, first.data["id"]).trial_end == int(extended.timestamp())
    assert [item["action"] for item in audit(tenant["id"])].count("tenant.trial_extended") == 1


def test_a_retried_delete_with_its_idempotency_key_gets_the_first_answer(tenant: dict[str, Any]) -> None:
    path = f"/v1/admin/tenants/{tenant['id']}"
    headers = {"Idempotency-Key": "delete-acme"}
    first = invoke("DELETE", path, headers=headers, api_key=ADMIN_API_KEY)
    again = invoke("DELETE", path, headers=headers, api_key=ADMIN_API_KEY)
    assert first.status == again.status == 200
    assert invoke("DELETE", path, api_key=ADMIN_API_KEY).status == 404, "a new request finds nothing to delete"
