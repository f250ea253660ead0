"""Every parameter an emulator endpoint accepts is one Stripe has, of the type Stripe has:
each route's schema is compared with the `stripe` package's own TypedDict for
that call (stripe.params), recursively. The emulator may accept fewer
parameters than Stripe (it refuses the rest by name), never others; it may
require more, never fewer; a value it lets be unset with "" Stripe lets be
unset too."""

from __future__ import annotations

import importlib
import sys
import types
import typing
from typing import Any

import pytest
import typing_extensions

from local.stripe_emulator import routes
from local.stripe_emulator.params import (
    Array,
    Boolean,
    Choice,
    Integer,
    Metadata,
    Obj,
    Range,
    Spec,
    Text,
    Timestamp,
)

# (method, path) -> the stripe.params module that types that call.
SDK_PARAMS = {
    ("POST", "/v1/products"): "product_create", ("GET", "/v1/products"): "product_list",
    ("GET", "/v1/products/{id}"): "product_retrieve", ("POST", "/v1/products/{id}"): "product_update",
    ("DELETE", "/v1/products/{id}"): "product_delete",
    ("POST", "/v1/prices"): "price_create", ("GET", "/v1/prices"): "price_list",
    ("GET", "/v1/prices/{id}"): "price_retrieve", ("POST", "/v1/prices/{id}"): "price_update",
    ("POST", "/v1/customers"): "customer_create", ("GET", "/v1/customers"): "customer_list",
    ("GET", "/v1/customers/{id}"): "customer_retrieve", ("POST", "/v1/customers/{id}"): "customer_update",
    ("DELETE", "/v1/customers/{id}"): "customer_delete",
    ("GET", "/v1/customers/{id}/payment_methods"): "customer_payment_method_list",
    ("GET", "/v1/customers/{id}/payment_methods/{id}"): "customer_payment_method_retrieve",
    ("GET", "/v1/payment_methods"): "payment_method_list", ("GET", "/v1/payment_methods/{id}"):
        "payment_method_retrieve",
    ("POST", "/v1/payment_methods/{id}/attach"): "payment_method_attach",
    ("POST", "/v1/payment_methods/{id}/detach"): "payment_method_detach",
    ("POST", "/v1/subscriptions"): "subscription_create", ("GET", "/v1/subscriptions"): "subscription_list",
    ("GET", "/v1/subscriptions/{id}"): "subscription_retrieve",
    ("POST", "/v1/subscriptions/{id}"): "subscription_update",
    ("DELETE", "/v1/subscriptions/{id}"): "subscription_cancel",
    ("POST", "/v1/subscriptions/{id}/resume"): "subscription_resume",
    ("POST", "/v1/subscription_schedules"): "subscription_schedule_create",
    ("GET", "/v1/subscription_schedules"): "subscription_schedule_list",
    ("GET", "/v1/subscription_schedules/{id}"): "subscription_schedule_retrieve",
    ("POST", "/v1/subscription_schedules/{id}"): "subscription_schedule_update",
    ("POST", "/v1/subscription_schedules/{id}/release"): "subscription_schedule_release",
    ("POST", "/v1/subscription_schedules/{id}/cancel"): "subscription_schedule_cancel",
    ("GET", "/v1/subscription_items"): "subscription_item_list",
    ("GET", "/v1/subscription_items/{id}"): "subscription_item_retrieve",
    ("GET", "/v1/invoices"): "invoice_list", ("GET", "/v1/invoices/{id}"): "invoice_retrieve",
    ("GET", "/v1/invoices/{id}/lines"): "invoice_line_item_list",
    ("POST", "/v1/invoices/create_preview"): "invoice_create_preview",
    ("POST", "/v1/invoices/{id}/finalize"): "invoice_finalize_invoice",
    ("POST", "/v1/invoices/{id}/pay"): "invoice_pay", ("POST", "/v1/invoices/{id}/void"): "invoice_void_invoice",
    ("POST", "/v1/invoices/{id}/mark_uncollectible"): "invoice_mark_uncollectible",
    ("GET", "/v1/invoiceitems"): "invoice_item_list", ("GET", "/v1/invoiceitems/{id}"): "invoice_item_retrieve",
    ("GET", "/v1/events"): "event_list", ("GET", "/v1/events/{id}"): "event_retrieve",
    ("POST", "/v1/webhook_endpoints"): "webhook_endpoint_create",
    ("GET", "/v1/webhook_endpoints"): "webhook_endpoint_list",
    ("GET", "/v1/webhook_endpoints/{id}"): "webhook_endpoint_retrieve",
    ("POST", "/v1/webhook_endpoints/{id}"): "webhook_endpoint_update",
    ("DELETE", "/v1/webhook_endpoints/{id}"): "webhook_endpoint_delete",
    ("POST", "/v1/test_helpers/test_clocks"): "test_helpers.test_clock_create",
    ("GET", "/v1/test_helpers/test_clocks"): "test_helpers.test_clock_list",
    ("GET", "/v1/test_helpers/test_clocks/{id}"): "test_helpers.test_clock_retrieve",
    ("DELETE", "/v1/test_helpers/test_clocks/{id}"): "test_helpers.test_clock_delete",
    ("POST", "/v1/test_helpers/test_clocks/{id}/advance"): "test_helpers.test_clock_advance",
}


def sdk_params(name: str) -> type:
    package, _, stem = name.rpartition(".")
    module = importlib.import_module(f"stripe.params.{package + '.' if package else ''}_{stem}_params")
    return getattr(module, "".join(part.title() for part in stem.split("_")) + "Params")  # type: ignore[no-any-return]


class Unknown:
    """A name the SDK imports only for type checking: nothing the emulator takes uses it."""

    def __class_getitem__(cls, item: Any) -> type[Unknown]:
        return cls


def namespace_of(typed_dict: type) -> dict[str, Any]:
    return dict(vars(sys.modules[typed_dict.__module__]))


def evaluate(annotation: Any, namespace: dict[str, Any]) -> Any:
    """An SDK annotation as a type: forward references resolved in its module, NotRequired dropped."""
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    while isinstance(annotation, str):
        try:
            annotation = eval(annotation, namespace)  # noqa: S307 - the SDK's own annotations
        except NameError as unknown:
            namespace[str(unknown.name)] = Unknown
    if typing.get_origin(annotation) in (typing_extensions.NotRequired, typing_extensions.Required,
                                         typing.NotRequired, typing.Required):
        return evaluate(typing.get_args(annotation)[0], namespace)
    return annotation


def options(annotation: Any, namespace: dict[str, Any]) -> list[Any]:
    annotation = evaluate(annotation, namespace)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [option for arg in typing.get_args(annotation) for option in options(arg, namespace)]
    return [annotation]


def literals(kinds: list[Any]) -> set[Any]:
    return {value for kind in kinds if typing.get_origin(kind) is typing.Literal for value in typing.get_args(kind)}


class Comparison:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def object(self, spec: Obj, typed_dict: Any, where: str) -> None:
        namespace = namespace_of(typed_dict)
        for name, field_spec in spec.fields.items():
            if name not in typed_dict.__annotations__:
                self.problems.append(f"{where}{name}: Stripe has no such parameter")
            else:
                self.value(field_spec, typed_dict.__annotations__[name], namespace, f"{where}{name}")
        for name in sorted(typed_dict.__required_keys__ - set(spec.required)):
            self.problems.append(f"{where}{name}: Stripe requires it, the emulator does not")

    def value(self, spec: Spec, annotation: Any, namespace: dict[str, Any], where: str) -> None:
        kinds = options(annotation, namespace)
        if getattr(spec, "unsettable", False) and "" not in literals(kinds):
            self.problems.append(f"{where}: the emulator unsets it with an empty string, Stripe does not")
        if isinstance(spec, Obj):
            typed = [kind for kind in kinds if typing_extensions.is_typeddict(kind)]
            if typed:
                self.object(spec, typed[0], f"{where}.")
            else:
                self.problems.append(f"{where}: an object here, {kinds} for Stripe")
        elif isinstance(spec, Array):
            lists = [kind for kind in kinds if typing.get_origin(kind) is list]
            if lists:
                self.value(spec.item, typing.get_args(lists[0])[0], namespace, f"{where}[]")
            else:
                self.problems.append(f"{where}: an array here, {kinds} for Stripe")
        else:
            self.scalar(spec, kinds, where)

    def scalar(self, spec: Spec, kinds: list[Any], where: str) -> None:
        if isinstance(spec, Choice | Text) and (str in kinds or literals(kinds)):
            unknown = set(spec.values) - literals(kinds) if isinstance(spec, Choice) and str not in kinds else set()
            if unknown:
                self.problems.append(f"{where}: {sorted(unknown)} are not Stripe's values")
            return
        expected = {Integer: int, Boolean: bool, Timestamp: int, Metadata: dict, Range: int}.get(type(spec))
        if not any(kind is expected or typing.get_origin(kind) is expected for kind in kinds):
            self.problems.append(f"{where}: a {type(spec).__name__} here, {kinds} for Stripe")
        if isinstance(spec, Timestamp) and set(spec.words) - literals(kinds):
            self.problems.append(f"{where}: the emulator takes {sorted(set(spec.words) - literals(kinds))}, "
                                 "Stripe does not")


def test_every_route_has_its_sdk_params_type() -> None:
    assert {(route.method, route.path) for route in routes.ROUTES} == set(SDK_PARAMS)


@pytest.mark.parametrize("route", routes.ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_a_route_accepts_only_stripes_parameters_with_stripes_types(route: routes.Route) -> None:
    comparison = Comparison()
    comparison.object(route.schema, sdk_params(SDK_PARAMS[(route.method, route.path)]), "")
    assert comparison.problems == []
