"""What an endpoint accepts, as a schema of small specs.

Every endpoint validates its whole request against one: a parameter it does
not know is refused by its full bracket name (`items[0][bogus]`), as Stripe
does, and values are coerced from their form-encoded strings to the types
Stripe documents, with Stripe's error codes for the cheap cases.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from local.stripe_emulator.errors import invalid_parameter, missing_parameter, unknown_parameter

MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_VALUE_LENGTH = 500
_INTEGER = re.compile(r"-?\d+")


def nested_name(prefix: str, key: str) -> str:
    return f"{prefix}[{key}]" if prefix else key


def _refuse_empty(name: str) -> Exception:
    return invalid_parameter(
        name, f"You passed an empty string for '{name}'. We assume empty values are an attempt to unset a "
              f"parameter; however '{name}' cannot be unset. You should remove '{name}' from your request or "
              "supply a non-empty value.", code="parameter_invalid_empty")


class Spec(ABC):
    @abstractmethod
    def coerce(self, value: Any, name: str) -> Any:
        """The value as the handler wants it, or a Stripe-shaped 400."""


@dataclass(frozen=True)
class Text(Spec):
    # Stripe reads an empty string as "unset"; only some fields may be unset.
    unsettable: bool = False
    max_length: int = 5000

    def coerce(self, value: Any, name: str) -> str | None:
        if not isinstance(value, str):
            raise invalid_parameter(name, f"Invalid string: {name} must be a string, not an object or array.")
        if value == "":
            if self.unsettable:
                return None
            raise _refuse_empty(name)
        if len(value) > self.max_length:
            raise invalid_parameter(name, f"Invalid string: {value[:30]}...; must be at most "
                                          f"{self.max_length} characters")
        return value


@dataclass(frozen=True)
class Integer(Spec):
    minimum: int | None = None
    maximum: int | None = None

    def coerce(self, value: Any, name: str) -> int:
        if not isinstance(value, str) or not _INTEGER.fullmatch(value):
            raise invalid_parameter(name, f"Invalid integer: {value}", code="parameter_invalid_integer")
        number = int(value)
        if self.minimum is not None and number < self.minimum:
            raise invalid_parameter(name, f"This value must be greater than or equal to {self.minimum}.")
        if self.maximum is not None and number > self.maximum:
            raise invalid_parameter(name, f"This value must be less than or equal to {self.maximum}.")
        return number


@dataclass(frozen=True)
class Boolean(Spec):
    def coerce(self, value: Any, name: str) -> bool:
        if value not in ("true", "false"):
            raise invalid_parameter(name, f"Invalid boolean: {value}")
        return bool(value == "true")


@dataclass(frozen=True)
class Choice(Spec):
    values: tuple[str, ...]
    unsettable: bool = False

    def coerce(self, value: Any, name: str) -> str | None:
        text = Text(unsettable=self.unsettable).coerce(value, name)
        if text is not None and text not in self.values:
            raise invalid_parameter(name, f"Invalid {name}: must be one of {self._listed()}")
        return text

    def _listed(self) -> str:
        if len(self.values) == 1:
            return self.values[0]
        return ", ".join(self.values[:-1]) + f", or {self.values[-1]}"


@dataclass(frozen=True)
class Timestamp(Spec):
    """A unix time; some fields also take words (`now`, `min_period_end`), some may be unset with ""."""

    words: tuple[str, ...] = ()
    unsettable: bool = False

    def coerce(self, value: Any, name: str) -> int | str | None:
        if value == "" and self.unsettable:
            return None
        if isinstance(value, str) and value in self.words:
            return value
        return Integer(minimum=0).coerce(value, name)


@dataclass(frozen=True)
class Metadata(Spec):
    """Returns None for `metadata=` (unset every key); a key sent empty unsets that key."""

    def coerce(self, value: Any, name: str) -> dict[str, str] | None:
        if value == "":
            return None
        if not isinstance(value, dict):
            raise invalid_parameter(name, "Invalid object: metadata must be a hash of keys and string values.")
        if len(value) > MAX_METADATA_KEYS:
            raise invalid_parameter(name, f"Invalid metadata: metadata can have at most {MAX_METADATA_KEYS} keys.")
        for key, item in value.items():
            self._check_entry(name, key, item)
        return dict(value)

    @staticmethod
    def _check_entry(name: str, key: str, item: Any) -> None:
        if not key or len(key) > MAX_METADATA_KEY_LENGTH:
            raise invalid_parameter(nested_name(name, key), f"Invalid metadata: keys must be 1 to "
                                                            f"{MAX_METADATA_KEY_LENGTH} characters.")
        if not isinstance(item, str):
            raise invalid_parameter(nested_name(name, key), "Invalid metadata: values must be strings.")
        if len(item) > MAX_METADATA_VALUE_LENGTH:
            raise invalid_parameter(nested_name(name, key), f"Invalid metadata: values must be at most "
                                                            f"{MAX_METADATA_VALUE_LENGTH} characters.")


@dataclass(frozen=True)
class Array(Spec):
    item: Spec
    max_items: int | None = None

    def coerce(self, value: Any, name: str) -> list[Any]:
        if value == "":
            return []  # an empty string unsets an array
        entries = self._entries(value, name)
        if self.max_items is not None and len(entries) > self.max_items:
            raise invalid_parameter(name, f"Invalid array: {name} can have at most {self.max_items} entries.")
        return [self.item.coerce(entry, f"{name}[{index}]") for index, entry in enumerate(entries)]

    @staticmethod
    def _entries(value: Any, name: str) -> list[Any]:
        if isinstance(value, list):
            return value
        if isinstance(value, dict) and all(key.isdigit() for key in value):
            return [value[key] for key in sorted(value, key=int)]
        raise invalid_parameter(name, f"Invalid array: {name} must be an array.")


@dataclass(frozen=True)
class Obj(Spec):
    fields: Mapping[str, Spec]
    required: tuple[str, ...] = ()
    unsettable: bool = False

    def coerce(self, value: Any, name: str) -> dict[str, Any] | None:
        if value == "" and self.unsettable:
            return None
        if not isinstance(value, dict):
            raise invalid_parameter(name, f"Invalid object: {name} must be a hash.")
        for key in value:
            if key not in self.fields:
                raise unknown_parameter(nested_name(name, key))
        for key in self.required:
            if key not in value:
                raise missing_parameter(nested_name(name, key))
        return {key: self.fields[key].coerce(item, nested_name(name, key)) for key, item in value.items()}


@dataclass(frozen=True)
class Range(Spec):
    """List filters like `created`: an exact value or `created[gte]=...` bounds."""

    bounds: Obj = field(default_factory=lambda: Obj({op: Integer() for op in ("gt", "gte", "lt", "lte")}))

    def coerce(self, value: Any, name: str) -> dict[str, int]:
        if isinstance(value, str):
            exact = Integer().coerce(value, name)
            return {"gte": exact, "lte": exact}
        bounds = self.bounds.coerce(value, name)
        return dict(bounds or {})


def validate(params: dict[str, Any], schema: Obj) -> dict[str, Any]:
    checked = schema.coerce(params, "")
    return checked or {}


EXPAND = Array(Text())
PAGINATION: dict[str, Spec] = {
    "limit": Integer(minimum=1, maximum=100), "starting_after": Text(), "ending_before": Text(),
    "created": Range(), "expand": EXPAND,
}
ONLY_EXPAND = Obj({"expand": EXPAND})


def list_schema(*, created: bool = True, **filters: Spec) -> Obj:
    """A list endpoint's parameters; not every list filters by `created` on Stripe."""
    pagination = PAGINATION if created else {name: spec for name, spec in PAGINATION.items() if name != "created"}
    return Obj({**pagination, **filters})
