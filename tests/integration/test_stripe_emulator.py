"""The Stripe emulator, driven only through the real `stripe` SDK (and its
/_emulator control endpoints for faults and deliveries). Time moves only
through Stripe's test clocks, so the tests that roll periods would run
unchanged against Stripe test mode."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from local.stripe_emulator import EmulatorHandle, start_in_thread
from local.stripe_emulator.testing import WebhookReceiver, advance_test_clock
from tests.conftest import emulator_call

DAY = 86400


def sdk(handle: EmulatorHandle, key: str = "sk_test_emulator", **options: Any) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": handle.url}, max_network_retries=0, **options)


def a_price(client: stripe.StripeClient, amount: int = 1900, interval: str = "month",
            name: str = "Pro") -> stripe.Price:
    product = client.v1.products.create({"name": name})
    recurring: Any = {"interval": interval}
    return client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": amount,
                                    "recurring": recurring})


def clocked_customer(client: stripe.StripeClient, frozen_time: int | None = None,
                     **params: Any) -> tuple[stripe.Customer, str]:
    """A customer on a new test clock frozen at `frozen_time` (now by default), and the clock's id."""
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": frozen_time or int(time.time())})
    create: Any = {"test_clock": clock.id, **params}  # the callers' params are CustomerCreateParams keys
    return client.v1.customers.create(create), clock.id


def advance(client: stripe.StripeClient, clock_id: str, to: int) -> int:
    """Advance the test clock and wait until it is ready, as against Stripe test mode."""
    return advance_test_clock(client, clock_id, to).frozen_time


def unix(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, 12, tzinfo=UTC).timestamp())


# ------------------------------------------------------------ catalog


def test_a_product_with_monthly_and_annual_prices_lists_them_by_product(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    product = client.v1.products.create({"name": "Business", "metadata": {"plan_id": "pln_business"}})
    monthly = client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": 29900,
                                       "recurring": {"interval": "month"}})
    annual = client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": 299000,
                                      "recurring": {"interval": "year"}})
    a_price(client, name="Other")

    listed = client.v1.prices.list({"product": product.id})

    assert [price.id for price in listed.data] == [annual.id, monthly.id], "newest first, only this product's"
    assert annual.recurring is not None
    assert (annual.recurring.interval, annual.unit_amount, annual.livemode) == ("year", 299000, False)
    assert client.v1.products.retrieve(product.id).metadata["plan_id"] == "pln_business"


def test_a_product_with_prices_cannot_be_deleted_but_can_be_archived(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    price = a_price(client)
    product_id = str(price.product)

    with pytest.raises(stripe.InvalidRequestError, match="cannot be deleted because it has one or more"):
        client.v1.products.delete(product_id)

    assert client.v1.products.update(product_id, {"active": False}).active is False
    assert [product.id for product in client.v1.products.list({"active": False}).data] == [product_id]
    bare = client.v1.products.create({"name": "No prices"})
    assert client.v1.products.delete(bare.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.retrieve(bare.id)


def test_metadata_updates_merge_and_an_empty_value_unsets_a_key(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    customer = client.v1.customers.create({"metadata": {"tenant_id": "t1", "tier": "pro"}})

    updated = client.v1.customers.update(customer.id, {"metadata": {"tier": "", "region": "eu"}})

    assert updated.metadata is not None
    assert updated.metadata.to_dict() == {"tenant_id": "t1", "region": "eu"}
    event = client.v1.events.list({"type": "customer.updated"}).data[0]
    assert event.data.previous_attributes is not None
    assert event.data.previous_attributes.to_dict() == {"metadata": {"tier": "pro", "region": None}}


# ------------------------------------------------------------- errors


def test_unknown_parameters_are_refused_by_their_full_name(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.products.create({"name": "x", "colour": "blue"})  # type: ignore[typeddict-unknown-key]
    assert (refused.value.http_status, refused.value.code, refused.value.param) == (400, "parameter_unknown",
                                                                                    "colour")
    customer = client.v1.customers.create({})
    price = a_price(client)
    # mypy refuses these calls too (the point of the product's typed calls); sent untyped on purpose.
    bogus_item: Any = {"price": price.id, "bogus": "1"}
    with pytest.raises(stripe.InvalidRequestError) as nested:
        client.v1.subscriptions.create({"customer": customer.id, "items": [bogus_item]})
    assert (nested.value.code, nested.value.param) == ("parameter_unknown", "items[0][bogus]")
    not_a_price_filter: Any = {"email": "x@example.com"}
    with pytest.raises(stripe.InvalidRequestError) as listing:
        client.v1.prices.list(not_a_price_filter)
    assert listing.value.param == "email"


def test_missing_and_malformed_parameters(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    product = client.v1.products.create({"name": "Pro"})
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.prices.create({"product": product.id, "currency": "usd"})
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "unit_amount")
    not_a_number: Any = "lots"
    with pytest.raises(stripe.InvalidRequestError) as malformed:
        client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": not_a_number})
    assert (malformed.value.code, malformed.value.param) == ("parameter_invalid_integer", "unit_amount")


def test_missing_objects_are_resource_missing(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.retrieve("cus_nope")
    assert (missing.value.http_status, missing.value.code, missing.value.param) == (404, "resource_missing", "id")
    assert "No such customer: 'cus_nope'" in str(missing.value)
    price = a_price(client)
    with pytest.raises(stripe.InvalidRequestError) as as_parameter:
        client.v1.subscriptions.create({"customer": "cus_nope", "items": [{"price": price.id}]})
    assert (as_parameter.value.code, as_parameter.value.param) == ("resource_missing", "customer")


def test_a_bad_key_is_an_authentication_error(emulator: EmulatorHandle) -> None:
    with pytest.raises(stripe.AuthenticationError):
        sdk(emulator, "pk_test_publishable").v1.customers.list()


def test_an_idempotency_key_replays_the_first_answer_and_refuses_other_parameters(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    first = client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k1"})
    again = client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k1"})

    assert again.id == first.id
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert [customer.id for customer in client.v1.customers.list().data] == [first.id]
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create({"email": "b@example.com"}, {"idempotency_key": "k1"})
    # Keys belong to one mode: the same key with a live key is a new request.
    live = sdk(emulator, "sk_live_emulator").v1.customers.create({"email": "b@example.com"}, {"idempotency_key": "k1"})
    assert live.id != first.id


def test_live_and_test_keys_are_separate_accounts(emulator: EmulatorHandle) -> None:
    live, test = sdk(emulator, "sk_live_emulator"), sdk(emulator, "sk_test_emulator")
    customer = live.v1.customers.create({"email": "paying@example.com"})
    product = live.v1.products.create({"name": "Live only"})

    assert customer.livemode is True
    assert test.v1.customers.list().data == []
    assert test.v1.products.list().data == []
    with pytest.raises(stripe.InvalidRequestError):
        test.v1.customers.retrieve(customer.id)
    with pytest.raises(stripe.InvalidRequestError):
        test.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": 100})
    assert live.v1.customers.retrieve(customer.id).email == "paying@example.com"


# ------------------------------------------------------ subscriptions


def test_a_subscription_with_two_items_and_a_trial(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    customer = client.v1.customers.create({"email": "a@example.com"})
    base, addon = a_price(client, 4900), a_price(client, 1000, name="Seats")

    subscription = client.v1.subscriptions.create({
        "customer": customer.id, "items": [{"price": base.id}, {"price": addon.id, "quantity": 2}],
        "trial_period_days": 14, "metadata": {"tenant_id": "t1"}, "expand": ["latest_invoice"],
    })

    assert subscription.status == "trialing"
    assert subscription.trial_start == subscription.start_date == subscription.created
    assert subscription.trial_end == subscription.created + 14 * DAY
    items = subscription["items"].data
    assert [(item.price.id, item.quantity) for item in items] == [(base.id, 1), (addon.id, 2)]
    for item in items:
        assert (item.current_period_start, item.current_period_end) == (subscription.created,
                                                                        subscription.trial_end)
    invoice = subscription.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.billing_reason, invoice.status, invoice.amount_due) == ("subscription_create", "paid", 0)


def test_the_clock_ends_the_trial_then_rolls_periods_with_invoices(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    customer, clock = clocked_customer(client)
    price = a_price(client, 4900)
    subscription = client.v1.subscriptions.create({
        "customer": customer.id, "items": [{"price": price.id}, {"price": a_price(client, 500).id,
                                                                  "quantity": 3}],
        "trial_period_days": 7, "collection_method": "send_invoice", "days_until_due": 30})
    assert subscription.trial_end is not None

    advance(client, clock, subscription.trial_end + 60)
    active = client.v1.subscriptions.retrieve(subscription.id)
    assert active.status == "active"
    first = active["items"].data[0]
    assert first.current_period_start == subscription.trial_end
    assert all(item.current_period_end == first.current_period_end for item in active["items"].data)
    after_trial = client.v1.invoices.retrieve(str(active.latest_invoice))
    assert (after_trial.billing_reason, after_trial.status, after_trial.amount_due) == ("subscription_cycle",
                                                                                       "open", 4900 + 1500)
    assert after_trial.due_date == subscription.trial_end + 30 * DAY

    advance(client, clock, first.current_period_end + 60)
    rolled = client.v1.subscriptions.retrieve(subscription.id)
    assert rolled["items"].data[0].current_period_start == first.current_period_end
    assert rolled["items"].data[0].current_period_end > first.current_period_end
    invoices = client.v1.invoices.list({"subscription": subscription.id}).data
    assert [invoice.billing_reason for invoice in invoices] == ["subscription_cycle", "subscription_cycle",
                                                                "subscription_create"]
    assert invoices[0].id == rolled.latest_invoice
    assert invoices[0].lines.data[0].period.start == first.current_period_end
    updates = client.v1.events.list({"type": "customer.subscription.updated"}).data
    assert len(updates) == 2


def test_monthly_periods_follow_the_calendar_from_the_31st(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    year = datetime.now(UTC).year + 1
    customer, clock = clocked_customer(client, unix(year, 1, 31), payment_method="pm_card_visa",
                                       invoice_settings={"default_payment_method": "pm_card_visa"})
    subscription = client.v1.subscriptions.create({"customer": customer.id,
                                                   "items": [{"price": a_price(client, 1000).id}]})
    assert subscription["items"].data[0].current_period_end == unix(year, 2, 28)

    advance(client, clock, unix(year, 3, 1))
    assert client.v1.subscriptions.retrieve(subscription.id)["items"].data[0].current_period_end == unix(year, 3, 31)


def test_charging_automatically_without_a_payment_method_is_incomplete_until_paid(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    customer = client.v1.customers.create({})
    subscription = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": a_price(client).id}]})

    assert subscription.status == "incomplete"
    invoice = client.v1.invoices.retrieve(str(subscription.latest_invoice))
    assert (invoice.status, invoice.amount_due, invoice.amount_remaining) == ("open", 1900, 1900)

    paid = client.v1.invoices.pay(invoice.id, {"paid_out_of_band": True})
    assert (paid.status, paid.amount_remaining) == ("paid", 0)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"


def test_a_card_on_file_pays_at_once_and_a_free_price_needs_none(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    with_card = client.v1.customers.create({"payment_method": "pm_card_visa",
                                            "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    paying = client.v1.subscriptions.create({"customer": with_card.id, "items": [{"price": a_price(client).id}],
                                             "expand": ["latest_invoice"]})
    assert paying.status == "active"
    assert isinstance(paying.latest_invoice, stripe.Invoice)
    assert (paying.latest_invoice.status, paying.latest_invoice.amount_paid) == ("paid", 1900)

    free = client.v1.subscriptions.create({"customer": client.v1.customers.create({}).id,
                                           "items": [{"price": a_price(client, 0).id}]})
    assert free.status == "active"


def test_a_declined_renewal_is_past_due_until_paid_with_another_card(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    failing = "pm_card_chargeCustomerFail"  # attaches, then every charge is declined
    customer, clock = clocked_customer(client, payment_method=failing,
                                       invoice_settings={"default_payment_method": failing})
    subscription = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": a_price(client).id}],
                                                   "trial_period_days": 3})
    assert subscription.trial_end is not None

    advance(client, clock, subscription.trial_end + 1)
    past_due = client.v1.subscriptions.retrieve(subscription.id)
    assert past_due.status == "past_due"
    assert [event.type for event in client.v1.events.list({"type": "invoice.payment_failed"}).data] == [
        "invoice.payment_failed"]

    card = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    paid = client.v1.invoices.pay(str(past_due.latest_invoice), {"payment_method": card.id})
    assert (paid.status, paid.amount_paid) == ("paid", 1900)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"


def test_deleting_a_customer_cancels_its_subscriptions(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    customer = client.v1.customers.create({})
    subscription = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": a_price(client).id}],
                                                   "trial_period_days": 14})

    assert client.v1.customers.delete(customer.id).deleted is True

    assert client.v1.customers.retrieve(customer.id).deleted is True
    assert client.v1.subscriptions.retrieve(subscription.id).status == "canceled"
    types = [event.type for event in client.v1.events.list({"types": ["customer.deleted",
                                                                      "customer.subscription.deleted"]}).data]
    assert types == ["customer.deleted", "customer.subscription.deleted"]


def test_an_upgrade_mid_period_is_prorated(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    customer, clock = clocked_customer(client)
    basic, pro = a_price(client, 3000), a_price(client, 6000)
    subscription = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": basic.id}],
                                                   "collection_method": "send_invoice", "days_until_due": 14})
    item = subscription["items"].data[0]
    halfway = (item.current_period_start + item.current_period_end) // 2
    advance(client, clock, halfway)

    upgraded = client.v1.subscriptions.update(subscription.id, {
        "items": [{"id": item.id, "price": pro.id}], "proration_behavior": "always_invoice"})

    assert upgraded["items"].data[0].id == item.id
    assert upgraded["items"].data[0].price.id == pro.id
    invoice = client.v1.invoices.retrieve(str(upgraded.latest_invoice))
    assert invoice.billing_reason == "subscription_update"
    assert sorted(line.amount for line in invoice.lines.data) == [-1500, 3000]
    assert invoice.amount_due == 1500


def test_cancel_at_period_end_ends_the_subscription_when_the_period_does(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    customer, clock = clocked_customer(client)
    subscription = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": a_price(client).id}],
                                                   "collection_method": "send_invoice", "days_until_due": 30})
    period_end = subscription["items"].data[0].current_period_end

    pending = client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    assert (pending.status, pending.cancel_at) == ("active", period_end)

    advance(client, clock, period_end + 1)
    ended = client.v1.subscriptions.retrieve(subscription.id)
    assert (ended.status, ended.ended_at) == ("canceled", period_end)
    assert client.v1.subscriptions.list({"customer": customer.id}).data == []
    assert [sub.id for sub in client.v1.subscriptions.list({"customer": customer.id, "status": "all"}).data] == [
        subscription.id]
    deleted = client.v1.events.list({"type": "customer.subscription.deleted"}).data
    assert [event.data.object["id"] for event in deleted] == [subscription.id]


def test_send_invoice_needs_days_until_due_and_inactive_prices_are_refused(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    customer = client.v1.customers.create({})
    price = a_price(client)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}],
                                        "collection_method": "send_invoice"})
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "days_until_due")
    client.v1.prices.update(price.id, {"active": False})
    with pytest.raises(stripe.InvalidRequestError, match="inactive") as inactive:
        client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}]})
    assert inactive.value.param == "items[0][price]"


def test_lists_page_with_limit_and_starting_after(emulator: EmulatorHandle) -> None:
    client = sdk(emulator)
    made = [client.v1.customers.create({"email": f"c{n}@example.com"}).id for n in range(5)]

    first = client.v1.customers.list({"limit": 2})
    second = client.v1.customers.list({"limit": 2, "starting_after": first.data[-1].id})

    assert [customer.id for customer in first.data] == [made[4], made[3]]
    assert first.has_more is True
    assert [customer.id for customer in second.data] == [made[2], made[1]]
    assert [customer.id for customer in client.v1.customers.list({"limit": 2}).auto_paging_iter()] == made[::-1]
    assert [customer.email for customer in client.v1.customers.list({"email": "c3@example.com"}).data] == [
        "c3@example.com"]


# ------------------------------------------------------------- faults


def test_an_injected_error_is_the_sdks_api_error_and_is_used_up(emulator: EmulatorHandle) -> None:
    emulator_call(emulator, "POST", "/_emulator/faults", {"mode": "error", "status": 500, "count": 1,
                                                          "method": "POST", "path_prefix": "/v1/prices"})
    client = sdk(emulator)
    product = client.v1.products.create({"name": "Unaffected"})

    with pytest.raises(stripe.APIError) as failed:
        client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": 100})
    assert failed.value.http_status == 500
    assert client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": 100}).id
    statuses = [entry["status"] for entry in emulator_call(emulator, "GET", "/_emulator/requests")["requests"]
                if entry["path"] == "/v1/prices"]
    assert statuses == [500, 200]


def test_a_hung_request_times_the_sdk_out_without_holding_up_others(emulator: EmulatorHandle) -> None:
    emulator_call(emulator, "POST", "/_emulator/faults", {"mode": "hang", "count": 1, "seconds": 30,
                                                          "path_prefix": "/v1/customers"})
    impatient = sdk(emulator, http_client=stripe.RequestsClient(timeout=1))
    outcome: list[BaseException] = []

    def hang() -> None:
        try:
            impatient.v1.customers.create({})
        except stripe.StripeError as error:
            outcome.append(error)

    hung = threading.Thread(target=hang)
    hung.start()
    _wait_until(lambda: not emulator_call(emulator, "GET", "/_emulator/faults")["faults"])
    assert sdk(emulator).v1.products.create({"name": "Served meanwhile"}).id.startswith("prod_")
    hung.join()
    assert len(outcome) == 1
    assert isinstance(outcome[0], stripe.APIConnectionError)
    emulator_call(emulator, "DELETE", "/_emulator/faults")


def _wait_until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# ----------------------------------------------------------- webhooks


@pytest.fixture
def receiver() -> Iterator[Callable[[str], WebhookReceiver]]:
    made: list[WebhookReceiver] = []

    def make(secret: str) -> WebhookReceiver:
        made.append(WebhookReceiver(secret))
        return made[-1]

    yield make
    for one in made:
        one.close()


def test_webhooks_are_signed_like_stripes_and_delivered_in_the_background(
        receiver: Callable[[str], WebhookReceiver]) -> None:
    secret = "whsec_test_secret"
    endpoint = receiver(secret)
    handle = start_in_thread(webhook_url=endpoint.url, webhook_secret=secret)
    try:
        customer = sdk(handle).v1.customers.create({"email": "hook@example.com"})
        flushed = emulator_call(handle, "POST", "/_emulator/deliveries/flush")
    finally:
        handle.stop()

    assert flushed["drained"] is True
    assert [event.type for event in endpoint.events] == ["customer.created"]
    assert endpoint.events[0].data.object["id"] == customer.id
    assert [(d["type"], d["url"], d["status"], d["attempt"]) for d in flushed["deliveries"]] == [
        ("customer.created", endpoint.url, 200, 1)]


def test_a_webhook_endpoint_made_through_the_api_gets_only_its_events(
        emulator: EmulatorHandle, receiver: Callable[[str], WebhookReceiver]) -> None:
    client = sdk(emulator)
    endpoint = receiver("whsec_unknown_until_created")
    created = client.v1.webhook_endpoints.create({"url": endpoint.url, "enabled_events": ["product.created"]})
    assert created.secret is not None
    assert created.secret.startswith("whsec_")
    endpoint.secret = created.secret  # Stripe shows it only in this response
    assert client.v1.webhook_endpoints.retrieve(created.id).secret is None

    client.v1.customers.create({})
    product = client.v1.products.create({"name": "Hooked"})
    emulator_call(emulator, "POST", "/_emulator/deliveries/flush")

    assert [(event.type, event.data.object["id"]) for event in endpoint.events] == [("product.created", product.id)]
    assert client.v1.events.retrieve(endpoint.events[0].id).pending_webhooks == 0
