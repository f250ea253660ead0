"""Every object the emulator returns has the shape of the `stripe` package's resource
classes: no field the class does not declare, no field it declares non-Optional
missing or null, values of the declared types, all the way down (nested
classes, lists, list objects, expanded fields, an event's `data.object`).

A broad scenario drives the emulator through the real SDK with a client that
records every answer; each successful answer is then checked against the
class its `object` names (stripe._object_classes), annotation by annotation.
"""

from __future__ import annotations

import ast
import collections
import decimal
import functools
import importlib
import inspect
import json
import sys
import time
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import requests
import stripe
from stripe._list_object import ListObject
from stripe._object_classes import get_object_class
from stripe._stripe_object import StripeObject, UntypedStripeObject

from local.stripe_emulator import EmulatorHandle, start_in_thread
from local.stripe_emulator.testing import advance_test_clock, client_for

DAY = 86400
LIST_FIELDS = {"object", "data", "has_more", "url"}
DELETED_FIELDS = {"id", "object", "deleted"}


# ------------------------------------------------------------ the checker


@functools.cache
def imported_names(module_name: str) -> dict[str, tuple[str, str]]:
    """`from stripe.x import Y` anywhere in a module (TYPE_CHECKING blocks too): Y -> (stripe.x, Y)."""
    source = inspect.getsource(sys.modules[module_name])
    names = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = (node.module, alias.name)
    return names


def resolve(name: str, module_name: str) -> Any:
    """A forward reference as the module that wrote it meant it."""
    module = sys.modules[module_name]
    if hasattr(module, name):
        return getattr(module, name)
    source_module, attribute = imported_names(module_name)[name]
    return getattr(importlib.import_module(source_module), attribute)


def declared_fields(cls: type) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if not name.startswith("_") and typing.get_origin(annotation) is not typing.ClassVar:
                fields[name] = annotation
    return fields


def allows_none(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in typing.get_args(
        annotation)


class ShapeChecker:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.checked: collections.Counter[str] = collections.Counter()  # objects walked, by class

    def check_answer(self, payload: Mapping[str, Any], where: str) -> None:
        self.check_value(payload, Any, "stripe", where)

    # An annotation is checked in the module of the class that wrote it (its forward references).
    def check_value(self, value: Any, annotation: Any, module: str, path: str) -> None:
        if isinstance(annotation, typing.ForwardRef):
            annotation = annotation.__forward_arg__
        if isinstance(annotation, str):
            annotation = resolve(annotation, module)
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if annotation is Any or (origin is UntypedStripeObject and args == (Any,)):
            self._check_untyped(value, path)
        elif origin is not None:
            self._check_generic(value, origin, args, module, path)
        elif isinstance(annotation, type) and issubclass(annotation, StripeObject):
            self.check_object(value, annotation, path)
        else:
            self._check_scalar(value, annotation, path)

    def _check_generic(self, value: Any, origin: Any, args: tuple[Any, ...], module: str, path: str) -> None:
        if origin in (typing.Union, types.UnionType):
            self._check_union(value, args, module, path)
        elif origin is typing.Literal:
            self._expect(value in args, path, f"{value!r} is not one of {args}")
        elif origin is ListObject:
            self._check_list(value, args[0], module, path)
        elif origin is list:
            if self._expect(isinstance(value, list), path, f"expected a list, got {value!r}"):
                for index, entry in enumerate(value):
                    self.check_value(entry, args[0], module, f"{path}[{index}]")
        elif origin in (dict, UntypedStripeObject):
            if self._expect(isinstance(value, dict), path, "expected an object"):
                for key, entry in value.items():
                    self.check_value(entry, args[-1], module, f"{path}.{key}")
        else:
            self.problems.append(f"{path}: the checker does not know the annotation {origin!r}{args!r}")

    def check_object(self, value: Any, cls: type, path: str) -> None:
        if not self._expect(isinstance(value, dict), path, f"expected a {cls.__name__}, got {value!r}"):
            return
        self.checked[cls.__qualname__] += 1
        if value.get("deleted") is True:
            self._expect(set(value) == DELETED_FIELDS, path, f"a deleted object is only {DELETED_FIELDS}")
            return
        fields = declared_fields(cls)
        for name in sorted(set(value) - set(fields)):
            self.problems.append(f"{path}.{name}: {cls.__module__}.{cls.__qualname__} has no such field")
        for name, annotation in fields.items():
            if name in value:
                self.check_value(value[name], annotation, cls.__module__, f"{path}.{name}")
            elif not allows_none(annotation):
                self.problems.append(f"{path}.{name}: missing, but {cls.__qualname__} declares it non-Optional")

    def _check_untyped(self, value: Any, path: str) -> None:
        """Any (an event's data.object): an object that names its kind is checked as that kind."""
        if isinstance(value, dict) and isinstance(value.get("object"), str):
            if value["object"] == "list":
                self._check_list(value, Any, "stripe", path)
            else:
                self.check_object(value, get_object_class("V1", value["object"]), path)

    def _check_list(self, value: Any, item: Any, module: str, path: str) -> None:
        if not self._expect(isinstance(value, dict) and set(value) == LIST_FIELDS and value["object"] == "list",
                            path, f"a list object has exactly {LIST_FIELDS}"):
            return
        self._expect(isinstance(value["has_more"], bool) and isinstance(value["url"], str), path, "has_more, url")
        for index, entry in enumerate(value["data"]):
            self.check_value(entry, item, module, f"{path}.data[{index}]")

    def _check_union(self, value: Any, args: tuple[Any, ...], module: str, path: str) -> None:
        if value is None:
            self._expect(type(None) in args, path, "null, but the field is not Optional")
            return
        options = [arg for arg in args if arg is not type(None)]
        if isinstance(value, dict):
            self.check_value(value, self._object_option(value, options, module), module, path)
        elif not any(self._fits(value, option, module) for option in options):
            self.problems.append(f"{path}: {value!r} fits none of {options}")

    def _object_option(self, value: dict[str, Any], options: list[Any], module: str) -> Any:
        """Of a union's options, the one an object (an expanded id, say) is: by its `object` name."""
        classes = []
        for option in options:
            resolved = resolve(option.__forward_arg__, module) if isinstance(option, typing.ForwardRef) else (
                resolve(option, module) if isinstance(option, str) else option)
            if isinstance(resolved, type) and issubclass(resolved, StripeObject):
                classes.append(resolved)
        for cls in classes:
            if getattr(cls, "OBJECT_NAME", None) == value.get("object"):
                return cls
        return classes[0] if len(classes) == 1 else Any

    def _fits(self, value: Any, option: Any, module: str) -> bool:
        probe = ShapeChecker()
        probe.check_value(value, option, module, "")
        return not probe.problems

    def _check_scalar(self, value: Any, annotation: Any, path: str) -> None:
        if annotation is bool:
            self._expect(isinstance(value, bool), path, f"expected a boolean, got {value!r}")
        elif annotation is int:
            self._expect(isinstance(value, int) and not isinstance(value, bool), path, f"expected an integer, "
                                                                                       f"got {value!r}")
        elif annotation is float:
            self._expect(isinstance(value, int | float) and not isinstance(value, bool), path, "expected a number")
        elif annotation is str:
            self._expect(isinstance(value, str), path, f"expected a string, got {value!r}")
        elif annotation is decimal.Decimal:
            self._expect(isinstance(value, str) and _is_decimal(value), path, "expected a decimal string")
        else:
            self.problems.append(f"{path}: the checker does not know the annotation {annotation!r}")

    def _expect(self, condition: bool, path: str, problem: str) -> bool:
        if not condition:
            self.problems.append(f"{path}: {problem}")
        return condition


def _is_decimal(text: str) -> bool:
    try:
        decimal.Decimal(text)
    except decimal.InvalidOperation:
        return False
    return True


# ------------------------------------------------------ the checker itself


def test_the_checker_finds_undeclared_missing_null_and_mistyped_fields() -> None:
    checker = ShapeChecker()
    checker.check_answer({"id": "prod_1", "object": "product", "colour": "blue", "active": "yes", "name": None,
                          "metadata": {"plan": 1}, "created": 1, "livemode": False, "images": [],
                          "marketing_features": [], "updated": 1, "expand": {"object": "price"}}, "answer")
    assert sorted(checker.problems) == sorted([
        "answer.colour: stripe._product.Product has no such field",
        "answer.expand: stripe._product.Product has no such field",
        "answer.active: expected a boolean, got 'yes'",
        "answer.name: expected a string, got None",
        "answer.metadata.plan: expected a string, got 1",
        "answer.type: missing, but Product declares it non-Optional",
    ]), "Optional fields (description, url...) may be absent"


# ------------------------------------------------------------- recording


class Recorder:
    """A requests session for the SDK's own HTTP client that keeps every answer it receives."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, str, int, bytes]] = []
        self.session = requests.Session()
        self.session.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        self.answers.append((str(response.request.method), response.url, response.status_code, response.content))
        return response


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    handle = start_in_thread()
    yield handle
    handle.stop()


def price(client: stripe.StripeClient, product: str, amount: int, interval: str = "month",
          **params: Any) -> stripe.Price:
    create: Any = {"product": product, "currency": "usd", "unit_amount": amount,
                   "recurring": {"interval": interval}, **params}
    return client.v1.prices.create(create)


def drive_a_broad_scenario(client: stripe.StripeClient) -> None:
    """Products, prices, customers with and without test clocks, payment methods, subscriptions
    through trials, updates, prorations and cancellations, subscription schedules through their
    phases, invoices in every status and previews, events, webhook endpoints and test clocks;
    every kind of object read back by retrieve and list."""
    product = client.v1.products.create({"id": "pln_shape", "name": "Shape", "metadata": {"plan_id": "pln_shape"}})
    client.v1.products.update(product.id, {"description": "Checked against the SDK"})
    monthly = price(client, product.id, 3000, lookup_key="shape_monthly")
    annual = price(client, product.id, 30000, "year")
    price(client, product.id, 3500, lookup_key="shape_monthly", transfer_lookup_key=True)
    seats = price(client, client.v1.products.create({"name": "Seats"}).id, 1000)
    retired = price(client, product.id, 2500)
    client.v1.prices.update(retired.id, {"active": False, "nickname": "old"})
    client.v1.products.delete(client.v1.products.create({"name": "Bare"}).id)

    endpoint = client.v1.webhook_endpoints.create({"url": "http://127.0.0.1:9/hooks", "enabled_events": ["*"]})
    client.v1.webhook_endpoints.update(endpoint.id, {"disabled": True})
    client.v1.webhook_endpoints.delete(client.v1.webhook_endpoints.create({
        "url": "http://127.0.0.1:9/other", "enabled_events": ["customer.created"]}).id)

    frozen = int(time.time())
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": frozen, "name": "shapes"}).id
    paying = client.v1.customers.create({"test_clock": clock, "email": "pay@example.com", "name": "Pay",
                                         "payment_method": "pm_card_visa",
                                         "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    failing = client.v1.customers.create({"test_clock": clock, "payment_method": "pm_card_chargeCustomerFail",
                                          "invoice_settings": {"default_payment_method":
                                                               "pm_card_chargeCustomerFail"}})
    invoiced = client.v1.customers.create({"email": "invoice@example.com", "metadata": {"tenant_id": "t1"}})
    client.v1.customers.update(invoiced.id, {"phone": "+15550100", "metadata": {"tier": "pro"}})
    spare = client.v1.payment_methods.attach("pm_card_mastercard", {"customer": paying.id})
    client.v1.payment_methods.detach(spare.id)

    trial = client.v1.subscriptions.create({"customer": paying.id, "items": [{"price": monthly.id}],
                                            "trial_period_days": 3, "metadata": {"tenant_id": "t2"},
                                            "expand": ["latest_invoice", "customer", "items.data.price.product"]})
    charged = client.v1.subscriptions.create({"customer": paying.id, "items": [{"price": seats.id, "quantity": 2}],
                                              "expand": ["latest_invoice"]})
    declined = client.v1.subscriptions.create({"customer": failing.id, "items": [{"price": monthly.id}],
                                               "trial_period_days": 1})
    sent = client.v1.subscriptions.create({"customer": invoiced.id, "items": [{"price": annual.id}],
                                           "collection_method": "send_invoice", "days_until_due": 30,
                                           "billing_cycle_anchor": frozen + 10 * DAY})
    voided = client.v1.subscriptions.create({"customer": invoiced.id, "items": [{"price": monthly.id}],
                                             "collection_method": "send_invoice", "days_until_due": 7})
    written_off = client.v1.subscriptions.create({"customer": invoiced.id, "items": [{"price": seats.id}],
                                                  "collection_method": "send_invoice", "days_until_due": 7})

    advance_test_clock(client, clock, frozen + 5 * DAY)

    item = charged["items"].data[0]
    client.v1.subscriptions.update(charged.id, {"items": [{"id": item.id, "quantity": 3}, {"price": monthly.id}]})
    client.v1.subscriptions.update(charged.id, {"items": [{"id": item.id, "deleted": True}],
                                                "proration_behavior": "always_invoice"})
    client.v1.subscriptions.update(trial.id, {"cancel_at_period_end": True, "description": "leaving"})
    client.v1.subscriptions.update(trial.id, {"billing_cycle_anchor": {"type": "now"}})
    client.v1.invoices.void_invoice(str(voided.latest_invoice))
    client.v1.invoices.mark_uncollectible(str(written_off.latest_invoice))
    client.v1.invoices.pay(str(sent.latest_invoice), {"paid_out_of_band": True})
    client.v1.subscriptions.cancel(voided.id, {"prorate": True, "invoice_now": True,
                                               "cancellation_details": {"comment": "voided"}})
    client.v1.subscriptions.update(sent.id, {"trial_end": frozen + 20 * DAY})
    settings = client.v1.customers.retrieve(paying.id).invoice_settings
    assert settings is not None
    client.v1.customers.payment_methods.retrieve(paying.id, str(settings.default_payment_method))

    schedule = drive_schedules_and_previews(client, charged.id, sent=sent.id, written_off=written_off.id,
                                            prices={"monthly": monthly.id, "seats": seats.id}, frozen=frozen)
    advance_test_clock(client, clock, frozen + 62 * DAY)  # through the schedule's next phase and its end

    read_everything_back(client, clock, [paying.id, failing.id, invoiced.id],
                         [trial.id, charged.id, declined.id, sent.id, voided.id, written_off.id])
    client.v1.subscription_schedules.retrieve(schedule, {"expand": ["subscription", "customer"]})
    client.v1.subscription_schedules.list({"limit": 100, "expand": ["data.subscription"]})
    client.v1.customers.delete(invoiced.id)
    client.v1.test_helpers.test_clocks.delete(clock)


def drive_schedules_and_previews(client: stripe.StripeClient, charged: str, *, sent: str, written_off: str,
                                 prices: dict[str, str], frozen: int) -> str:
    """Previews (a change, a new subscription, a schedule), a schedule with a next phase, one released
    (then its subscription set to cancel_at), one canceled. Returns the schedule with a next phase."""
    item = client.v1.subscriptions.retrieve(charged)["items"].data[0].id
    client.v1.invoices.create_preview({"subscription": charged, "subscription_details": {
        "items": [{"id": item, "quantity": 2}], "proration_behavior": "always_invoice"}})
    client.v1.invoices.create_preview({"subscription": charged, "subscription_details": {
        "items": [{"id": item, "price": prices["seats"]}]}, "expand": ["customer", "lines.data.subscription"]})
    invoiced = str(client.v1.subscriptions.retrieve(sent).customer)
    client.v1.invoices.create_preview({"customer": invoiced, "subscription_details": {
        "items": [{"price": prices["monthly"]}]}})
    schedule = client.v1.subscription_schedules.create({"from_subscription": charged, "expand": ["subscription"]})
    phase = schedule.phases[0]
    client.v1.subscription_schedules.update(schedule.id, {"metadata": {"tenant_id": "t2"}, "phases": [
        {"items": [{"price": prices["monthly"]}], "start_date": phase.start_date, "end_date": phase.end_date},
        {"items": [{"price": prices["monthly"], "quantity": 2}, {"price": prices["seats"]}],
         "duration": {"interval": "month"}, "metadata": {"plan": "team"}}]})
    client.v1.invoices.create_preview({"schedule": schedule.id})
    released = client.v1.subscription_schedules.create({"from_subscription": sent})
    client.v1.subscription_schedules.release(released.id)
    client.v1.subscriptions.update(sent, {"cancel_at": frozen + 300 * DAY})
    canceled = client.v1.subscription_schedules.create({"from_subscription": written_off})
    client.v1.subscription_schedules.cancel(canceled.id, {"invoice_now": False})
    return str(schedule.id)


def read_everything_back(client: stripe.StripeClient, clock: str, customers: list[str],
                         subscriptions: list[str]) -> None:
    for customer in customers:
        client.v1.customers.retrieve(customer, {"expand": ["invoice_settings.default_payment_method"]})
        client.v1.customers.payment_methods.list(customer)
        client.v1.invoices.list({"customer": customer, "limit": 100,
                                 "expand": ["data.customer", "data.parent.subscription_details.subscription"]})
    for subscription in subscriptions:
        retrieved = client.v1.subscriptions.retrieve(subscription, {"expand": ["latest_invoice"]})
        client.v1.subscription_items.list({"subscription": subscription})
        for item in retrieved["items"].data:
            client.v1.subscription_items.retrieve(item.id)
        if retrieved.latest_invoice is not None:
            invoice_id = retrieved.latest_invoice if isinstance(retrieved.latest_invoice, str) else (
                retrieved.latest_invoice.id)
            client.v1.invoices.line_items.list(invoice_id)
    client.v1.customers.list({"test_clock": clock, "limit": 100})
    client.v1.customers.list({"limit": 100})
    client.v1.subscriptions.list({"status": "all", "test_clock": clock, "limit": 100})
    client.v1.invoice_items.list({"limit": 100})
    for listed in client.v1.invoice_items.list({"limit": 3}).data:
        client.v1.invoice_items.retrieve(listed.id)
    client.v1.products.list({"limit": 100})
    client.v1.prices.list({"limit": 100, "expand": ["data.product"]})
    client.v1.prices.list({"lookup_keys": ["shape_monthly"]})
    client.v1.webhook_endpoints.list()
    client.v1.test_helpers.test_clocks.list()
    client.v1.test_helpers.test_clocks.retrieve(clock)
    client.v1.payment_methods.list({"limit": 100})
    for event in client.v1.events.list({"limit": 100}).auto_paging_iter():
        if event.type.startswith(("invoice.", "test_helpers.")):
            client.v1.events.retrieve(event.id)


def test_every_object_the_emulator_returns_has_the_sdks_shape(emulator: EmulatorHandle) -> None:
    recording = Recorder()
    client = client_for(emulator.url, http_client=stripe.RequestsClient(session=recording.session))

    drive_a_broad_scenario(client)

    checker = ShapeChecker()
    answered = [(method, url, json.loads(content)) for method, url, status, content in recording.answers
                if status == 200]
    assert len(answered) == len(recording.answers), "the scenario itself must not fail"
    for method, url, payload in answered:
        checker.check_answer(payload, f"{method} {url.removeprefix(emulator.url)}")
    walked = set(checker.checked)
    assert {"Product", "Price", "Plan", "Customer", "PaymentMethod", "Subscription", "SubscriptionItem", "Invoice",
            "InvoiceLineItem", "InvoiceItem", "Event", "WebhookEndpoint", "TestClock", "SubscriptionSchedule"} <= walked
    assert {"Subscription.AutomaticTax", "Invoice.StatusTransitions", "Event.Request", "TestClock.StatusDetails",
            "InvoiceLineItem.Parent.SubscriptionItemDetails", "SubscriptionSchedule.Phase",
            "SubscriptionSchedule.Phase.Item", "SubscriptionSchedule.CurrentPhase",
            "SubscriptionSchedule.DefaultSettings", "SubscriptionSchedule.BillingMode"} <= walked, "nested classes too"
    event_types = {event["type"] for method, url, payload in answered if payload.get("object") == "list"
                   for event in payload["data"] if event.get("object") == "event"}
    assert {"subscription_schedule.created", "subscription_schedule.updated", "subscription_schedule.released",
            "subscription_schedule.canceled", "subscription_schedule.completed", "customer.subscription.deleted",
            "payment_method.detached"} <= event_types, "every kind of event the scenario causes was walked"
    assert checker.checked["Event"] > 100, "events, lists and expansions were walked"
    assert checker.problems == []
