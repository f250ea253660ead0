"""Every Stripe call the product makes goes through here.

- A `StripeClient` per account (no global API key): "live" bills chargeable
  tenants, "test" the others (seed 000). Locally both point at the emulator,
  or at one real sk_test_ key.
- Parameters are typed with the SDK's own TypedDicts, so mypy refuses a
  parameter Stripe does not have.
- Idempotency keys derive from the operation (tenant id, plan id and
  version), so a retry after a crash replays instead of duplicating.
- Timeouts and retries fit inside API Gateway's 29 s; 429s back off.
- Any Stripe failure becomes StripeUnavailable (502) for the caller, which
  then changes nothing locally.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import stripe

from saas_core import secrets, telemetry
from saas_core.errors import StripeUnavailable
from saas_core.settings import get_settings

if TYPE_CHECKING:
    from stripe.params import (
        CustomerCreateParams,
        PriceCreateParams,
        PriceUpdateParams,
        ProductCreateParams,
        ProductUpdateParams,
        SubscriptionCreateParams,
    )

    from saas_core.models.plans import BillingCycle, Plan, StripePrices
    from saas_core.models.tenants import Tenant

# No usage telemetry headers to Stripe from a billing backend.
stripe.enable_telemetry = False

ACCOUNTS = ("live", "test")
RATE_LIMIT_RETRIES = 2
RATE_LIMIT_BASE_DELAY_SECONDS = 0.5
INVOICE_DAYS_UNTIL_DUE = 30

R = TypeVar("R")


@functools.cache
def _client_for_key(api_key: str, api_base: str, timeout: float, retries: int) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=timeout),
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


def call(operation: str, request: Callable[[], R]) -> R:
    """Run one Stripe request; a failure becomes StripeUnavailable."""
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        try:
            return request()
        except stripe.RateLimitError:
            if attempt == RATE_LIMIT_RETRIES:
                telemetry.count("StripeCallFailed")
                raise StripeUnavailable(f"Stripe rate limit hit while trying to {operation}") from None
            # Full jitter: concurrent functions must not retry in lockstep.
            time.sleep(random.uniform(0, RATE_LIMIT_BASE_DELAY_SECONDS * 2**attempt))  # noqa: S311
        except stripe.StripeError as error:
            telemetry.count("StripeCallFailed")
            raise StripeUnavailable(f"Stripe failed to {operation}: {_safe_message(error)}") from error
    raise AssertionError("unreachable")


def _safe_message(error: stripe.StripeError) -> str:
    if isinstance(error, stripe.APIConnectionError):
        return "no answer in time"
    return error.user_message or type(error).__name__


# ------------------------------------------------------------------ catalog


@dataclass(frozen=True)
class PlanStripeIds:
    account: str
    prices: StripePrices


def _product_params(plan: Plan) -> ProductCreateParams:
    params: ProductCreateParams = {
        "name": plan.display_name,
        "metadata": {"plan_id": plan.id, "tier": plan.tier, "type": plan.type.value},
    }
    if plan.description:
        params["description"] = plan.description
    return params


def _price_params(plan: Plan, product_id: str, cycle: BillingCycle) -> PriceCreateParams:
    return {
        "product": product_id,
        "currency": plan.currency,
        "unit_amount": plan.price_minor(cycle),
        "recurring": {"interval": "month" if cycle.value == "monthly" else "year"},
        "nickname": f"{plan.display_name} {cycle.value} v{plan.plan_version}",
        "metadata": {"plan_id": plan.id, "plan_version": plan.plan_version, "billing_cycle": cycle.value},
    }


def create_product(plan: Plan, account: str) -> str:
    product = call("create the plan's product", lambda: client(account).v1.products.create(
        _product_params(plan), {"idempotency_key": f"plan:{plan.id}:product"}))
    return product.id


def create_prices(plan: Plan, account: str, product_id: str) -> StripePrices:
    """The monthly and annual prices of the plan's current version."""
    from saas_core.models.plans import BillingCycle, StripePrices

    prices_service = client(account).v1.prices
    price_ids = {}
    for cycle in BillingCycle:
        create = functools.partial(prices_service.create, _price_params(plan, product_id, cycle),
                                   {"idempotency_key": f"plan:{plan.id}:v{plan.plan_version}:{cycle.value}"})
        price_ids[cycle] = call(f"create the plan's {cycle.value} price", create).id
    return StripePrices(product_id=product_id, monthly_price_id=price_ids[BillingCycle.MONTHLY],
                        annual_price_id=price_ids[BillingCycle.ANNUAL])


def update_product(plan: Plan, account: str) -> None:
    ids = plan.stripe[account]
    params: ProductUpdateParams = {"name": plan.display_name, "description": plan.description or "",
                                   "active": not plan.is_archived}
    call("update the plan's product",
         lambda: client(account).v1.products.update(ids.product_id, params))


def deactivate_prices(prices: StripePrices, account: str) -> None:
    """Old prices stop being offered; subscriptions already on them keep them."""
    params: PriceUpdateParams = {"active": False}
    prices_service = client(account).v1.prices
    for price_id in (prices.monthly_price_id, prices.annual_price_id):
        call("retire an old price", functools.partial(prices_service.update, price_id, params))


def restore_product(account: str, prices: StripePrices) -> None:
    """Undo archive_product when the local delete it preceded did not happen."""
    price_params: PriceUpdateParams = {"active": True}
    prices_service = client(account).v1.prices
    for price_id in (prices.monthly_price_id, prices.annual_price_id):
        call("restore a price", functools.partial(prices_service.update, price_id, price_params))
    product_params: ProductUpdateParams = {"active": True}
    call("restore the plan's product",
         lambda: client(account).v1.products.update(prices.product_id, product_params))


def archive_product(account: str, product_id: str, prices: StripePrices | None = None) -> None:
    """Stop offering the product (and its prices); existing subscriptions are unaffected."""
    if prices is not None:
        deactivate_prices(prices, account)
    params: ProductUpdateParams = {"active": False}
    call("archive the plan's product", lambda: client(account).v1.products.update(product_id, params))


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


def create_customer(tenant: Tenant) -> str:
    params: CustomerCreateParams = {
        "email": tenant.email,
        "name": tenant.name,
        "metadata": {"tenant_id": tenant.id, "tenant_type": tenant.type.value},
    }
    if tenant.phone:
        params["phone"] = tenant.phone
    customer = call("create the customer", lambda: client(tenant.stripe_account).v1.customers.create(
        params, {"idempotency_key": f"tenant:{tenant.id}:customer"}))
    return customer.id


def create_subscription(tenant: Tenant, plan: Plan, cycle: BillingCycle) -> CreatedSubscription:
    """The tenant's subscription to the plan's current price, with the plan's trial.

    Invoices are sent (send_invoice) rather than charged: an admin-created
    tenant has no card yet, and Stripe would otherwise leave it incomplete.
    """
    if tenant.stripe_customer_id is None:
        raise ValueError("the tenant's Stripe customer comes first")
    prices = plan.stripe[tenant.stripe_account]
    price_id = prices.monthly_price_id if cycle.value == "monthly" else prices.annual_price_id
    params: SubscriptionCreateParams = {
        "customer": tenant.stripe_customer_id,
        "items": [{"price": price_id, "quantity": 1}],
        "collection_method": "send_invoice",
        "days_until_due": INVOICE_DAYS_UNTIL_DUE,
        "metadata": {"tenant_id": tenant.id, "plan_id": plan.id, "plan_version": plan.plan_version},
    }
    if plan.trial_days:
        params["trial_period_days"] = plan.trial_days
    subscription = call("create the subscription", lambda: client(tenant.stripe_account).v1.subscriptions.create(
        params, {"idempotency_key": f"tenant:{tenant.id}:subscription:{price_id}"}))
    item = subscription.items.data[0]
    return CreatedSubscription(
        id=subscription.id, price_id=price_id, status=subscription.status,
        start_date=subscription.start_date, trial_end=subscription.trial_end,
        current_period_start=item.current_period_start, current_period_end=item.current_period_end,
    )


def delete_customer(account: str, customer_id: str) -> None:
    """Compensation after a later step failed; deleting also cancels its subscriptions."""
    call("delete the customer", lambda: client(account).v1.customers.delete(customer_id))
