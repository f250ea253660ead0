"""Which Stripe endpoints the emulator serves: method, path, accepted parameters,
handler, and whose time a change runs in (the test clock of the customer it
concerns, or wall time)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.stripe_emulator import (
    catalog,
    customers,
    events,
    invoice_actions,
    invoice_previews,
    invoices,
    payments,
    subscription_changes,
    subscription_pauses,
    subscription_schedules,
    subscriptions,
    test_clocks,
)
from local.stripe_emulator.errors import StripeApiError
from local.stripe_emulator.params import ONLY_EXPAND, Obj
from local.stripe_emulator.store import Account, StripeObject

Handler = Callable[[Account, dict[str, Any], tuple[str, ...]], StripeObject]
# The test clock whose time a request runs in, None for wall time.
ClockOf = Callable[[Account, dict[str, Any], tuple[str, ...]], StripeObject | None]


def with_params(function: Callable[[Account, dict[str, Any]], StripeObject]) -> Handler:
    return lambda account, params, ids: function(account, params)


def with_id(function: Callable[[Account, str], StripeObject]) -> Handler:
    return lambda account, params, ids: function(account, ids[0])


def with_id_and_params(function: Callable[[Account, str, dict[str, Any]], StripeObject]) -> Handler:
    return lambda account, params, ids: function(account, ids[0], params)


def wall_time(account: Account, params: dict[str, Any], ids: tuple[str, ...]) -> StripeObject | None:
    return None


def clock_param(account: Account, params: dict[str, Any], ids: tuple[str, ...]) -> StripeObject | None:
    return test_clocks.find(account, params.get("test_clock"))


def customer_param(account: Account, params: dict[str, Any], ids: tuple[str, ...]) -> StripeObject | None:
    return test_clocks.of_customer(account, params.get("customer"))


def customer_path(account: Account, params: dict[str, Any], ids: tuple[str, ...]) -> StripeObject | None:
    return test_clocks.of_customer(account, ids[0])


def subscription_param(name: str) -> ClockOf:
    """The clock of the customer of the subscription the parameter `name` names."""
    def clock(account: Account, params: dict[str, Any], ids: tuple[str, ...]) -> StripeObject | None:
        subscription = account.find("subscription", params.get(name) or "")
        return test_clocks.of_customer(account, subscription.get("customer") if subscription else None)
    return clock


def previewed(account: Account, params: dict[str, Any], ids: tuple[str, ...]) -> StripeObject | None:
    """The clock of the customer an invoice preview is about (its subscription's, its schedule's)."""
    customer = params.get("customer")
    for kind, name in (("subscription", "subscription"), ("subscription_schedule", "schedule")):
        owned = account.find(kind, params.get(name) or "")
        customer = owned["customer"] if owned else customer
    return test_clocks.of_customer(account, customer)


def customer_of(kind: str) -> ClockOf:
    """The clock of the customer that the `kind` object named in the path belongs to."""
    def clock(account: Account, params: dict[str, Any], ids: tuple[str, ...]) -> StripeObject | None:
        owned = account.find(kind, ids[0])
        return test_clocks.of_customer(account, owned.get("customer") if owned else None)
    return clock


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # `{id}` stands for one path segment
    schema: Obj
    handler: Handler
    clock_of: ClockOf = wall_time

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.sub(r"\\\{id\\\}", "([^/]+)", re.escape(self.path)) + "$")


ROUTES = [
    Route("POST", "/v1/products", catalog.PRODUCT_CREATE, with_params(catalog.create_product)),
    Route("GET", "/v1/products", catalog.PRODUCT_LIST, with_params(catalog.list_products)),
    Route("GET", "/v1/products/{id}", ONLY_EXPAND, with_id(catalog.retrieve_product)),
    Route("POST", "/v1/products/{id}", catalog.PRODUCT_UPDATE, with_id_and_params(catalog.update_product)),
    Route("DELETE", "/v1/products/{id}", Obj({}), with_id(catalog.delete_product)),

    Route("POST", "/v1/prices", catalog.PRICE_CREATE, with_params(catalog.create_price)),
    Route("GET", "/v1/prices", catalog.PRICE_LIST, with_params(catalog.list_prices)),
    Route("GET", "/v1/prices/{id}", ONLY_EXPAND, with_id(catalog.retrieve_price)),
    Route("POST", "/v1/prices/{id}", catalog.PRICE_UPDATE, with_id_and_params(catalog.update_price)),

    Route("POST", "/v1/customers", customers.CUSTOMER_CREATE, with_params(customers.create_customer), clock_param),
    Route("GET", "/v1/customers", customers.CUSTOMER_LIST, with_params(customers.list_customers)),
    Route("GET", "/v1/customers/{id}", ONLY_EXPAND, with_id(customers.retrieve_customer)),
    Route("POST", "/v1/customers/{id}", customers.CUSTOMER_UPDATE, with_id_and_params(customers.update_customer),
          customer_path),
    Route("DELETE", "/v1/customers/{id}", Obj({}), with_id(customers.delete_customer), customer_path),
    Route("GET", "/v1/customers/{id}/payment_methods", payments.CUSTOMER_PAYMENT_METHOD_LIST,
          lambda account, params, ids: payments.list_methods(account, params, customer_id=ids[0])),
    Route("GET", "/v1/customers/{id}/payment_methods/{id}", ONLY_EXPAND,
          lambda account, params, ids: payments.retrieve_of_customer(account, ids[0], ids[1])),

    Route("GET", "/v1/payment_methods", payments.PAYMENT_METHOD_LIST, with_params(payments.list_methods)),
    Route("GET", "/v1/payment_methods/{id}", ONLY_EXPAND, with_id(payments.retrieve)),
    Route("POST", "/v1/payment_methods/{id}/attach", payments.ATTACH, with_id_and_params(payments.attach),
          customer_param),
    Route("POST", "/v1/payment_methods/{id}/detach", payments.DETACH, with_id_and_params(payments.detach),
          customer_of("payment_method")),

    Route("POST", "/v1/subscriptions", subscriptions.SUBSCRIPTION_CREATE,
          with_params(subscriptions.create_subscription), customer_param),
    Route("GET", "/v1/subscriptions", subscriptions.SUBSCRIPTION_LIST, with_params(subscriptions.list_subscriptions)),
    Route("GET", "/v1/subscriptions/{id}", ONLY_EXPAND, with_id(subscriptions.retrieve_subscription)),
    Route("POST", "/v1/subscriptions/{id}", subscription_changes.SUBSCRIPTION_UPDATE,
          with_id_and_params(subscription_changes.update_subscription), customer_of("subscription")),
    Route("POST", "/v1/subscriptions/{id}/resume", subscription_pauses.SUBSCRIPTION_RESUME,
          with_id_and_params(subscription_pauses.resume_subscription), customer_of("subscription")),
    Route("DELETE", "/v1/subscriptions/{id}", subscription_changes.SUBSCRIPTION_CANCEL,
          with_id_and_params(subscription_changes.cancel_subscription), customer_of("subscription")),
    Route("POST", "/v1/subscription_schedules", subscription_schedules.SCHEDULE_CREATE,
          with_params(subscription_schedules.create_schedule), subscription_param("from_subscription")),
    Route("GET", "/v1/subscription_schedules", subscription_schedules.SCHEDULE_LIST,
          with_params(subscription_schedules.list_schedules)),
    Route("GET", "/v1/subscription_schedules/{id}", ONLY_EXPAND, with_id(subscription_schedules.retrieve_schedule)),
    Route("POST", "/v1/subscription_schedules/{id}", subscription_schedules.SCHEDULE_UPDATE,
          with_id_and_params(subscription_schedules.update_schedule), customer_of("subscription_schedule")),
    Route("POST", "/v1/subscription_schedules/{id}/release", subscription_schedules.SCHEDULE_RELEASE,
          with_id_and_params(subscription_schedules.release_schedule), customer_of("subscription_schedule")),
    Route("POST", "/v1/subscription_schedules/{id}/cancel", subscription_schedules.SCHEDULE_CANCEL,
          with_id_and_params(subscription_schedules.cancel_schedule), customer_of("subscription_schedule")),
    Route("GET", "/v1/subscription_items", subscriptions.SUBSCRIPTION_ITEM_LIST,
          with_params(subscriptions.list_items)),
    Route("GET", "/v1/subscription_items/{id}", ONLY_EXPAND, with_id(subscriptions.retrieve_item)),

    Route("GET", "/v1/invoices", invoices.INVOICE_LIST, with_params(invoices.list_invoices)),
    Route("POST", "/v1/invoices/create_preview", invoice_previews.INVOICE_PREVIEW,
          with_params(invoice_previews.create_preview), previewed),
    Route("GET", "/v1/invoices/{id}", ONLY_EXPAND, with_id(invoices.retrieve_invoice)),
    Route("GET", "/v1/invoices/{id}/lines", invoices.INVOICE_LINES_LIST, with_id_and_params(invoices.list_lines)),
    Route("POST", "/v1/invoices/{id}/finalize", invoices.INVOICE_FINALIZE,
          with_id_and_params(invoice_actions.finalize_invoice), customer_of("invoice")),
    Route("POST", "/v1/invoices/{id}/pay", invoices.INVOICE_PAY, with_id_and_params(invoice_actions.pay_invoice),
          customer_of("invoice")),
    Route("POST", "/v1/invoices/{id}/void", ONLY_EXPAND, with_id_and_params(invoice_actions.void_invoice),
          customer_of("invoice")),
    Route("POST", "/v1/invoices/{id}/mark_uncollectible", ONLY_EXPAND,
          with_id_and_params(invoice_actions.mark_uncollectible), customer_of("invoice")),

    Route("GET", "/v1/invoiceitems", invoices.INVOICE_ITEM_LIST, with_params(invoices.list_invoice_items)),
    Route("GET", "/v1/invoiceitems/{id}", ONLY_EXPAND, with_id(invoices.retrieve_invoice_item)),

    Route("GET", "/v1/events", events.EVENT_LIST, with_params(events.list_events)),
    Route("GET", "/v1/events/{id}", ONLY_EXPAND, with_id(events.retrieve_event)),

    Route("POST", "/v1/webhook_endpoints", events.ENDPOINT_CREATE, with_params(events.create_endpoint)),
    Route("GET", "/v1/webhook_endpoints", events.ENDPOINT_LIST, with_params(events.list_endpoints)),
    Route("GET", "/v1/webhook_endpoints/{id}", ONLY_EXPAND, with_id(events.retrieve_endpoint)),
    Route("POST", "/v1/webhook_endpoints/{id}", events.ENDPOINT_UPDATE, with_id_and_params(events.update_endpoint)),
    Route("DELETE", "/v1/webhook_endpoints/{id}", Obj({}), with_id(events.delete_endpoint)),

    Route("POST", "/v1/test_helpers/test_clocks", test_clocks.TEST_CLOCK_CREATE,
          with_params(test_clocks.create_clock)),
    Route("GET", "/v1/test_helpers/test_clocks", test_clocks.TEST_CLOCK_LIST, with_params(test_clocks.list_clocks)),
    Route("GET", "/v1/test_helpers/test_clocks/{id}", ONLY_EXPAND, with_id(test_clocks.retrieve_clock)),
    Route("DELETE", "/v1/test_helpers/test_clocks/{id}", Obj({}), with_id(test_clocks.delete_clock)),
    Route("POST", "/v1/test_helpers/test_clocks/{id}/advance", test_clocks.TEST_CLOCK_ADVANCE,
          with_id_and_params(test_clocks.advance_clock)),
]
_COMPILED = [(route, route.pattern) for route in ROUTES]


def find(method: str, path: str) -> tuple[Route, tuple[str, ...]]:
    for route, pattern in _COMPILED:
        match = pattern.match(path)
        if match and route.method == method:
            return route, match.groups()
    raise StripeApiError(404, f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
                              "or we can help at https://support.stripe.com/.")
