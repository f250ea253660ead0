"""What each endpoint accepts. Anything else is refused the way Stripe does
(400 parameter_unknown naming the parameter), and values are coerced from
their form-encoded strings to the types Stripe documents."""

from __future__ import annotations

from typing import Any

from local.stripe_emulator.errors import invalid_parameter, missing_parameter, unknown_parameter

# A spec is a type name, a nested mapping (an object), or a one-element list (an array of that spec).
Spec = Any

METADATA = "metadata"
EXPAND = ["str"]


def validate(params: dict[str, Any], schema: dict[str, Spec], required: tuple[str, ...] = ()) -> dict[str, Any]:
    for name in required:
        if name not in params or params[name] in ("", None):
            raise missing_parameter(name)
    return _object(params, schema, prefix="")


def _name(prefix: str, key: str) -> str:
    return f"{prefix}[{key}]" if prefix else key


def _object(value: Any, schema: dict[str, Spec], prefix: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_parameter(prefix, "expected an object")
    coerced = {}
    for key, item in value.items():
        if key not in schema:
            raise unknown_parameter(_name(prefix, key))
        coerced[key] = _coerce(item, schema[key], _name(prefix, key))
    return coerced


def _array(value: Any, spec: Spec, name: str) -> list[Any]:
    if value == "":
        return []
    if not isinstance(value, list):
        raise invalid_parameter(name, "expected an array")
    return [_coerce(item, spec, f"{name}[{index}]") for index, item in enumerate(value)]


def _coerce(value: Any, spec: Spec, name: str) -> Any:
    if isinstance(spec, dict):
        return _object(value, spec, name)
    if isinstance(spec, list):
        return _array(value, spec[0], name)
    if spec == METADATA:
        if value == "":
            return {}
        if not isinstance(value, dict) or any(not isinstance(v, str) for v in value.values()):
            raise invalid_parameter(name, "metadata values must be strings")
        return value
    if spec == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise invalid_parameter(name, "expected an integer", code="parameter_invalid_integer") from None
    if spec == "bool":
        if value not in ("true", "false"):
            raise invalid_parameter(name, "expected a boolean")
        return value == "true"
    if spec == "str|int":
        return value if value == "now" else _coerce(value, "int", name)
    if not isinstance(value, str):
        raise invalid_parameter(name, "expected a string")
    return value


PRODUCT = {"name": "str", "description": "str", "metadata": METADATA, "active": "bool", "expand": EXPAND}
PRICE_CREATE = {
    "product": "str", "currency": "str", "unit_amount": "int", "nickname": "str", "lookup_key": "str",
    "metadata": METADATA, "active": "bool", "tax_behavior": "str", "expand": EXPAND,
    "recurring": {"interval": "str", "interval_count": "int", "usage_type": "str"},
}
PRICE_UPDATE = {"active": "bool", "nickname": "str", "metadata": METADATA, "lookup_key": "str", "expand": EXPAND}
CUSTOMER = {
    "email": "str", "name": "str", "phone": "str", "description": "str", "metadata": METADATA,
    "payment_method": "str", "invoice_settings": {"default_payment_method": "str"}, "expand": EXPAND,
}
SUBSCRIPTION_ITEM = {"price": "str", "quantity": "int", "metadata": METADATA}
SUBSCRIPTION_ITEM_UPDATE = {**SUBSCRIPTION_ITEM, "id": "str", "deleted": "bool"}
SUBSCRIPTION_CREATE = {
    "customer": "str", "items": [SUBSCRIPTION_ITEM], "metadata": METADATA, "trial_period_days": "int",
    "trial_end": "str|int", "collection_method": "str", "days_until_due": "int", "payment_behavior": "str",
    "proration_behavior": "str", "default_payment_method": "str", "cancel_at_period_end": "bool",
    "billing_cycle_anchor": "int", "expand": EXPAND,
}
SUBSCRIPTION_UPDATE = {
    "items": [SUBSCRIPTION_ITEM_UPDATE], "metadata": METADATA, "cancel_at_period_end": "bool",
    "proration_behavior": "str", "trial_end": "str|int", "collection_method": "str", "days_until_due": "int",
    "default_payment_method": "str", "payment_behavior": "str", "expand": EXPAND,
}
SUBSCRIPTION_CANCEL = {"invoice_now": "bool", "prorate": "bool", "expand": EXPAND}
INVOICE_PAY = {"paid_out_of_band": "bool", "expand": EXPAND}
INVOICE_ACTION = {"expand": EXPAND}
WEBHOOK_ENDPOINT = {"url": "str", "enabled_events": ["str"], "description": "str", "metadata": METADATA}
LIST = {"limit": "int", "starting_after": "str", "ending_before": "str", "expand": EXPAND}
