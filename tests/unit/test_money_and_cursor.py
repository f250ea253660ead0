from decimal import Decimal

import pytest

from saas_core import cursor
from saas_core.errors import InvalidInput
from saas_core.money import from_minor, to_minor


def test_prices_convert_to_minor_units_exactly() -> None:
    assert to_minor(Decimal("19.99"), "usd") == 1999
    assert to_minor(Decimal("0.1") + Decimal("0.2"), "usd") == 30
    assert from_minor(1999, "usd") == Decimal("19.99")
    assert str(from_minor(29900, "usd")) == "299.00"


def test_zero_decimal_currencies_refuse_fractions() -> None:
    assert to_minor(Decimal("500"), "jpy") == 500
    with pytest.raises(ValueError, match="JPY"):
        to_minor(Decimal("500.5"), "jpy")


def test_a_cursor_round_trips_for_its_own_query() -> None:
    issued = cursor.encode({"offset": 40}, "type=personal")
    assert cursor.decode(issued, "type=personal") == {"offset": 40}


@pytest.mark.parametrize("forged", [
    "not-a-cursor",
    "eyJvZmZzZXQiOjQwfQ==.AAAAAAAAAAAAAAAAAAAAAAAA",
])
def test_a_forged_cursor_is_invalid_input(forged: str) -> None:
    with pytest.raises(InvalidInput):
        cursor.decode(forged, "type=personal")


def test_a_cursor_cannot_be_replayed_against_another_query() -> None:
    issued = cursor.encode({"offset": 40}, "type=personal")
    with pytest.raises(InvalidInput):
        cursor.decode(issued, "type=organization")


def test_an_edited_cursor_is_refused() -> None:
    payload, mac = cursor.encode({"offset": 40}, "q").split(".")
    edited = cursor.encode({"offset": 4000}, "q").split(".")[0]
    assert edited != payload
    with pytest.raises(InvalidInput):
        cursor.decode(f"{edited}.{mac}", "q")
