"""What DynamoDB refuses and moto lets through, checked in one place for both local paths.

moto accepts requests that DynamoDB refuses, so a test can pass locally and the
same code fail in AWS. `check` looks at one request in DynamoDB's JSON wire
protocol (the operation of `X-Amz-Target` and the decoded body) and returns the
refusal DynamoDB would answer, worded as DynamoDB words it:

- reserved words used as bare attribute names in any expression;
- ExpressionAttributeNames/Values left unused, placeholders left undefined;
- more than 100 actions in a transaction, two actions on one item, more than 25
  writes in a BatchWriteItem or 100 keys in a BatchGetItem;
- items over 400 KB by DynamoDB's size rules (for updates, the item the update
  would leave behind);
- numbers with more than 38 significant digits or outside DynamoDB's range,
  empty sets and sets with duplicate members;
- empty or oversized key values.

`StrictDynamoDB` adds the one rule that needs memory: a `ClientRequestToken`
reused on TransactWriteItems within DynamoDB's 10-minute window is answered
without running the transaction again (same parameters) or refused with
IdempotentParameterMismatchException (other parameters).

Two thin adapters put it in front of moto: `install_botocore_hook` for moto
in-process (tests), and the WSGI middleware of `local/dynamodb_server.py` for
moto's server (the local stack). Both ask `MotoTables` for key schemas and for
what an update would make of an item, since both run in moto's process.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, Protocol

JSON = dict[str, Any]

CONTENT_TYPE = "application/x-amz-json-1.0"
ERROR_TYPE_PREFIX = "com.amazonaws.dynamodb.v20120810#"
VALIDATION = "ValidationException"

MAX_ITEM_BYTES = 400 * 1024
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024
MAX_TRANSACTION_ACTIONS = 100
MAX_BATCH_WRITES = 25
MAX_BATCH_GET_KEYS = 100
MAX_NUMBER_DIGITS = 38
LARGEST_NUMBER = Decimal("9.9999999999999999999999999999999999999E+125")
SMALLEST_NUMBER = Decimal("1E-130")
IDEMPOTENCY_WINDOW_SECONDS = 10 * 60


# ------------------------------------------------------------------ answers

@dataclass(frozen=True)
class Answer:
    """What the local DynamoDB sends instead of moto's answer."""

    status: int
    body: JSON

    @property
    def error_code(self) -> str | None:
        error_type = self.body.get("__type")
        return str(error_type).rsplit("#", 1)[-1] if error_type else None

    def encoded(self) -> bytes:
        return json.dumps(self.body).encode()


@dataclass(frozen=True)
class Refusal:
    """An error as DynamoDB answers it: its code, its message, any modeled fields."""

    code: str
    message: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def answer(self) -> Answer:
        return Answer(400, {"__type": ERROR_TYPE_PREFIX + self.code, "message": self.message, **self.fields})


def _invalid(message: str) -> Refusal:
    return Refusal(VALIDATION, message)


# ------------------------------------------------------------------ tables

@dataclass(frozen=True)
class KeySchema:
    partition_key: str
    sort_key: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.partition_key, self.sort_key) if self.sort_key else (self.partition_key,)

    def key_of(self, item: Mapping[str, Any]) -> JSON:
        return {name: item[name] for name in self.names if name in item}


class Tables(Protocol):
    """What the check needs to know of the tables beyond the request itself."""

    def key_schema(self, table_name: str) -> KeySchema | None: ...

    def item_after_update(self, table_name: str, update: Mapping[str, Any]) -> JSON | None:
        """The whole item an Update action would leave behind, or None when not known."""


class NoTables:
    """Knows no table: the checks that need a schema or the stored item are skipped."""

    def key_schema(self, table_name: str) -> KeySchema | None:
        return None

    def item_after_update(self, table_name: str, update: Mapping[str, Any]) -> JSON | None:
        return None


# ------------------------------------------------------------------ actions

@dataclass(frozen=True)
class Action:
    """One thing a request does to one table, whatever operation carries it.

    kind is Get, Put, Update, Delete, ConditionCheck, Query or Scan; fields is the
    action's own part of the request (Item, Key, expressions and their maps)."""

    kind: str
    table: str
    fields: Mapping[str, Any]


_SINGLE_ACTIONS = {"GetItem": "Get", "PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete",
                   "Query": "Query", "Scan": "Scan"}


def actions_of(operation: str, request: Mapping[str, Any]) -> list[Action]:
    if operation in _SINGLE_ACTIONS:
        return [Action(_SINGLE_ACTIONS[operation], request.get("TableName", ""), request)]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return [_transact_action(item) for item in request.get("TransactItems", [])]
    if operation == "BatchGetItem":
        return list(_batch_get_actions(request.get("RequestItems", {})))
    if operation == "BatchWriteItem":
        return list(_batch_write_actions(request.get("RequestItems", {})))
    return []


def _transact_action(transact_item: Mapping[str, Any]) -> Action:
    if len(transact_item) != 1:
        return Action("", "", {})  # not one action: moto refuses the shape
    (kind, fields), = transact_item.items()
    return Action(kind, fields.get("TableName", ""), fields)


def _batch_get_actions(request_items: Mapping[str, Any]) -> Iterator[Action]:
    for table, spec in request_items.items():
        shared = {name: value for name, value in spec.items() if name != "Keys"}
        for key in spec.get("Keys", []):
            yield Action("Get", table, {**shared, "Key": key})


def _batch_write_actions(request_items: Mapping[str, Any]) -> Iterator[Action]:
    for table, writes in request_items.items():
        for write in writes:
            if "PutRequest" in write:
                yield Action("Put", table, write["PutRequest"])
            elif "DeleteRequest" in write:
                yield Action("Delete", table, write["DeleteRequest"])


# -------------------------------------------------------------- the check

def check(operation: str, request: Mapping[str, Any], tables: Tables | None = None) -> Refusal | None:
    """The refusal DynamoDB would answer to this request, or None when these rules find
    nothing (whatever else is wrong with it, moto answers)."""
    tables = tables or NoTables()
    refusal = check_counts(operation, request)
    if refusal:
        return refusal
    actions = actions_of(operation, request)
    for rule in (check_expressions, check_values, check_keys):
        refusal = _first(rule(action, tables) for action in actions)
        if refusal:
            return refusal
    return check_same_item_twice(operation, actions, tables) or check_item_sizes(operation, actions, tables)


def _first(refusals: Iterator[Refusal | None]) -> Refusal | None:
    return next((refusal for refusal in refusals if refusal), None)


# ------------------------------------------------------------------ counts

def _too_long(member: str, limit: int) -> Refusal:
    # DynamoDB also prints the request's objects (Java toString), which nothing should match on.
    return _invalid(f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
                    f"Member must have length less than or equal to {limit}")


def check_counts(operation: str, request: Mapping[str, Any]) -> Refusal | None:
    transaction = operation in ("TransactWriteItems", "TransactGetItems")
    if transaction and len(request.get("TransactItems", [])) > MAX_TRANSACTION_ACTIONS:
        return _too_long("transactItems", MAX_TRANSACTION_ACTIONS)
    if operation == "BatchWriteItem":
        return _check_batch_write_counts(request.get("RequestItems", {}))
    if operation == "BatchGetItem":
        return _check_batch_get_counts(request.get("RequestItems", {}))
    return None


def _check_batch_write_counts(request_items: Mapping[str, Any]) -> Refusal | None:
    if any(len(writes) > MAX_BATCH_WRITES for writes in request_items.values()):
        return _invalid("1 validation error detected: Value at 'requestItems' failed to satisfy constraint: "
                        "Map value must satisfy constraint: [Member must have length less than or equal to "
                        f"{MAX_BATCH_WRITES}, Member must have length greater than or equal to 1]")
    if sum(len(writes) for writes in request_items.values()) > MAX_BATCH_WRITES:
        return _invalid("Too many items requested for the BatchWriteItem call")
    return None


def _check_batch_get_counts(request_items: Mapping[str, Any]) -> Refusal | None:
    for table, spec in request_items.items():
        if len(spec.get("Keys", [])) > MAX_BATCH_GET_KEYS:
            return _too_long(f"requestItems.{table}.member.keys", MAX_BATCH_GET_KEYS)
    if sum(len(spec.get("Keys", [])) for spec in request_items.values()) > MAX_BATCH_GET_KEYS:
        return _invalid("Too many items requested for the BatchGetItem call")
    return None


# ------------------------------------------------------------- expressions

EXPRESSION_KINDS = ("KeyConditionExpression", "UpdateExpression", "ConditionExpression", "FilterExpression",
                    "ProjectionExpression")
# Words that are syntax where they stand; everywhere else a bare word is an attribute name
# (or a function name, when a parenthesis follows).
_CONDITION_WORDS = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN"})
_SYNTAX_WORDS = {
    "KeyConditionExpression": _CONDITION_WORDS,
    "ConditionExpression": _CONDITION_WORDS,
    "FilterExpression": _CONDITION_WORDS,
    "UpdateExpression": frozenset({"SET", "REMOVE", "ADD", "DELETE"}),
    "ProjectionExpression": frozenset(),
}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<name>\#[A-Za-z0-9_]+)
  | (?P<value>:[A-Za-z0-9_]+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<other>.)
""", re.VERBOSE)


@cache
def reserved_words() -> frozenset[str]:
    """DynamoDB's reserved words, from the list moto ships."""
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

    return frozenset(word.upper() for word in ReservedKeywords.get_reserved_keywords())


@dataclass(frozen=True)
class ExpressionParts:
    """What an expression refers to: #name and :value placeholders, bare attribute names."""

    names: tuple[str, ...]
    values: tuple[str, ...]
    attribute_words: tuple[str, ...]


def parse_expression(kind: str, text: str) -> ExpressionParts:
    tokens = [(token.lastgroup, token.group()) for token in _TOKEN.finditer(text) if token.lastgroup != "space"]
    syntax_words = _SYNTAX_WORDS[kind]
    found: dict[str | None, list[str]] = {"name": [], "value": [], "word": []}
    for position, (group, token) in enumerate(tokens):
        if group == "word" and (token.upper() in syntax_words or _calls(tokens, position)):
            continue
        found.get(group, []).append(token)
    return ExpressionParts(tuple(found["name"]), tuple(found["value"]), tuple(found["word"]))


def _calls(tokens: list[tuple[str | None, str]], position: int) -> bool:
    """Whether the word at position is a function name (a parenthesis follows it)."""
    return position + 1 < len(tokens) and tokens[position + 1][1] == "("


def check_expressions(action: Action, tables: Tables | None = None) -> Refusal | None:
    fields = action.fields
    names, values = fields.get("ExpressionAttributeNames"), fields.get("ExpressionAttributeValues")
    expressions = {kind: fields[kind] for kind in EXPRESSION_KINDS if isinstance(fields.get(kind), str)}
    refusal = _check_placeholder_maps(names, values, bool(expressions))
    if refusal or not expressions:
        return refusal
    used_names: set[str] = set()
    used_values: set[str] = set()
    for kind, text in expressions.items():
        parts = parse_expression(kind, text)
        refusal = _check_expression(kind, parts, names or {}, values or {})
        if refusal:
            return refusal
        used_names.update(parts.names)
        used_values.update(parts.values)
    return _check_unused("Names", names or {}, used_names) or _check_unused("Values", values or {}, used_values)


def _check_placeholder_maps(names: Any, values: Any, has_expressions: bool) -> Refusal | None:
    for label, given in (("Names", names), ("Values", values)):
        if given == {}:
            return _invalid(f"ExpressionAttribute{label} must not be empty")
        if given and not has_expressions:
            return _invalid(f"ExpressionAttribute{label} can only be specified when using expressions")
    return None


def _check_expression(kind: str, parts: ExpressionParts, names: Mapping[str, Any],
                      values: Mapping[str, Any]) -> Refusal | None:
    reserved = next((word for word in parts.attribute_words if word.upper() in reserved_words()), None)
    if reserved:
        return _invalid(f"Invalid {kind}: Attribute name is a reserved keyword; reserved keyword: {reserved}")
    undefined_name = next((name for name in parts.names if name not in names), None)
    if undefined_name:
        return _invalid(f"Invalid {kind}: An expression attribute name used in the document path is not defined; "
                        f"attribute name: {undefined_name}")
    undefined_value = next((value for value in parts.values if value not in values), None)
    if undefined_value:
        return _invalid(f"Invalid {kind}: An expression attribute value used in expression is not defined; "
                        f"attribute value: {undefined_value}")
    return None


def _check_unused(label: str, given: Mapping[str, Any], used: set[str]) -> Refusal | None:
    unused = [placeholder for placeholder in given if placeholder not in used]
    if not unused:
        return None
    return _invalid(f"Value provided in ExpressionAttribute{label} unused in expressions: "
                    f"keys: {{{', '.join(unused)}}}")


# ------------------------------------------------------------------ values

def attribute_maps(action: Action) -> Iterator[Mapping[str, Any]]:
    """Every map of name (or :placeholder) to AttributeValue the action carries."""
    for member in ("Item", "Key", "ExpressionAttributeValues", "ExclusiveStartKey"):
        if isinstance(action.fields.get(member), Mapping):
            yield action.fields[member]


def check_values(action: Action, tables: Tables | None = None) -> Refusal | None:
    return _first(_check_attribute_value(value)
                  for attributes in attribute_maps(action) for value in attributes.values())


def _check_attribute_value(value: Any) -> Refusal | None:
    if not isinstance(value, Mapping) or len(value) != 1:
        return None  # not an AttributeValue: botocore and moto answer for the shape
    (kind, content), = value.items()
    if kind == "N" and isinstance(content, str):
        return check_number(content)
    if kind in ("SS", "NS", "BS") and isinstance(content, list):
        return _check_set(kind, content)
    if kind == "M" and isinstance(content, Mapping):
        return _first(_check_attribute_value(member) for member in content.values())
    if kind == "L" and isinstance(content, list):
        return _first(_check_attribute_value(member) for member in content)
    return None


_SET_NAMES = {"SS": "string", "NS": "number", "BS": "binary"}


def _check_set(kind: str, members: list[Any]) -> Refusal | None:
    if not members:
        # Sic: DynamoDB's wording, "An number set" and two spaces.
        return _invalid(f"One or more parameter values were invalid: An {_SET_NAMES[kind]} set  may not be empty")
    if kind == "NS":
        refusal = _first(check_number(member) for member in members if isinstance(member, str))
        if refusal:
            return refusal
    if len(set(map(_set_member_identity(kind), members))) < len(members):
        return _invalid("One or more parameter values were invalid: Input collection "
                        f"[{', '.join(map(str, members))}] contains duplicates")
    return None


def _set_member_identity(kind: str) -> Callable[[Any], Any]:
    """What makes two members the same: 1 and 1.0 are one number."""
    def number(member: Any) -> Any:
        try:
            return Decimal(member).normalize()
        except (InvalidOperation, TypeError):
            return member

    return number if kind == "NS" else str


def check_number(text: str) -> Refusal | None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None  # not a number at all: moto refuses it
    if not number.is_finite():
        return None
    if significant_digits(number) > MAX_NUMBER_DIGITS:
        return _invalid("Attempting to store more than 38 significant digits in a Number")
    if number.copy_abs() > LARGEST_NUMBER:
        return _invalid("Number overflow. Attempting to store a number with magnitude larger than supported range")
    if number and number.copy_abs() < SMALLEST_NUMBER:
        return _invalid("Number underflow. Attempting to store a number with magnitude smaller than supported range")
    return None


def significant_digits(number: Decimal) -> int:
    """Digits once leading and trailing zeroes are trimmed, as DynamoDB counts them."""
    digits = "".join(map(str, number.as_tuple().digits)).strip("0")
    return len(digits)


# -------------------------------------------------------------------- keys

def check_keys(action: Action, tables: Tables | None = None) -> Refusal | None:
    schema = (tables or NoTables()).key_schema(action.table)
    member = "Item" if action.kind == "Put" else "Key"
    values = action.fields.get(member)
    if schema is None or not isinstance(values, Mapping):
        return None
    key = schema.key_of(values)
    return _check_empty_key(key, from_item=member == "Item") or _check_key_sizes(schema, key)


def _check_empty_key(key: Mapping[str, Any], *, from_item: bool) -> Refusal | None:
    empty = next((name for name, value in key.items() if value in ({"S": ""}, {"B": ""})), None)
    if empty is None:
        return None
    if from_item:
        return _invalid("One or more parameter values were invalid: An AttributeValue may not contain an empty "
                        f"string. Key: {empty}")
    return _invalid("One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
                    f"contain an empty string value. Key: {empty}")


def _check_key_sizes(schema: KeySchema, key: Mapping[str, Any]) -> Refusal | None:
    partition = key.get(schema.partition_key)
    if partition is not None and attribute_size(partition) > MAX_PARTITION_KEY_BYTES:
        # Sic: no space before the number in DynamoDB's message.
        return _invalid("One or more parameter values were invalid: Size of hashkey has exceeded the maximum size "
                        f"limit of{MAX_PARTITION_KEY_BYTES} bytes")
    sort = key.get(schema.sort_key) if schema.sort_key else None
    if sort is not None and attribute_size(sort) > MAX_SORT_KEY_BYTES:
        return _invalid("One or more parameter values were invalid: Aggregated size of all range keys has exceeded "
                        f"the size limit of {MAX_SORT_KEY_BYTES} bytes")
    return None


def check_same_item_twice(operation: str, actions: list[Action], tables: Tables) -> Refusal | None:
    if operation not in ("TransactWriteItems", "BatchWriteItem"):
        return None
    seen: set[tuple[str, str]] = set()
    for action in actions:
        identity = _item_identity(action, tables)
        if identity is None:
            continue
        if identity in seen:
            if operation == "BatchWriteItem":
                return _invalid("Provided list of item keys contains duplicates")
            return _invalid("Transaction request cannot include multiple operations on one item")
        seen.add(identity)
    return None


def _item_identity(action: Action, tables: Tables) -> tuple[str, str] | None:
    if action.kind != "Put":
        key = action.fields.get("Key")
    else:
        schema = tables.key_schema(action.table)
        key = schema.key_of(action.fields.get("Item", {})) if schema else None
    return (action.table, json.dumps(key, sort_keys=True)) if isinstance(key, Mapping) else None


# ------------------------------------------------------------------- sizes

def item_size(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB counts it: names and values in UTF-8, numbers by
    significant digits, binary by raw bytes, 3 bytes per map or list plus 1 per element."""
    return sum(_utf8_size(name) + attribute_size(value) for name, value in item.items())


def attribute_size(value: Mapping[str, Any]) -> int:
    (kind, content), = value.items()
    sizes: dict[str, Callable[[Any], int]] = {
        "S": _utf8_size,
        "N": _number_size,
        "B": _binary_size,
        "BOOL": lambda _: 1,
        "NULL": lambda _: 1,
        "SS": lambda members: sum(map(_utf8_size, members)),
        "NS": lambda members: sum(map(_number_size, members)),
        "BS": lambda members: sum(map(_binary_size, members)),
        "L": lambda members: 3 + sum(1 + attribute_size(member) for member in members),
        "M": lambda members: 3 + sum(1 + _utf8_size(name) + attribute_size(member)
                                     for name, member in members.items()),
    }
    return sizes[kind](content)


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def _number_size(text: str) -> int:
    try:
        digits = significant_digits(Decimal(text))
    except InvalidOperation:
        digits = len(text)
    return (digits + 1) // 2 + 1


def _binary_size(content: str | bytes) -> int:
    if isinstance(content, bytes):
        return len(content)
    try:
        return len(base64.b64decode(content, validate=True))
    except (binascii.Error, ValueError):
        return _utf8_size(content)


def check_item_sizes(operation: str, actions: list[Action], tables: Tables) -> Refusal | None:
    reasons = [_oversize_reason(action, tables) for action in actions]
    if not any(reasons):
        return None
    if operation == "TransactWriteItems":
        return _cancelled(reasons)
    return _invalid(next(reason for reason in reasons if reason))


def _oversize_reason(action: Action, tables: Tables) -> str | None:
    item = action.fields.get("Item")
    if action.kind == "Put" and isinstance(item, Mapping) and item_size(item) > MAX_ITEM_BYTES:
        return "Item size has exceeded the maximum allowed size"
    if action.kind == "Update" and "UpdateExpression" in action.fields:
        updated = tables.item_after_update(action.table, action.fields)
        if updated is not None and item_size(updated) > MAX_ITEM_BYTES:
            return "Item size to update has exceeded the maximum allowed size"
    return None


def _cancelled(reasons: list[str | None]) -> Refusal:
    """TransactionCanceledException with one reason per action, in order, as DynamoDB lists them."""
    codes = ["ValidationError" if reason else "None" for reason in reasons]
    listed = [{"Code": "ValidationError", "Message": reason} if reason else {"Code": "None"} for reason in reasons]
    return Refusal("TransactionCanceledException",
                   f"Transaction cancelled, please refer cancellation reasons for specific reasons "
                   f"[{', '.join(codes)}]",
                   {"CancellationReasons": listed})


# ----------------------------------------------------- client request tokens

@dataclass
class _TokenUse:
    fingerprint: str
    completed_at: float
    succeeded: bool


class ClientRequestTokens:
    """TransactWriteItems' ClientRequestToken, as DynamoDB documents it: a token is valid
    for 10 minutes after the first request that uses it completes. Within that window the
    same parameters answer success without running again, other parameters are refused.

    A request refused before it ran (ValidationException...) does not take the token. A
    cancelled transaction completed without writing: its parameters hold the token (others
    are refused), and the same request runs again, since there is nothing to replay."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._uses: dict[str, _TokenUse] = {}

    def answer(self, request: Mapping[str, Any]) -> Answer | None:
        use = self._live_use(request.get("ClientRequestToken"))
        if use is None:
            return None
        if use.fingerprint != _fingerprint(request):
            return Refusal("IdempotentParameterMismatchException",
                           "DynamoDB rejected the request because you retried a request with a different payload "
                           "but with an idempotent token that was already used.").answer()
        return Answer(200, {}) if use.succeeded else None

    def record(self, request: Mapping[str, Any], *, succeeded: bool, cancelled: bool) -> None:
        token = request.get("ClientRequestToken")
        if not token or not (succeeded or cancelled):
            return
        use = self._live_use(token)
        if use is None:
            self._uses[token] = _TokenUse(_fingerprint(request), self._clock(), succeeded)
        elif succeeded:
            use.succeeded = True  # the window still runs from the first completion

    def reset(self) -> None:
        self._uses.clear()

    def _live_use(self, token: str | None) -> _TokenUse | None:
        use = self._uses.get(token) if token else None
        if token and use is not None and self._clock() - use.completed_at >= IDEMPOTENCY_WINDOW_SECONDS:
            del self._uses[token]  # past the window: the next request with it is a new request
            return None
        return use


def _fingerprint(request: Mapping[str, Any]) -> str:
    return json.dumps({name: value for name, value in request.items() if name != "ClientRequestToken"},
                      sort_keys=True)


class StrictDynamoDB:
    """The check plus the state it needs, for one local DynamoDB (one process)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.tokens = ClientRequestTokens(clock)

    def before(self, operation: str, request: Mapping[str, Any], tables: Tables) -> Answer | None:
        """What to answer instead of moto, or None to let moto answer."""
        if operation == "TransactWriteItems":
            # First: a replay must not be judged against the state its first run left.
            answer = self.tokens.answer(request)
            if answer is not None:
                return answer
        refusal = check(operation, request, tables)
        return refusal.answer() if refusal else None

    def after(self, operation: str, request: Mapping[str, Any], status: int, error_code: str | None) -> None:
        """Learn from the answer sent (moto's or ours)."""
        if operation == "TransactWriteItems":
            self.tokens.record(request, succeeded=status < 300,
                               cancelled=error_code == "TransactionCanceledException")

    def reset(self) -> None:
        self.tokens.reset()


checker = StrictDynamoDB()


def reset() -> None:
    """Forget every client request token (a fresh moto has no history)."""
    checker.reset()


# --------------------------------------------------------- moto's tables

class MotoTables:
    """The tables of moto's backends in this process: moto in-process and moto's
    server both keep them here. region None looks in every region."""

    def __init__(self, region: str | None = None) -> None:
        self._region = region

    def key_schema(self, table_name: str) -> KeySchema | None:
        found = self._find(table_name)
        if found is None:
            return None
        table = found[1]
        return KeySchema(table.hash_key_attr, table.range_key_attr)

    def item_after_update(self, table_name: str, update: Mapping[str, Any]) -> JSON | None:
        found = self._find(table_name)
        if found is None:
            return None
        try:
            return _apply_update_to_copy(*found, update)
        except Exception:  # an update moto cannot apply gets moto's own answer
            return None

    def _find(self, table_name: str) -> tuple[Any, Any] | None:
        from moto.dynamodb.models import dynamodb_backends

        # dict's own views: BackendDict's item access would create accounts and regions.
        for account_backends in dict.values(dynamodb_backends):
            for region, backend in dict.items(account_backends):
                if self._region in (None, region) and table_name in backend.tables:
                    return backend, backend.tables[table_name]
        return None


def _apply_update_to_copy(backend: Any, table: Any, update: Mapping[str, Any]) -> JSON:
    """The item an UpdateExpression would leave, computed by moto's own executor on a copy."""
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.parsing.executors import UpdateExpressionExecutor
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator

    hash_value, range_value = backend.get_keys_value(table, update["Key"])
    stored = table.get_item(hash_value, range_value)
    item = copy.deepcopy(stored) if stored else Item(hash_value, range_value, attrs=dict(update["Key"]))
    # A plain dict: moto's own size limit (405,000 by its count) must not decide here.
    item.attrs = dict(item.attrs)
    names = update.get("ExpressionAttributeNames", {})
    validated = UpdateExpressionValidator(
        UpdateExpressionParser.make(update["UpdateExpression"]), expression_attribute_names=names,
        expression_attribute_values=update.get("ExpressionAttributeValues", {}), item=item, table=table,
    ).validate()
    validated.normalize()
    UpdateExpressionExecutor(validated, item, names).execute()
    attributes: JSON = item.to_json()["Attributes"]
    return attributes


# ---------------------------------------------------- moto in-process (botocore)

_REQUEST_IN_CONTEXT = "strict_dynamodb_request"
_AWS_DYNAMODB_URL = re.compile(r"https?://dynamodb\.[^/]+\.amazonaws\.com")


def install_botocore_hook() -> None:
    """Check every DynamoDB call that moto serves in-process, in every botocore session
    created from now on (boto3's included): the way moto installs its own hook. And serve
    one request at a time, as local/dynamodb_server.py does for the server."""
    from botocore.handlers import BUILTIN_HANDLERS

    for handler in (("before-call.dynamodb", _before_call), ("after-call.dynamodb", _after_call)):
        if handler not in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.append(handler)
    _serialize_moto_in_process()


_MOTO_LOCK = threading.RLock()


def _serialize_moto_in_process() -> None:
    """DynamoDB applies each request atomically (a conditional update decides and writes as one);
    moto's in-process backend does not when threads share it, so a condition could pass twice. One
    request at a time restores DynamoDB's atomicity; it takes nothing DynamoDB gives away."""
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.call_action, "serialized", False):
        return
    unserialized = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _MOTO_LOCK:
            return unserialized(self)

    call_action.serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


def _served_by_moto_in_process(url: str) -> bool:
    """Calls to another endpoint (moto's server in tests) are that endpoint's to check."""
    from moto.core.models import botocore_stubber

    return bool(botocore_stubber.enabled and _AWS_DYNAMODB_URL.match(url))


def _before_call(model: Any, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> Any:
    if not _served_by_moto_in_process(params.get("url", "")):
        return None
    request = json.loads(params.get("body") or b"{}")
    context[_REQUEST_IN_CONTEXT] = request
    answer = checker.before(model.name, request, MotoTables(context.get("client_region")))
    return None if answer is None else _botocore_response(model, params["url"], answer)


def _after_call(http_response: Any, parsed: Mapping[str, Any], model: Any, context: dict[str, Any],
                **_: Any) -> None:
    request = context.pop(_REQUEST_IN_CONTEXT, None)
    if request is not None:
        checker.after(model.name, request, http_response.status_code, parsed.get("Error", {}).get("Code"))


class _RawBody:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


def _botocore_response(model: Any, url: str, answer: Answer) -> tuple[Any, Any]:
    """(http response, parsed) as botocore would have them from the wire: the same parser
    reads the same bytes, so the caller gets the ClientError DynamoDB would give."""
    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders
    from botocore.endpoint import convert_to_response_dict
    from botocore.parsers import create_parser

    headers = HTTPHeaders()
    headers["Content-Type"] = CONTENT_TYPE
    headers["x-amzn-RequestId"] = uuid.uuid4().hex.upper()
    http = AWSResponse(url, answer.status, headers, _RawBody(answer.encoded()))
    response = convert_to_response_dict(http, model)
    parser = create_parser(model.metadata["protocol"])
    parsed = parser.parse(response, model.output_shape)
    # What botocore's endpoint adds for an error the service models (CancellationReasons...).
    error_shape = model.service_model.shape_for_error_code(answer.error_code) if answer.error_code else None
    if error_shape is not None:
        parsed.update(parser.parse(response, error_shape))
    return http, parsed
