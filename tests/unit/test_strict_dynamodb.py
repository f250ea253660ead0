"""The local DynamoDB's own check (local.strict_dynamodb), request by request:
each refusal DynamoDB answers, and the accepted neighbours of each."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest

from local.strict_dynamodb import (
    IDEMPOTENCY_WINDOW_SECONDS,
    MAX_ITEM_BYTES,
    Answer,
    ClientRequestTokens,
    KeySchema,
    Refusal,
    StrictDynamoDB,
    attribute_size,
    check,
    item_size,
    parse_expression,
)

TABLE = "plans"
SCHEMA = KeySchema("pk", "sk")


class FakeTables:
    """Tables whose key schema is pk/sk and whose updates leave `updated` behind."""

    def __init__(self, updated: dict[str, Any] | None = None) -> None:
        self.updated = updated

    def key_schema(self, table_name: str) -> KeySchema | None:
        return SCHEMA if table_name == TABLE else None

    def item_after_update(self, table_name: str, update: Mapping[str, Any]) -> dict[str, Any] | None:
        return self.updated


def key(pk: str = "p", sk: str = "s") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def refused(operation: str, request: dict[str, Any], tables: Any = None) -> Refusal:
    refusal = check(operation, request, tables or FakeTables())
    assert refusal is not None, f"{operation} was accepted"
    return refusal


def accepted(operation: str, request: dict[str, Any], tables: Any = None) -> None:
    refusal = check(operation, request, tables or FakeTables())
    assert refusal is None, refusal


def invalid(operation: str, request: dict[str, Any], tables: Any = None) -> str:
    refusal = refused(operation, request, tables)
    assert refusal.code == "ValidationException"
    return refusal.message


# ------------------------------------------------------------ reserved words

RESERVED_IN_EVERY_EXPRESSION = [
    ("Query", {"TableName": TABLE, "IndexName": "catalog", "KeyConditionExpression": "catalog = :c",
               "ExpressionAttributeValues": {":c": {"S": "x"}}}, "KeyConditionExpression", "catalog"),
    ("Query", {"TableName": TABLE, "KeyConditionExpression": "pk = :p", "FilterExpression": "status = :s",
               "ExpressionAttributeValues": {":p": {"S": "x"}, ":s": {"S": "x"}}}, "FilterExpression", "status"),
    ("Query", {"TableName": TABLE, "KeyConditionExpression": "pk = :p", "ProjectionExpression": "pk, name",
               "ExpressionAttributeValues": {":p": {"S": "x"}}}, "ProjectionExpression", "name"),
    ("Scan", {"TableName": TABLE, "FilterExpression": "size(comment) > :n",
              "ExpressionAttributeValues": {":n": {"N": "1"}}}, "FilterExpression", "comment"),
    ("Scan", {"TableName": TABLE, "ProjectionExpression": "data"}, "ProjectionExpression", "data"),
    ("GetItem", {"TableName": TABLE, "Key": key(), "ProjectionExpression": "owner"}, "ProjectionExpression",
     "owner"),
    ("PutItem", {"TableName": TABLE, "Item": key(), "ConditionExpression": "attribute_not_exists(pk) OR source < :v",
                 "ExpressionAttributeValues": {":v": {"N": "1"}}}, "ConditionExpression", "source"),
    ("UpdateItem", {"TableName": TABLE, "Key": key(), "UpdateExpression": "SET name = :n",
                    "ExpressionAttributeValues": {":n": {"S": "x"}}}, "UpdateExpression", "name"),
    ("UpdateItem", {"TableName": TABLE, "Key": key(), "UpdateExpression": "SET #n = :n",
                    "ConditionExpression": "size = :n", "ExpressionAttributeNames": {"#n": "n"},
                    "ExpressionAttributeValues": {":n": {"S": "x"}}}, "ConditionExpression", "size"),
    ("DeleteItem", {"TableName": TABLE, "Key": key(), "ConditionExpression": "attribute_exists(user)"},
     "ConditionExpression", "user"),
    ("BatchGetItem", {"RequestItems": {TABLE: {"Keys": [key()], "ProjectionExpression": "pk, timestamp"}}},
     "ProjectionExpression", "timestamp"),
    ("TransactGetItems", {"TransactItems": [{"Get": {"TableName": TABLE, "Key": key(),
                                                     "ProjectionExpression": "role"}}]},
     "ProjectionExpression", "role"),
    ("TransactWriteItems", {"TransactItems": [{"ConditionCheck": {
        "TableName": TABLE, "Key": key(), "ConditionExpression": "region = :r",
        "ExpressionAttributeValues": {":r": {"S": "x"}}}}]}, "ConditionExpression", "region"),
    ("TransactWriteItems", {"TransactItems": [{"Update": {
        "TableName": TABLE, "Key": key(), "UpdateExpression": "ADD counter :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}}}}]}, "UpdateExpression", "counter"),
    ("TransactWriteItems", {"TransactItems": [{"Put": {
        "TableName": TABLE, "Item": key(), "ConditionExpression": "attribute_not_exists(hash)"}}]},
     "ConditionExpression", "hash"),
    ("TransactWriteItems", {"TransactItems": [{"Delete": {
        "TableName": TABLE, "Key": key(), "ConditionExpression": "begins_with(path, :p)",
        "ExpressionAttributeValues": {":p": {"S": "x"}}}}]}, "ConditionExpression", "path"),
]


@pytest.mark.parametrize(("operation", "request_", "kind", "word"), RESERVED_IN_EVERY_EXPRESSION,
                         ids=[f"{case[0]}-{case[2]}-{case[3]}" for case in RESERVED_IN_EVERY_EXPRESSION])
def test_a_reserved_word_as_an_attribute_name_is_refused_in_every_expression(
        operation: str, request_: dict[str, Any], kind: str, word: str) -> None:
    assert invalid(operation, request_) == (
        f"Invalid {kind}: Attribute name is a reserved keyword; reserved keyword: {word}")


def test_the_known_catalog_query_is_refused_with_dynamodb_s_words() -> None:
    message = invalid("Query", {"TableName": TABLE, "IndexName": "catalog",
                                "KeyConditionExpression": "catalog = :catalog",
                                "ExpressionAttributeValues": {":catalog": {"S": "default"}}})
    assert message == "Invalid KeyConditionExpression: Attribute name is a reserved keyword; reserved keyword: catalog"


def test_reserved_words_are_matched_whatever_their_case_and_quoted_as_written() -> None:
    message = invalid("Scan", {"TableName": TABLE, "ProjectionExpression": "pk, Status"})
    assert message.endswith("reserved keyword: Status")


@pytest.mark.parametrize("path", ["info.year", "info.items[0].name", "a[1].b.date", "tags[0][1].value"])
def test_a_reserved_word_anywhere_in_a_nested_path_is_refused(path: str) -> None:
    message = invalid("Scan", {"TableName": TABLE, "ProjectionExpression": path})
    assert "reserved keyword" in message


def test_the_catalog_query_with_a_placeholder_is_accepted() -> None:
    accepted("Query", {"TableName": TABLE, "IndexName": "catalog", "KeyConditionExpression": "#catalog = :catalog",
                       "ExpressionAttributeNames": {"#catalog": "catalog"},
                       "ExpressionAttributeValues": {":catalog": {"S": "default"}}})


@pytest.mark.parametrize("condition", [
    "attribute_exists(pk) AND attribute_not_exists(#s)",
    "attribute_type(#s, :t) OR NOT contains(tags, :t)",
    "begins_with(sk, :t) and size(tags) > :n",
    "#s IN (:t, :u) or plan_id between :t and :u",
    "NOT (#s = :t)",
    "info.tier[0].kind <> :t AND size (tags) >= :n",
])
def test_functions_syntax_words_placeholders_and_plain_names_are_accepted(condition: str) -> None:
    request = {"TableName": TABLE, "Key": key(), "ConditionExpression": condition}
    if "#s" in condition:
        request["ExpressionAttributeNames"] = {"#s": "status"}
    values = {":t": {"S": "x"}, ":u": {"S": "y"}, ":n": {"N": "1"}}
    used = {name: value for name, value in values.items() if name in condition}
    if used:
        request["ExpressionAttributeValues"] = used
    accepted("DeleteItem", request)


def test_update_clauses_and_update_functions_are_not_attribute_names() -> None:
    accepted("UpdateItem", {
        "TableName": TABLE, "Key": key(),
        "UpdateExpression": "SET #n = if_not_exists(#n, :zero) + :one, tags = list_append(tags, :t) "
                            "REMOVE legacy_field, info.previous ADD visits :one DELETE labels :l",
        "ExpressionAttributeNames": {"#n": "count"},
        "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}, ":t": {"L": []},
                                      ":l": {"SS": ["a"]}},
    })


def test_the_tokenizer_tells_placeholders_functions_and_names_apart() -> None:
    parts = parse_expression("ConditionExpression",
                             "attribute_exists(#a.b[2].c) AND size(d) BETWEEN :lo AND :hi OR e IN (:x)")
    assert parts.names == ("#a",)
    assert parts.values == (":lo", ":hi", ":x")
    assert parts.attribute_words == ("b", "c", "d", "e")


# ---------------------------------------------------------- placeholders

def test_an_unused_expression_attribute_name_is_refused() -> None:
    message = invalid("PutItem", {"TableName": TABLE, "Item": key(), "ConditionExpression": "attribute_not_exists(pk)",
                                  "ExpressionAttributeNames": {"#unused": "status"}})
    assert message == "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}"


def test_an_unused_expression_attribute_value_is_refused() -> None:
    message = invalid("Query", {"TableName": TABLE, "KeyConditionExpression": "pk = :p",
                                "ExpressionAttributeValues": {":p": {"S": "x"}, ":spare": {"S": "y"}}})
    assert message == "Value provided in ExpressionAttributeValues unused in expressions: keys: {:spare}"


def test_unused_placeholders_in_a_transaction_action_are_refused() -> None:
    message = invalid("TransactWriteItems", {"TransactItems": [{"Update": {
        "TableName": TABLE, "Key": key(), "UpdateExpression": "SET #a = :a",
        "ExpressionAttributeNames": {"#a": "a", "#b": "b"}, "ExpressionAttributeValues": {":a": {"S": "x"}}}}]})
    assert message == "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"


def test_a_placeholder_used_in_any_expression_of_the_request_counts_as_used() -> None:
    accepted("UpdateItem", {"TableName": TABLE, "Key": key(), "UpdateExpression": "SET #a = :a",
                            "ConditionExpression": "#v = :v",
                            "ExpressionAttributeNames": {"#a": "a", "#v": "version"},
                            "ExpressionAttributeValues": {":a": {"S": "x"}, ":v": {"N": "1"}}})


def test_an_undefined_name_placeholder_is_refused() -> None:
    message = invalid("UpdateItem", {"TableName": TABLE, "Key": key(), "UpdateExpression": "SET #missing = :a",
                                     "ExpressionAttributeValues": {":a": {"S": "x"}}})
    assert message == ("Invalid UpdateExpression: An expression attribute name used in the document path is not "
                       "defined; attribute name: #missing")


def test_an_undefined_value_placeholder_is_refused() -> None:
    message = invalid("Scan", {"TableName": TABLE, "FilterExpression": "pk = :missing"})
    assert message == ("Invalid FilterExpression: An expression attribute value used in expression is not defined; "
                       "attribute value: :missing")


def test_placeholder_maps_without_any_expression_or_empty_are_refused() -> None:
    assert invalid("GetItem", {"TableName": TABLE, "Key": key(), "ExpressionAttributeNames": {"#a": "a"}}) == (
        "ExpressionAttributeNames can only be specified when using expressions")
    assert invalid("PutItem", {"TableName": TABLE, "Item": key(), "ExpressionAttributeValues": {":a": {"S": "x"}}}) == (
        "ExpressionAttributeValues can only be specified when using expressions")
    assert invalid("Scan", {"TableName": TABLE, "FilterExpression": "pk = :a",
                            "ExpressionAttributeValues": {":a": {"S": "x"}},
                            "ExpressionAttributeNames": {}}) == "ExpressionAttributeNames must not be empty"


# ------------------------------------------------------------------ counts

def put(pk: str, sk: str = "s", **attributes: Any) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": {**key(pk, sk), **attributes}}}


def test_a_transaction_of_100_actions_is_accepted_and_of_101_refused() -> None:
    accepted("TransactWriteItems", {"TransactItems": [put(f"p{n}") for n in range(100)]})
    message = invalid("TransactWriteItems", {"TransactItems": [put(f"p{n}") for n in range(101)]})
    assert message.endswith("at 'transactItems' failed to satisfy constraint: "
                            "Member must have length less than or equal to 100")
    gets = [{"Get": {"TableName": TABLE, "Key": key(f"p{n}")}} for n in range(101)]
    assert "less than or equal to 100" in invalid("TransactGetItems", {"TransactItems": gets})


def test_two_actions_on_one_item_in_a_transaction_are_refused() -> None:
    update = {"Update": {"TableName": TABLE, "Key": key("a"), "UpdateExpression": "SET #s = :s",
                         "ExpressionAttributeNames": {"#s": "state"}, "ExpressionAttributeValues": {":s": {"S": "x"}}}}
    message = invalid("TransactWriteItems", {"TransactItems": [put("a"), update]})
    assert message == "Transaction request cannot include multiple operations on one item"
    check_then_delete = [{"ConditionCheck": {"TableName": TABLE, "Key": key("b"),
                                             "ConditionExpression": "attribute_exists(pk)"}},
                         {"Delete": {"TableName": TABLE, "Key": key("b")}}]
    assert invalid("TransactWriteItems", {"TransactItems": check_then_delete}) == message


def test_actions_on_distinct_items_of_one_partition_are_accepted() -> None:
    accepted("TransactWriteItems", {"TransactItems": [put("a", "1"), put("a", "2"),
                                                      {"Delete": {"TableName": TABLE, "Key": key("a", "3")}}]})


def test_batch_writes_over_25_are_refused_per_table_and_in_total() -> None:
    writes = [{"PutRequest": {"Item": key(f"p{n}")}} for n in range(26)]
    per_table = invalid("BatchWriteItem", {"RequestItems": {TABLE: writes}})
    assert "Member must have length less than or equal to 25" in per_table
    split = {TABLE: writes[:13], "other": writes[13:]}
    assert invalid("BatchWriteItem", {"RequestItems": split}) == "Too many items requested for the BatchWriteItem call"
    accepted("BatchWriteItem", {"RequestItems": {TABLE: writes[:25]}})


def test_a_batch_writing_one_item_twice_is_refused() -> None:
    writes = [{"PutRequest": {"Item": {**key("a"), "v": {"S": "1"}}}}, {"DeleteRequest": {"Key": key("a")}}]
    assert invalid("BatchWriteItem", {"RequestItems": {TABLE: writes}}) == (
        "Provided list of item keys contains duplicates")


def test_batch_gets_over_100_keys_are_refused() -> None:
    keys = [key(f"p{n}") for n in range(101)]
    assert "less than or equal to 100" in invalid("BatchGetItem", {"RequestItems": {TABLE: {"Keys": keys}}})
    split = {TABLE: {"Keys": keys[:50]}, "other": {"Keys": keys[50:]}}
    assert invalid("BatchGetItem", {"RequestItems": split}) == "Too many items requested for the BatchGetItem call"


# ------------------------------------------------------------------- sizes

def test_item_sizes_follow_dynamodb_s_documented_rules() -> None:
    assert item_size({"name": {"S": "héllo"}}) == 4 + 6  # UTF-8 bytes of name and value
    assert item_size({"n": {"N": "12345"}}) == 1 + 3 + 1  # 1 byte per two significant digits, plus 1
    assert item_size({"n": {"N": "-0.001230"}}) == 1 + 2 + 1  # zeroes trimmed: 3 significant digits
    assert item_size({"b": {"B": base64.b64encode(b"\x00" * 10).decode()}}) == 1 + 10  # raw bytes
    assert item_size({"t": {"BOOL": True}, "z": {"NULL": True}}) == (1 + 1) + (1 + 1)
    assert item_size({"m": {"M": {}}, "l": {"L": []}}) == (1 + 3) + (1 + 3)
    # 3 bytes per map or list, 1 per element, names of map entries counted.
    assert item_size({"m": {"M": {"ab": {"S": "xyz"}, "l": {"L": [{"S": "q"}, {"N": "1"}]}}}}) == (
        1 + 3 + (1 + 2 + 3) + (1 + 1 + 3 + (1 + 1) + (1 + 2)))
    assert attribute_size({"SS": ["ab", "c"]}) == 3
    assert attribute_size({"NS": ["1", "22", "333"]}) == 2 + 2 + 3


def exactly(size: int, name: str = "payload") -> dict[str, Any]:
    """An item of exactly `size` bytes by DynamoDB's rules (the key included)."""
    base = key("p")
    filler = size - item_size(base) - len(name)
    return {**base, name: {"S": "x" * filler}}


def test_an_item_of_400_kb_is_accepted_and_one_byte_more_refused() -> None:
    assert item_size(exactly(MAX_ITEM_BYTES)) == MAX_ITEM_BYTES
    accepted("PutItem", {"TableName": TABLE, "Item": exactly(MAX_ITEM_BYTES)})
    assert invalid("PutItem", {"TableName": TABLE, "Item": exactly(MAX_ITEM_BYTES + 1)}) == (
        "Item size has exceeded the maximum allowed size")


def test_list_overheads_count_towards_the_limit() -> None:
    # 140,000 one-digit numbers: 3 bytes each with the element's overhead, 420,000 in all.
    item = {**key("p"), "l": {"L": [{"N": "7"}] * 140_000}}
    assert invalid("PutItem", {"TableName": TABLE, "Item": item}) == "Item size has exceeded the maximum allowed size"


def test_an_oversized_put_in_a_batch_is_refused() -> None:
    writes = [{"PutRequest": {"Item": exactly(100)}}, {"PutRequest": {"Item": exactly(MAX_ITEM_BYTES + 1, "b")}}]
    writes[1]["PutRequest"]["Item"]["pk"] = {"S": "q"}
    assert invalid("BatchWriteItem", {"RequestItems": {TABLE: writes}}) == (
        "Item size has exceeded the maximum allowed size")


def test_an_oversized_put_cancels_a_transaction_with_a_reason_per_action() -> None:
    actions = [put("a"), {"Put": {"TableName": TABLE, "Item": {**exactly(MAX_ITEM_BYTES + 1), "pk": {"S": "b"}}}}]
    refusal = refused("TransactWriteItems", {"TransactItems": actions})
    assert refusal.code == "TransactionCanceledException"
    assert refusal.message == ("Transaction cancelled, please refer cancellation reasons for specific reasons "
                               "[None, ValidationError]")
    assert refusal.fields["CancellationReasons"] == [
        {"Code": "None"},
        {"Code": "ValidationError", "Message": "Item size has exceeded the maximum allowed size"}]


def test_an_update_that_would_grow_the_item_past_400_kb_is_refused() -> None:
    update = {"TableName": TABLE, "Key": key(), "UpdateExpression": "SET payload = :b",
              "ExpressionAttributeValues": {":b": {"S": "x"}}}
    grown = FakeTables(updated=exactly(MAX_ITEM_BYTES + 1))
    assert invalid("UpdateItem", update, grown) == "Item size to update has exceeded the maximum allowed size"
    accepted("UpdateItem", update, FakeTables(updated=exactly(MAX_ITEM_BYTES)))
    accepted("UpdateItem", update, FakeTables(updated=None))  # the result is not known: moto answers
    refusal = refused("TransactWriteItems", {"TransactItems": [{"Update": update}]}, grown)
    assert refusal.fields["CancellationReasons"] == [
        {"Code": "ValidationError", "Message": "Item size to update has exceeded the maximum allowed size"}]


# ----------------------------------------------------------------- numbers

@pytest.mark.parametrize("number", [
    "1" * 38, "-" + "9" * 38, "1" + "0" * 100, "0.000" + "1" * 38, "9.9999999999999999999999999999999999999E+125",
    "-9.9999999999999999999999999999999999999E+125", "1E-130", "-1E-130", "0", "0.0000", "1.5e10",
])
def test_numbers_dynamodb_stores_are_accepted(number: str) -> None:
    accepted("PutItem", {"TableName": TABLE, "Item": {**key(), "n": {"N": number}}})


@pytest.mark.parametrize(("number", "message"), [
    ("1" * 39, "Attempting to store more than 38 significant digits in a Number"),
    ("0.1" + "0" * 5 + "1" * 38, "Attempting to store more than 38 significant digits in a Number"),
    ("1E+126", "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    ("-1E+126", "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    ("1E-131", "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
    ("-9E-131", "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
])
def test_numbers_dynamodb_cannot_store_are_refused(number: str, message: str) -> None:
    assert invalid("PutItem", {"TableName": TABLE, "Item": {**key(), "n": {"N": number}}}) == message


@pytest.mark.parametrize(("operation", "request_"), [
    ("PutItem", {"TableName": TABLE, "Item": {**key(), "m": {"M": {"l": {"L": [{"N": "1" * 39}]}}}}}),
    ("PutItem", {"TableName": TABLE, "Item": {**key(), "ns": {"NS": ["1", "1E+200"]}}}),
    ("UpdateItem", {"TableName": TABLE, "Key": key(), "UpdateExpression": "ADD visits :n",
                    "ExpressionAttributeValues": {":n": {"N": "1" * 39}}}),
    ("Query", {"TableName": TABLE, "KeyConditionExpression": "pk = :p", "FilterExpression": "amount > :n",
               "ExpressionAttributeValues": {":p": {"S": "p"}, ":n": {"N": "1E-200"}}}),
    ("GetItem", {"TableName": "numbers", "Key": {"id": {"N": "1" * 40}}}),
    ("TransactWriteItems", {"TransactItems": [put("a", n={"N": "1" * 39})]}),
    ("BatchWriteItem", {"RequestItems": {TABLE: [{"PutRequest": {"Item": {**key(), "n": {"N": "1E+126"}}}}]}}),
])
def test_numbers_are_checked_in_nested_values_sets_keys_and_expression_values(
        operation: str, request_: dict[str, Any]) -> None:
    assert "Number" in invalid(operation, request_)


def test_an_empty_set_is_refused_anywhere() -> None:
    assert invalid("PutItem", {"TableName": TABLE, "Item": {**key(), "tags": {"SS": []}}}) == (
        "One or more parameter values were invalid: An string set  may not be empty")
    message = invalid("UpdateItem", {"TableName": TABLE, "Key": key(), "UpdateExpression": "ADD tags :t",
                                     "ExpressionAttributeValues": {":t": {"NS": []}}})
    assert message == "One or more parameter values were invalid: An number set  may not be empty"


def test_a_set_with_duplicates_is_refused() -> None:
    assert invalid("PutItem", {"TableName": TABLE, "Item": {**key(), "tags": {"SS": ["a", "b", "a"]}}}) == (
        "One or more parameter values were invalid: Input collection [a, b, a] contains duplicates")
    assert "contains duplicates" in invalid("PutItem", {"TableName": TABLE,
                                                        "Item": {**key(), "ns": {"NS": ["1", "1.0"]}}})
    accepted("PutItem", {"TableName": TABLE, "Item": {**key(), "ns": {"NS": ["1", "10"]}, "ss": {"SS": ["a", "A"]}}})


# -------------------------------------------------------------------- keys

def test_an_empty_string_key_is_refused_in_items_and_keys() -> None:
    assert invalid("PutItem", {"TableName": TABLE, "Item": key("p", "")}) == (
        "One or more parameter values were invalid: An AttributeValue may not contain an empty string. Key: sk")
    expected = ("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain "
                "an empty string value. Key: pk")
    assert invalid("GetItem", {"TableName": TABLE, "Key": key("", "s")}) == expected
    assert invalid("TransactWriteItems", {"TransactItems": [
        {"Delete": {"TableName": TABLE, "Key": key("", "s")}}]}) == expected


def test_an_empty_string_outside_the_key_is_accepted() -> None:
    accepted("PutItem", {"TableName": TABLE, "Item": {**key(), "note": {"S": ""}}})


def test_key_values_over_the_key_size_limits_are_refused() -> None:
    accepted("PutItem", {"TableName": TABLE, "Item": key("p" * 2048, "s" * 1024)})
    assert invalid("PutItem", {"TableName": TABLE, "Item": key("p" * 2049)}) == (
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes")
    assert invalid("GetItem", {"TableName": TABLE, "Key": key("p", "é" * 513)}) == (
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit "
        "of 1024 bytes")


def test_key_checks_need_the_table_s_schema() -> None:
    accepted("PutItem", {"TableName": "unknown", "Item": {"pk": {"S": ""}}})


# ---------------------------------------------------- client request tokens

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def transaction(token: str, value: str = "1") -> dict[str, Any]:
    return {"ClientRequestToken": token, "TransactItems": [put("a", v={"S": value})]}


def test_the_same_token_and_parameters_after_a_success_answer_success_without_running_again() -> None:
    tokens = ClientRequestTokens(Clock())
    assert tokens.answer(transaction("t")) is None
    tokens.record(transaction("t"), succeeded=True, cancelled=False)
    assert tokens.answer(transaction("t")) == Answer(200, {})


def test_the_same_token_with_other_parameters_is_refused() -> None:
    tokens = ClientRequestTokens(Clock())
    tokens.record(transaction("t"), succeeded=True, cancelled=False)
    answer = tokens.answer(transaction("t", value="2"))
    assert answer is not None
    assert answer.status == 400
    assert answer.error_code == "IdempotentParameterMismatchException"
    assert answer.body["__type"] == "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException"


def test_a_token_is_valid_for_ten_minutes_after_its_first_completion() -> None:
    clock = Clock()
    tokens = ClientRequestTokens(clock)
    tokens.record(transaction("t"), succeeded=True, cancelled=False)
    clock.now += IDEMPOTENCY_WINDOW_SECONDS - 1
    tokens.record(transaction("t"), succeeded=True, cancelled=False)  # a replay does not extend the window
    assert tokens.answer(transaction("t", value="2")) is not None
    clock.now += 1
    assert tokens.answer(transaction("t", value="2")) is None, "a new request after the window"


def test_a_request_refused_before_running_does_not_take_the_token() -> None:
    tokens = ClientRequestTokens(Clock())
    tokens.record(transaction("t"), succeeded=False, cancelled=False)
    assert tokens.answer(transaction("t", value="2")) is None


def test_a_cancelled_transaction_holds_the_token_but_runs_again() -> None:
    tokens = ClientRequestTokens(Clock())
    tokens.record(transaction("t"), succeeded=False, cancelled=True)
    assert tokens.answer(transaction("t")) is None, "nothing was written: the retry runs"
    assert tokens.answer(transaction("t", value="2")) is not None
    tokens.record(transaction("t"), succeeded=True, cancelled=False)
    assert tokens.answer(transaction("t")) == Answer(200, {})


def test_requests_without_a_token_are_never_remembered() -> None:
    tokens = ClientRequestTokens(Clock())
    request = {"TransactItems": [put("a")]}
    tokens.record(request, succeeded=True, cancelled=False)
    assert tokens.answer(request) is None


def test_a_replay_is_answered_before_the_item_it_wrote_is_judged() -> None:
    strict = StrictDynamoDB(Clock())
    update = {"Update": {"TableName": TABLE, "Key": key(), "UpdateExpression": "SET #b = :b",
                         "ExpressionAttributeNames": {"#b": "blob"}, "ExpressionAttributeValues": {":b": {"S": "x"}}}}
    request = {"ClientRequestToken": "t", "TransactItems": [update]}
    strict.after("TransactWriteItems", request, 200, None)
    grown = FakeTables(updated=exactly(MAX_ITEM_BYTES + 1))
    assert strict.before("TransactWriteItems", request, grown) == Answer(200, {})
    strict.reset()
    answer = strict.before("TransactWriteItems", request, grown)
    assert answer is not None
    assert answer.error_code == "TransactionCanceledException"
