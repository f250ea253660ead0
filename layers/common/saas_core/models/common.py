"""Types shared by every model: ids, money, pages."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

T = TypeVar("T")

PLAN_ID_PATTERN = r"^pln_[a-z0-9_]{3,40}$"
TENANT_ID_PATTERN = r"^tnt_[a-z0-9]{16,40}$"
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])?$"
METRIC_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
# Deliberately simple: one @, no spaces, a dot in the domain. Deliverability
# is the identity provider's job; this only keeps garbage out of the index.
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")

# The largest count or limit the API takes: far below DynamoDB's 38 digits.
MAX_COUNT = 10**15
# Characters no stored text may hold: controls (NUL, escapes, C1) and lone surrogates, which
# break logs, CSV exports and UTF-8. Multi-line text keeps its line breaks and tabs.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs"})
_MULTILINE_ALLOWED = frozenset("\n\r\t")


def _no_control_characters(value: str, allowed: frozenset[str] = frozenset()) -> str:
    for position, character in enumerate(value):
        if character not in allowed and unicodedata.category(character) in _FORBIDDEN_CATEGORIES:
            raise ValueError(f"must not contain control characters (U+{ord(character):04X} at {position})")
    return value


def single_line(value: str) -> str:
    return _no_control_characters(value)


def multi_line(value: str) -> str:
    return _no_control_characters(value, _MULTILINE_ALLOWED)


PlanId = Annotated[str, StringConstraints(pattern=PLAN_ID_PATTERN)]
TenantId = Annotated[str, StringConstraints(pattern=TENANT_ID_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
                 AfterValidator(single_line)]
Slug = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=SLUG_PATTERN)]
Currency = Annotated[str, StringConstraints(to_lower=True, pattern=r"^[a-zA-Z]{3}$")]


def _valid_email(value: str) -> str:
    value = single_line(value.strip().lower())
    if len(value) > 254 or not EMAIL_PATTERN.match(value):
        raise ValueError("must be a valid email address")
    return value


Email = Annotated[str, AfterValidator(_valid_email)]

# A price as it comes in: a non-negative JSON number with at most two decimals.
PriceIn = Annotated[Decimal, Field(ge=0, le=Decimal("1000000"), max_digits=9, decimal_places=2,
                                   allow_inf_nan=False)]
# A price as it goes out: exact, rendered as a JSON number.
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class StrictInput(BaseModel):
    """Admin writes refuse fields they do not know: a typo must not be ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
    per_page: int
    total: int
