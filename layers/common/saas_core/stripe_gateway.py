"""Every Stripe call the product makes goes through here.

- A `StripeClient` per account (no global API key): "live" bills chargeable
  tenants, "test" the others (seed 000). Locally both point at the emulator,
  or at one real sk_test_ key.
- Parameters are typed with the SDK's own TypedDicts, so mypy refuses a
  parameter Stripe does not have.
- Idempotency keys derive from the operation, the attempt and the
  parameters (`idempotency_key`): the SDK's own retries of one call replay
  instead of duplicating, and other parameters never reuse a key (Stripe
  answers `idempotency_error` for 24 hours). Stripe stores a 500 under its
  key and replays it, so a new attempt uses new keys and first looks for
  what an earlier attempt may have made (`find_*`, by metadata or id).
- Each call works within the request's deadline (`saas_core.deadline`): its
  timeout is cut to the time left, no retry starts without time for it, and
  429s back off only while time remains.
- Any Stripe failure becomes StripeUnavailable (502) in the product's own
  words; Stripe's text goes to the log, never to the caller.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import stripe
from aws_lambda_powertools import Logger

from saas_core import deadline, secrets, telemetry
from saas_core.errors import StripeUnavailable
from saas_core.settings import get_settings

if TYPE_CHECKING:
    from stripe.params import (
        CustomerCreateParams,
        CustomerListParams,
        CustomerListPaymentMethodsParams,
        CustomerUpdateParams,
        InvoiceCreatePreviewParams,
        InvoiceCreatePreviewParamsSubscriptionDetails,
        InvoiceListParams,
        PriceCreateParams,
        PriceListParams,
        PriceUpdateParams,
        ProductCreateParams,
        ProductUpdateParams,
        SubscriptionCancelParams,
        SubscriptionCreateParams,
        SubscriptionListParams,
        SubscriptionScheduleCreateParams,
        SubscriptionScheduleUpdateParams,
        SubscriptionScheduleUpdateParamsPhase,
        SubscriptionUpdateParams,
    )
    from stripe.params.test_helpers import TestClockCreateParams

    from saas_core.models.plans import BillingCycle, Plan, StripePrices
    from saas_core.models.tenants import Tenant

logger = Logger(child=True)

# No usage telemetry headers to Stripe from a billing backend.
stripe.enable_telemetry = False

ACCOUNTS = ("live", "test")
RATE_LIMIT_RETRIES = 2
RATE_LIMIT_BASE_DELAY_SECONDS = 0.5
INVOICE_DAYS_UNTIL_DUE = 30
# Below this, a call could not complete: better to stop than to start it.
MIN_CALL_SECONDS = 0.5
LIST_LIMIT = 100
ENDED_SUBSCRIPTION_STATUSES = frozenset({"canceled", "incomplete_expired"})

R = TypeVar("R")


class _DeadlineHttpClient(stripe.RequestsClient):
    """The SDK's requests client, bounded by the request's deadline.

    The SDK reads `_timeout` for every attempt, so it is computed: the
    configured timeout, or less when less time is left. A retry starts only
    when its backoff and a useful attempt still fit.
    """

    @property
    def _timeout(self) -> float:
        return max(MIN_CALL_SECONDS, min(self._configured_timeout, deadline.remaining()))

    @_timeout.setter
    def _timeout(self, value: float) -> None:
        self._configured_timeout = value

    def _should_retry(self, response: Any, api_connection_error: Any, num_retries: int,
                      max_network_retries: int | None) -> bool:
        if deadline.remaining() < MIN_CALL_SECONDS + self._sleep_time_seconds(num_retries + 1):
            return False
        return bool(super()._should_retry(response, api_connection_error, num_retries, max_network_retries))


@functools.cache
def _client_for_key(api_key: str, api_base: str, timeout: float, retries: int) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=retries,
        http_client=_DeadlineHttpClient(timeout=timeout),
    )


def client(account: str) -> stripe.StripeClient:
    settings = get_settings()
    return _client_for_key(secrets.stripe_key(live=account == "live"), settings.stripe_api_base,
                           settings.stripe_timeout_seconds, settings.stripe_max_retries)


def distinct_accounts() -> list[str]:
    """The accounts to mirror the catalog into: one when both use the same key."""
    live_key = secrets.stripe_key(live=True)
    test_key = secrets.stripe_key(live=False)
    return ["live"] if live_key == test_key else list(ACCOUNTS)


def idempotency_key(operation: str, scope: str, params: Mapping[str, Any]) -> str:
    """`operation:scope:digest of the parameters` (scope: the object and the attempt)."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return f"{operation}:{scope}:{digest}"


# ------------------------------------------------------------------ calls


def _failed(operation: str, error: stripe.StripeError) -> StripeUnavailable:
    telemetry.count("StripeCallFailed")
    logger.warning("Stripe call failed", extra={
        "operation": operation, "stripe_error": type(error).__name__, "http_status": error.http_status,
        "code": error.code, "request_id": error.request_id, "stripe_message": error.user_message,
    })
    # A timeout or a 5xx may have happened anyway; a 4xx did not.
    unknown = isinstance(error, stripe.APIConnectionError) or (error.http_status or 500) >= 500
    reason = "did not answer in time" if isinstance(error, stripe.APIConnectionError) else "refused or failed"
    return StripeUnavailable(f"Stripe {reason} while trying to {operation}; nothing was changed",
                             outcome_unknown=unknown)


def _out_of_time(operation: str) -> StripeUnavailable:
    telemetry.count("StripeCallFailed")
    logger.warning("no time left for a Stripe call", extra={"operation": operation})
    return StripeUnavailable(f"Stripe did not answer in time to {operation}; nothing was changed")


def call(operation: str, request: Callable[[], R]) -> R:
    """Run one Stripe request within the deadline; a failure becomes StripeUnavailable."""
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        if deadline.remaining() < MIN_CALL_SECONDS:
            raise _out_of_time(operation)
        try:
            return request()
        except stripe.RateLimitError as error:
            pause = random.uniform(0, RATE_LIMIT_BASE_DELAY_SECONDS * 2**attempt)  # noqa: S311 - jitter
            if attempt == RATE_LIMIT_RETRIES or deadline.remaining() < pause + MIN_CALL_SECONDS:
                raise _failed(operation, error) from None
            # Full jitter: concurrent functions must not retry in lockstep.
            time.sleep(pause)
        except stripe.StripeError as error:
            raise _failed(operation, error) from None
    raise AssertionError("unreachable")


class _Answered(Exception):
    """Stripe's error was the answer the caller asked for (see `call_unless`)."""


def call_unless(code: str, operation: str, request: Callable[[], R]) -> R | None:
    """Like `call`, but Stripe refusing with `code` (resource_missing, resource_already_exists)
    is an answer, None, rather than a failure: the object is already gone, or already there."""
    def expecting_code() -> R:
        try:
            return request()
        except stripe.InvalidRequestError as error:
            if error.code == code:
                raise _Answered from None
            raise

    try:
        return call(operation, expecting_code)
    except _Answered:
        return None


# ------------------------------------------------------------------ catalog


def _product_params(plan: Plan) -> ProductCreateParams:
    params: ProductCreateParams = {
        "id": plan.id,  # the plan's own id: a retry finds the product instead of making another
        "name": plan.display_name,
        "metadata": {"plan_id": plan.id, "tier": plan.tier, "type": plan.type.value},
    }
    if plan.description:
        params["description"] = plan.description
    return params


def _product_fields(plan: Plan) -> ProductUpdateParams:
    return {"name": plan.display_name, "description": plan.description or "", "active": not plan.is_archived}


def ensure_product(plan: Plan, account: str, attempt: str) -> str:
    """The plan's product, made now or by an earlier attempt (then brought up to date)."""
    products = client(account).v1.products
    params = _product_params(plan)
    key = idempotency_key("create-product", f"{plan.id}:{attempt}", params)
    created = call_unless("resource_already_exists", "create the plan's product",
                          lambda: products.create(params, {"idempotency_key": key}))
    if created is None:
        call("update the plan's product", lambda: products.update(plan.id, _product_fields(plan)))
    return plan.id


def _price_metadata(plan: Plan, cycle: BillingCycle, tag: str) -> dict[str, str]:
    return {"plan_id": plan.id, "plan_version": plan.plan_version, "billing_cycle": cycle.value, "change": tag}


def _price_params(plan: Plan, product_id: str, cycle: BillingCycle, tag: str) -> PriceCreateParams:
    return {
        "product": product_id,
        "currency": plan.currency,
        "unit_amount": plan.price_minor(cycle),
        "recurring": {"interval": "month" if cycle.value == "monthly" else "year"},
        "nickname": f"{plan.display_name} {cycle.value} v{plan.plan_version}",
        "metadata": _price_metadata(plan, cycle, tag),
    }


def create_prices(plan: Plan, account: str, product_id: str, *, tag: str, attempt: str) -> StripePrices:
    """The monthly and annual prices of the plan's current version, tagged (metadata `change`)
    with the change that makes them. Prices an earlier attempt at that change made are reused;
    new ones are keyed by this attempt, as Stripe replays a stored failure under an old key."""
    from saas_core.models.plans import BillingCycle, StripePrices

    prices_service = client(account).v1.prices
    found = prices_of_change(account, product_id, tag)
    price_ids = {}
    for cycle in BillingCycle:
        if cycle.value in found:
            price_ids[cycle] = found[cycle.value]
            continue
        params = _price_params(plan, product_id, cycle, tag)
        key = idempotency_key("create-price", f"{plan.id}:{attempt}", params)
        create = functools.partial(prices_service.create, params, {"idempotency_key": key})
        price_ids[cycle] = call(f"create the plan's {cycle.value} price", create).id
    return StripePrices(product_id=product_id, monthly_price_id=price_ids[BillingCycle.MONTHLY],
                        annual_price_id=price_ids[BillingCycle.ANNUAL])


def prices_of_change(account: str, product_id: str, change: str) -> dict[str, str]:
    """billing cycle -> price id of the active prices one change made on the product."""
    params: PriceListParams = {"product": product_id, "active": True, "limit": LIST_LIMIT}
    listed = call("look up the plan's prices", lambda: list(client(account).v1.prices.list(params).auto_paging_iter()))
    found = {}
    for price in listed:
        metadata = _metadata(price.metadata)
        if metadata.get("change") == change and "billing_cycle" in metadata:
            found[metadata["billing_cycle"]] = price.id
    return found


def _metadata(metadata: stripe.StripeObject | None) -> dict[str, str]:
    # Stripe objects are not dicts in this SDK; metadata values are always strings.
    return {} if metadata is None else {str(key): str(value) for key, value in metadata.to_dict().items()}


def update_product(plan: Plan, account: str) -> None:
    ids = plan.stripe[account]
    call("update the plan's product", lambda: client(account).v1.products.update(ids.product_id,
                                                                                 _product_fields(plan)))


def set_prices_active(price_ids: Iterable[str], account: str, *, active: bool) -> None:
    """Retire (or bring back) prices; subscriptions already on them keep them either way."""
    params: PriceUpdateParams = {"active": active}
    prices_service = client(account).v1.prices
    for price_id in price_ids:
        call("retire a price" if not active else "restore a price",
             functools.partial(prices_service.update, price_id, params))


def set_product_active(product_id: str, account: str, *, active: bool) -> None:
    params: ProductUpdateParams = {"active": active}
    call("archive the plan's product" if not active else "restore the plan's product",
         lambda: client(account).v1.products.update(product_id, params))


def product_exists(product_id: str, account: str) -> bool:
    found = call_unless("resource_missing", "look up the plan's product",
                        lambda: client(account).v1.products.retrieve(product_id))
    return found is not None


def price_ids(prices: StripePrices) -> tuple[str, str]:
    return prices.monthly_price_id, prices.annual_price_id


# ------------------------------------------------------------------ tenants


@dataclass(frozen=True)
class CreatedSubscription:
    id: str
    price_id: str
    status: str
    start_date: int
    trial_end: int | None
    current_period_start: int
    current_period_end: int


def _customer_params(tenant: Tenant) -> CustomerCreateParams:
    params: CustomerCreateParams = {
        "email": tenant.email,
        "name": tenant.name,
        "metadata": {"tenant_id": tenant.id, "tenant_type": tenant.type.value},
    }
    if tenant.phone:
        params["phone"] = tenant.phone
    return params


def create_customer(tenant: Tenant, attempt: str) -> str:
    params = _customer_params(tenant)
    if tenant.stripe_account == "test" and get_settings().stripe_test_clocks:
        params["test_clock"] = _create_test_clock(tenant, attempt)
    key = idempotency_key("create-customer", f"{tenant.id}:{attempt}", params)
    customer = call("create the customer", lambda: client(tenant.stripe_account).v1.customers.create(
        params, {"idempotency_key": key}))
    return customer.id


def _create_test_clock(tenant: Tenant, attempt: str) -> str:
    """A clock of the customer's own, frozen at now: tests move the tenant's time and nobody else's."""
    params: TestClockCreateParams = {"frozen_time": int(time.time()), "name": f"tenant {tenant.id}"[:300]}
    # The key leaves the time out: a retry of this attempt is the same clock whenever it runs.
    key = idempotency_key("create-test-clock", f"{tenant.id}:{attempt}", {"name": params["name"]})
    clock = call("create the test clock", lambda: client("test").v1.test_helpers.test_clocks.create(
        params, {"idempotency_key": key}))
    return clock.id


def find_customer(account: str, email: str, tenant_id: str) -> str | None:
    """The tenant's customer made by an earlier attempt, if any: listed by email (a list, unlike
    search, sees a customer made a moment ago), told apart by its metadata."""
    params: CustomerListParams = {"email": email, "limit": LIST_LIMIT}
    # Every page inside `call`: a later page failing is a Stripe failure like the first.
    listed = call("look up the customer", lambda: list(client(account).v1.customers.list(params).auto_paging_iter()))
    for customer in listed:
        if _metadata(customer.metadata).get("tenant_id") == tenant_id:
            return customer.id
    return None


def _subscription_params(tenant: Tenant, plan: Plan, price_id: str) -> SubscriptionCreateParams:
    if tenant.stripe_customer_id is None:
        raise ValueError("the tenant's Stripe customer comes first")
    params: SubscriptionCreateParams = {
        "customer": tenant.stripe_customer_id,
        "items": [{"price": price_id, "quantity": 1}],
        "collection_method": "send_invoice",
        "days_until_due": INVOICE_DAYS_UNTIL_DUE,
        "metadata": {"tenant_id": tenant.id, "plan_id": plan.id, "plan_version": plan.plan_version},
    }
    if plan.trial_days:
        params["trial_period_days"] = plan.trial_days
    return params


def create_subscription(tenant: Tenant, plan: Plan, cycle: BillingCycle, attempt: str) -> CreatedSubscription:
    """The tenant's subscription to the plan's current price, with the plan's trial.

    Invoices are sent (send_invoice) rather than charged: an admin-created
    tenant has no card yet, and Stripe would otherwise leave it incomplete.
    """
    prices = plan.stripe[tenant.stripe_account]
    price_id = prices.monthly_price_id if cycle.value == "monthly" else prices.annual_price_id
    params = _subscription_params(tenant, plan, price_id)
    key = idempotency_key("create-subscription", f"{tenant.id}:{attempt}", params)
    subscription = call("create the subscription", lambda: client(tenant.stripe_account).v1.subscriptions.create(
        params, {"idempotency_key": key}))
    return _created(subscription, price_id)


def find_subscription(tenant: Tenant) -> CreatedSubscription | None:
    """The tenant's live subscription made by an earlier attempt, if any."""
    if tenant.stripe_customer_id is None:
        return None
    params: SubscriptionListParams = {"customer": tenant.stripe_customer_id, "status": "all", "limit": LIST_LIMIT}
    listed = call("look up the subscription",
                  lambda: list(client(tenant.stripe_account).v1.subscriptions.list(params).auto_paging_iter()))
    for subscription in listed:
        if _metadata(subscription.metadata).get("tenant_id") == tenant.id and \
                subscription.status not in ENDED_SUBSCRIPTION_STATUSES:
            return _created(subscription, subscription.items.data[0].price.id)
    return None


def _created(subscription: stripe.Subscription, price_id: str) -> CreatedSubscription:
    item = subscription.items.data[0]
    return CreatedSubscription(
        id=subscription.id, price_id=price_id, status=subscription.status,
        start_date=subscription.start_date, trial_end=subscription.trial_end,
        current_period_start=item.current_period_start, current_period_end=item.current_period_end,
    )


def delete_customer(account: str, customer_id: str) -> None:
    """Undo a customer made for a create that did not complete; deleting also cancels its subscriptions.
    A customer an earlier undo already deleted is done."""
    call_unless("resource_missing", "delete the customer",
                lambda: client(account).v1.customers.delete(customer_id))


# ------------------------------------------------------ a tenant's subscription


def _subscriptions(tenant: Tenant) -> Any:
    return client(tenant.stripe_account).v1.subscriptions


def subscription_state(tenant: Tenant, subscription_id: str) -> CreatedSubscription:
    """The subscription as Stripe has it now."""
    found = call("read the subscription", lambda: _subscriptions(tenant).retrieve(subscription_id))
    return _created(found, found.items.data[0].price.id)


def _item_id(tenant: Tenant, subscription_id: str) -> str:
    found = call("read the subscription", lambda: _subscriptions(tenant).retrieve(subscription_id))
    return str(found.items.data[0].id)


def change_price(tenant: Tenant, subscription_id: str, price_id: str, *, prorate: bool,
                 attempt: str) -> CreatedSubscription:
    """The subscription's item on another price now, prorated or not (Stripe bills the difference
    on the next invoice with create_prorations)."""
    params: SubscriptionUpdateParams = {
        "items": [{"id": _item_id(tenant, subscription_id), "price": price_id}],
        "proration_behavior": "create_prorations" if prorate else "none",
        "metadata": {"tenant_id": tenant.id},
    }
    key = idempotency_key("change-price", f"{tenant.id}:{attempt}", params)
    updated = call("change the subscription's price",
                   lambda: _subscriptions(tenant).update(subscription_id, params, {"idempotency_key": key}))
    return _created(updated, price_id)


def set_trial_end(tenant: Tenant, subscription_id: str, trial_end: int, attempt: str) -> CreatedSubscription:
    """Move the trial's end (no proration: nothing is billed during a trial)."""
    params: SubscriptionUpdateParams = {"trial_end": trial_end, "proration_behavior": "none"}
    key = idempotency_key("set-trial-end", f"{tenant.id}:{attempt}", params)
    updated = call("move the trial's end",
                   lambda: _subscriptions(tenant).update(subscription_id, params, {"idempotency_key": key}))
    return _created(updated, updated.items.data[0].price.id)


def cancel_subscription(tenant: Tenant, subscription_id: str) -> None:
    """End the subscription now, without a final invoice or proration. One already ended is done."""
    params: SubscriptionCancelParams = {"invoice_now": False, "prorate": False}
    call_unless("resource_missing", "cancel the subscription",
                lambda: _subscriptions(tenant).cancel(subscription_id, params))


def schedule_price(tenant: Tenant, subscription_id: str, price_id: str, *, current_price_id: str,
                   interval: str, schedule_id: str | None, attempt: str) -> str:
    """From the end of the current period, the subscription on `price_id`: a subscription schedule
    (made from the subscription, or the one already pending) whose next phase has the new price for
    one interval, then released so the subscription simply goes on. Returns the schedule's id."""
    schedules = client(tenant.stripe_account).v1.subscription_schedules
    if schedule_id is None:
        create: SubscriptionScheduleCreateParams = {"from_subscription": subscription_id}
        made = call("schedule the plan change", lambda: schedules.create(
            create, {"idempotency_key": idempotency_key("schedule", f"{tenant.id}:{attempt}", create)}))
        schedule_id = str(made.id)
    current = call("read the schedule", lambda: schedules.retrieve(schedule_id))
    phase = current.phases[0]
    now: SubscriptionScheduleUpdateParamsPhase = {
        "items": [{"price": current_price_id, "quantity": 1}], "start_date": phase.start_date,
        "end_date": phase.end_date, "proration_behavior": "none"}
    if phase.trial_end:
        now["trial_end"] = phase.trial_end  # left out, the update would end the trial at once
    update: SubscriptionScheduleUpdateParams = {
        "end_behavior": "release",
        "phases": [
            now,
            {"items": [{"price": price_id, "quantity": 1}], "duration": {"interval": interval},
             "proration_behavior": "none", "metadata": {"tenant_id": tenant.id}},
        ],
    }
    call("schedule the plan change", lambda: schedules.update(
        schedule_id, update, {"idempotency_key": idempotency_key("reschedule", f"{tenant.id}:{attempt}", update)}))
    return schedule_id


def schedule_of(tenant: Tenant, subscription_id: str) -> str | None:
    """The schedule managing the subscription now, if any (Stripe names it on the subscription)."""
    found = call("read the subscription", lambda: _subscriptions(tenant).retrieve(subscription_id))
    schedule = found.schedule
    if schedule is None:
        return None
    return schedule if isinstance(schedule, str) else str(schedule.id)


def release_schedule(tenant: Tenant, schedule_id: str) -> None:
    """Drop a pending change: the schedule lets go of the subscription, which stays as it is.
    One already released (or completed) is done."""
    schedules = client(tenant.stripe_account).v1.subscription_schedules
    call_unless("resource_missing", "cancel the pending plan change", lambda: _release(schedules, schedule_id))


def _release(schedules: Any, schedule_id: str) -> None:
    current = schedules.retrieve(schedule_id)
    if current.status in ("not_started", "active"):
        schedules.release(schedule_id)


@dataclass(frozen=True)
class PreviewLine:
    description: str
    amount: int
    proration: bool
    period_start: int
    period_end: int


@dataclass(frozen=True)
class InvoicePreview:
    currency: str
    lines: list[PreviewLine]
    amount_due: int
    total: int


def preview_price_change(tenant: Tenant, subscription_id: str, price_id: str, *, prorate: bool,
                         at_period_end: int | None = None) -> InvoicePreview:
    """What Stripe would invoice next if the subscription moved to `price_id` now, or from
    `at_period_end` (previewed as a trial until then: nothing is billed before it, and the first
    invoice of the new price, in its own cycle, is dated then); nothing changes."""
    details: InvoiceCreatePreviewParamsSubscriptionDetails = {
        "items": [{"id": _item_id(tenant, subscription_id), "price": price_id}],
        "proration_behavior": "create_prorations" if prorate else "none"}
    if at_period_end is not None:
        details["proration_behavior"] = "none"
        details["trial_end"] = at_period_end
    params: InvoiceCreatePreviewParams = {
        "customer": str(tenant.stripe_customer_id), "subscription": subscription_id,
        "subscription_details": details,
    }
    invoice = call("preview the invoice", lambda: client(tenant.stripe_account).v1.invoices.create_preview(params))
    lines = [PreviewLine(description=str(line.description or ""), amount=line.amount,
                         proration=_is_proration(line), period_start=line.period.start, period_end=line.period.end)
             for line in invoice.lines.data]
    return InvoicePreview(currency=invoice.currency, lines=lines, amount_due=invoice.amount_due, total=invoice.total)


def _is_proration(line: Any) -> bool:
    parent = getattr(line, "parent", None)
    details = getattr(parent, "subscription_item_details", None) or getattr(parent, "invoice_item_details", None)
    return bool(getattr(details, "proration", False))


# ------------------------------------------------------ what a customer has


@dataclass(frozen=True)
class InvoiceSummary:
    id: str
    number: str | None
    status: str | None
    currency: str
    amount_due: int
    amount_paid: int
    created: int
    due_date: int | None
    hosted_invoice_url: str | None


@dataclass(frozen=True)
class PaymentMethodSummary:
    id: str
    type: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    is_default: bool


def recent_invoices(account: str, customer_id: str, limit: int) -> list[InvoiceSummary]:
    params: InvoiceListParams = {"customer": customer_id, "limit": limit}
    listed = call("list the invoices", lambda: client(account).v1.invoices.list(params))
    return [InvoiceSummary(id=str(invoice.id), number=invoice.number, status=invoice.status,
                           currency=invoice.currency, amount_due=invoice.amount_due, amount_paid=invoice.amount_paid,
                           created=invoice.created, due_date=invoice.due_date,
                           hosted_invoice_url=invoice.hosted_invoice_url)
            for invoice in listed.data]


def payment_methods(account: str, customer_id: str) -> list[PaymentMethodSummary]:
    customers = client(account).v1.customers
    customer = call("read the customer", lambda: customers.retrieve(customer_id))
    settings = getattr(customer, "invoice_settings", None)
    default = getattr(settings, "default_payment_method", None)
    params: CustomerListPaymentMethodsParams = {"limit": LIST_LIMIT}
    listed = call("list the payment methods", lambda: customers.payment_methods.list(customer_id, params))
    return [PaymentMethodSummary(
        id=str(method.id), type=method.type, brand=method.card.brand if method.card else None,
        last4=method.card.last4 if method.card else None, exp_month=method.card.exp_month if method.card else None,
        exp_year=method.card.exp_year if method.card else None, is_default=method.id == default)
        for method in listed.data]


# ------------------------------------------------------ billing details given by the owner


@dataclass(frozen=True)
class OwnedObject:
    """A customer or subscription as the owner's billing update checks it."""

    id: str
    tenant_id: str | None  # its metadata's tenant_id
    customer_id: str | None  # a subscription's customer
    ended: bool  # a deleted customer, a canceled subscription


def find_customer_by_id(account: str, customer_id: str) -> OwnedObject | None:
    """The customer in the account, or None when the account has no such customer."""
    found = call_unless("resource_missing", "read the customer",
                        lambda: client(account).v1.customers.retrieve(customer_id))
    if found is None:
        return None
    deleted = bool(getattr(found, "deleted", False))
    return OwnedObject(id=found.id, tenant_id=None if deleted else _metadata(found.metadata).get("tenant_id"),
                       customer_id=found.id, ended=deleted)


def find_subscription_by_id(account: str, subscription_id: str) -> OwnedObject | None:
    found = call_unless("resource_missing", "read the subscription",
                        lambda: client(account).v1.subscriptions.retrieve(subscription_id))
    if found is None:
        return None
    customer = found.customer if isinstance(found.customer, str) else found.customer.id
    return OwnedObject(id=found.id, tenant_id=_metadata(found.metadata).get("tenant_id"), customer_id=customer,
                       ended=found.status in ENDED_SUBSCRIPTION_STATUSES)


def set_customer_email(account: str, customer_id: str, email: str) -> None:
    """The customer's email, where Stripe sends invoices; setting the same value again changes nothing."""
    params: CustomerUpdateParams = {"email": email}
    key = idempotency_key("customer-email", customer_id, params)
    call("update the customer's email",
         lambda: client(account).v1.customers.update(customer_id, params, {"idempotency_key": key}))
