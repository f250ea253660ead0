"""The request body, read before any handler sees it.

API Gateway passes the body through as it came: any content type, any bytes
(base64 when they are not text), any nesting. A body that is not JSON gets a
clear 415 or 422 here, never a crash further in, and numbers with decimals
are parsed as Decimal so that no price ever passes through a float.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from saas_core.errors import InvalidInput, UnsupportedMediaType

MAX_NESTING = 32
JSON_MEDIA_TYPE = "application/json"
# DynamoDB's range (1E-130 to 1E+126): no number beyond it means anything here, and
# turning 1e1000000 into an integer would take the function's whole time.
MAX_DECIMAL_EXPONENT = 130


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _decimal(text: str) -> Decimal:
    number = Decimal(text)
    if number and abs(number.adjusted()) > MAX_DECIMAL_EXPONENT:
        raise ValueError(f"{text[:40]} is beyond the numbers this API takes")
    return number


def loads(text: str) -> Any:
    """JSON with exact decimals; NaN, Infinity and absurd exponents are refused."""
    return json.loads(text, parse_float=_decimal, parse_constant=_refuse_constant)


def _invalid(message: str) -> InvalidInput:
    return InvalidInput("The given data was invalid", {"body": [message]})


def _content_type(headers: Mapping[str, Any] | None) -> str:
    for name, value in (headers or {}).items():
        if name.lower() == "content-type" and isinstance(value, str):
            return value.split(";", 1)[0].strip().lower()
    return ""


def decoded(body: str, is_base64: bool, refuse: Callable[[str], Exception]) -> str:
    """The body's text as the client sent it (API Gateway base64-encodes what it takes for binary);
    `refuse(why)` is the error to raise, why being e.g. "is not valid base64"."""
    if not is_base64:
        return body
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except binascii.Error:
        raise refuse("is not valid base64") from None
    except UnicodeDecodeError as error:
        raise refuse(f"is not valid UTF-8 (byte {error.start})") from None


def _text(event: Mapping[str, Any]) -> str:
    body = event.get("body")
    if not isinstance(body, str):
        raise _invalid("must be a JSON document")
    return decoded(body, bool(event.get("isBase64Encoded")), _invalid)


def _too_deep(value: Any) -> bool:
    """Whether containers nest deeper than MAX_NESTING (walked without recursion)."""
    level = [value]
    for _ in range(MAX_NESTING):
        level = [child for item in level if isinstance(item, dict | list)
                 for child in (item.values() if isinstance(item, dict) else item)]
        if not level:
            return False
    return any(isinstance(item, dict | list) for item in level)


def parse(event: Mapping[str, Any]) -> Any:
    """The parsed JSON body (None when there is none), or a 415/422 saying what is wrong with it."""
    if event.get("body") in (None, ""):
        return None
    media_type = _content_type(event.get("headers"))
    if media_type and media_type != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType(f"The body must be {JSON_MEDIA_TYPE}, not {media_type}")
    text = _text(event)
    try:
        parsed = loads(text)
    except json.JSONDecodeError as error:
        raise _invalid(f"is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except ValueError as error:
        raise _invalid(f"is not valid JSON: {error}") from None
    except RecursionError:
        raise _invalid(f"nests deeper than {MAX_NESTING} levels") from None
    if _too_deep(parsed):
        raise _invalid(f"nests deeper than {MAX_NESTING} levels")
    return parsed
