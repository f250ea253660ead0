"""The local DynamoDB refuses what DynamoDB refuses, through both of its paths:
moto in-process (the tests' `aws` fixture, with the botocore hook tests/conftest.py
installs) and moto's server as the local stack runs it (`python -m
local.dynamodb_server`, with its WSGI middleware). Every test runs on both.

Tables are the ones of template.yaml: plans, tenants, usage and idempotency, each
keyed pk/sk; plans has the `catalog` index."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from local.stack import free_port, wait_until_up
from local.strict_dynamodb import MAX_ITEM_BYTES, item_size
from local.template import create_tables
from tests.support import TABLE_NAMES

PLANS = TABLE_NAMES["PlansTable"]
TENANTS = TABLE_NAMES["TenantsTable"]
REGION = "us-east-1"
PATHS = ["in-process", "server"]


@pytest.fixture(scope="module")
def dynamodb_server() -> Iterator[str]:
    """The local stack's DynamoDB: moto's server behind the strict middleware."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "local.dynamodb_server", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, "moto DynamoDB server")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for moto in-process, else the server's URL; either way with the template's tables."""
    if request.param == "in-process":
        request.getfixturevalue("aws")
        yield None
        return
    url = request.getfixturevalue("dynamodb_server")
    _post(f"{url}/moto-api/reset")  # a fresh moto, and the middleware forgets its tokens
    create_tables(botocore.session.get_session().create_client("dynamodb", region_name=REGION, endpoint_url=url),
                  TABLE_NAMES)
    yield url


@pytest.fixture
def dynamodb(path: str | None) -> Any:
    """A client as the product makes it (botocore's session), on the path under test."""
    return botocore.session.get_session().create_client("dynamodb", region_name=REGION, endpoint_url=path)


def _post(url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers or {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def refusal(call: Callable[[], Any]) -> tuple[str, str]:
    """(code, message) of the ClientError the call raises."""
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def key(pk: str = "p", sk: str = "s") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def reserved(kind: str, word: str) -> tuple[str, str]:
    return "ValidationException", f"Invalid {kind}: Attribute name is a reserved keyword; reserved keyword: {word}"


# ------------------------------------------------------------ reserved words

def test_the_catalog_query_is_refused_and_its_placeholder_form_answers(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=PLANS, Item={**key("plan#1", "plan"), "catalog": {"S": "default"},
                                             "catalog_order": {"S": "0001"}})
    values = {":catalog": {"S": "default"}}
    assert refusal(lambda: dynamodb.query(TableName=PLANS, IndexName="catalog",
                                          KeyConditionExpression="catalog = :catalog",
                                          ExpressionAttributeValues=values)) == reserved("KeyConditionExpression",
                                                                                          "catalog")
    found = dynamodb.query(TableName=PLANS, IndexName="catalog", KeyConditionExpression="#catalog = :catalog",
                           ExpressionAttributeNames={"#catalog": "catalog"}, ExpressionAttributeValues=values)
    assert [item["pk"]["S"] for item in found["Items"]] == ["plan#1"]


def _get(client: Any) -> Any:
    return client.get_item(TableName=PLANS, Key=key(), ProjectionExpression="pk, name")


def _put(client: Any) -> Any:
    return client.put_item(TableName=PLANS, Item=key(), ConditionExpression="attribute_not_exists(status)")


def _update(client: Any) -> Any:
    return client.update_item(TableName=PLANS, Key=key(), UpdateExpression="SET #v = :v, comment = :v",
                              ExpressionAttributeNames={"#v": "v"}, ExpressionAttributeValues={":v": {"S": "x"}})


def _delete(client: Any) -> Any:
    return client.delete_item(TableName=PLANS, Key=key(), ConditionExpression="attribute_exists(owner.id)")


def _scan(client: Any) -> Any:
    return client.scan(TableName=PLANS, FilterExpression="size(tags) > :n AND data = :n",
                       ExpressionAttributeValues={":n": {"N": "1"}})


def _batch_get(client: Any) -> Any:
    return client.batch_get_item(RequestItems={PLANS: {"Keys": [key()], "ProjectionExpression": "pk, timestamp"}})


def _transact_get(client: Any) -> Any:
    return client.transact_get_items(TransactItems=[{"Get": {"TableName": PLANS, "Key": key(),
                                                             "ProjectionExpression": "info.role"}}])


def _transact_condition_check(client: Any) -> Any:
    return client.transact_write_items(TransactItems=[
        {"ConditionCheck": {"TableName": PLANS, "Key": key(), "ConditionExpression": "region = :r",
                            "ExpressionAttributeValues": {":r": {"S": "eu"}}}},
        {"Put": {"TableName": PLANS, "Item": key("other")}}])


def _transact_update(client: Any) -> Any:
    return client.transact_write_items(TransactItems=[
        {"Update": {"TableName": TENANTS, "Key": key(), "UpdateExpression": "ADD counter :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}}])


@pytest.mark.parametrize(("call", "kind", "word"), [
    (_get, "ProjectionExpression", "name"),
    (_put, "ConditionExpression", "status"),
    (_update, "UpdateExpression", "comment"),
    (_delete, "ConditionExpression", "owner"),
    (_scan, "FilterExpression", "data"),
    (_batch_get, "ProjectionExpression", "timestamp"),
    (_transact_get, "ProjectionExpression", "role"),
    (_transact_condition_check, "ConditionExpression", "region"),
    (_transact_update, "UpdateExpression", "counter"),
], ids=lambda value: getattr(value, "__name__", str(value)).strip("_"))
def test_reserved_words_are_refused_in_every_operation(dynamodb: Any, call: Callable[[Any], Any], kind: str,
                                                       word: str) -> None:
    assert refusal(lambda: call(dynamodb)) == reserved(kind, word)


def test_a_boto3_client_is_checked_too(path: str | None) -> None:
    """Powertools' idempotency and the seeding code use boto3, not botocore directly."""
    import boto3

    client = boto3.session.Session().client("dynamodb", region_name=REGION, endpoint_url=path)
    assert refusal(lambda: client.scan(TableName=PLANS, ProjectionExpression="size")) == (
        reserved("ProjectionExpression", "size"))


# ---------------------------------------------------------- placeholders

def test_unused_and_undefined_placeholders_are_refused(dynamodb: Any) -> None:
    assert refusal(lambda: dynamodb.put_item(
        TableName=PLANS, Item=key(), ConditionExpression="attribute_not_exists(pk)",
        ExpressionAttributeNames={"#spare": "spare"})) == (
        "ValidationException", "Value provided in ExpressionAttributeNames unused in expressions: keys: {#spare}")
    assert refusal(lambda: dynamodb.query(
        TableName=PLANS, KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}, ":spare": {"S": "x"}})) == (
        "ValidationException", "Value provided in ExpressionAttributeValues unused in expressions: keys: {:spare}")
    assert refusal(lambda: dynamodb.transact_write_items(TransactItems=[{"Delete": {
        "TableName": PLANS, "Key": key(), "ConditionExpression": "#missing = :v",
        "ExpressionAttributeValues": {":v": {"S": "x"}}}}])) == (
        "ValidationException", "Invalid ConditionExpression: An expression attribute name used in the document "
                               "path is not defined; attribute name: #missing")
    assert refusal(lambda: dynamodb.update_item(
        TableName=PLANS, Key=key(), UpdateExpression="SET amount = :missing")) == (
        "ValidationException", "Invalid UpdateExpression: An expression attribute value used in expression is not "
                               "defined; attribute value: :missing")


# ------------------------------------------------------ client request tokens

def _add_one(token: str | None, table: str = TENANTS) -> dict[str, Any]:
    request: dict[str, Any] = {"TransactItems": [{"Update": {
        "TableName": table, "Key": key("t"), "UpdateExpression": "ADD visits :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}}}}]}
    if token:
        request["ClientRequestToken"] = token
    return request


def _visits(client: Any) -> int:
    return int(client.get_item(TableName=TENANTS, Key=key("t"), ConsistentRead=True)["Item"]["visits"]["N"])


def test_a_repeated_client_request_token_answers_success_without_running_again(dynamodb: Any) -> None:
    dynamodb.transact_write_items(**_add_one("token-1"))
    dynamodb.transact_write_items(**_add_one("token-1"))
    assert _visits(dynamodb) == 1, "DynamoDB does not run a transaction twice for one token"
    dynamodb.transact_write_items(**_add_one(None))  # botocore makes a token per call
    dynamodb.transact_write_items(**_add_one(None))
    assert _visits(dynamodb) == 3


def test_a_client_request_token_with_other_parameters_is_refused(dynamodb: Any) -> None:
    dynamodb.transact_write_items(**_add_one("token-2"))
    code, _ = refusal(lambda: dynamodb.transact_write_items(**_add_one("token-2", table=PLANS)))
    assert code == "IdempotentParameterMismatchException"
    assert _visits(dynamodb) == 1


def test_a_refused_transaction_does_not_take_its_token(dynamodb: Any) -> None:
    refused_request = _add_one("token-3")
    refused_request["TransactItems"][0]["Update"]["UpdateExpression"] = "ADD counter :one"
    assert refusal(lambda: dynamodb.transact_write_items(**refused_request))[0] == "ValidationException"
    dynamodb.transact_write_items(**_add_one("token-3"))
    assert _visits(dynamodb) == 1


# ------------------------------------------------------------------ limits

def _puts(count: int) -> list[dict[str, Any]]:
    return [{"Put": {"TableName": PLANS, "Item": key(f"p{n}")}} for n in range(count)]


def test_more_than_100_actions_in_a_transaction_are_refused(dynamodb: Any) -> None:
    code, message = refusal(lambda: dynamodb.transact_write_items(TransactItems=_puts(101)))
    assert (code, message.endswith("Member must have length less than or equal to 100")) == (
        "ValidationException", True)
    dynamodb.transact_write_items(TransactItems=_puts(100))


def test_two_actions_on_one_item_in_a_transaction_are_refused(dynamodb: Any) -> None:
    actions = [{"Put": {"TableName": PLANS, "Item": {**key("a"), "v": {"S": "1"}}}},
               {"Update": {"TableName": PLANS, "Key": key("a"), "UpdateExpression": "SET v2 = :v",
                           "ExpressionAttributeValues": {":v": {"S": "2"}}}}]
    assert refusal(lambda: dynamodb.transact_write_items(TransactItems=actions)) == (
        "ValidationException", "Transaction request cannot include multiple operations on one item")


def test_more_than_25_writes_in_a_batch_are_refused(dynamodb: Any) -> None:
    writes = [{"PutRequest": {"Item": key(f"p{n}")}} for n in range(26)]
    code, message = refusal(lambda: dynamodb.batch_write_item(RequestItems={PLANS: writes}))
    assert code == "ValidationException"
    assert "Member must have length less than or equal to 25" in message
    split = {PLANS: writes[:13], TENANTS: writes[13:]}
    assert refusal(lambda: dynamodb.batch_write_item(RequestItems=split)) == (
        "ValidationException", "Too many items requested for the BatchWriteItem call")


def test_a_batch_that_puts_and_deletes_one_item_is_refused(dynamodb: Any) -> None:
    writes = [{"PutRequest": {"Item": {**key("a"), "v": {"S": "1"}}}}, {"DeleteRequest": {"Key": key("a")}}]
    assert refusal(lambda: dynamodb.batch_write_item(RequestItems={PLANS: writes})) == (
        "ValidationException", "Provided list of item keys contains duplicates")


def test_more_than_100_keys_in_a_batch_get_are_refused(dynamodb: Any) -> None:
    keys = [key(f"p{n}") for n in range(101)]
    code, message = refusal(lambda: dynamodb.batch_get_item(RequestItems={PLANS: {"Keys": keys}}))
    assert code == "ValidationException"
    assert "less than or equal to 100" in message


# ------------------------------------------------------------------- sizes

TOO_LARGE = ("ValidationException", "Item size has exceeded the maximum allowed size")
UPDATE_TOO_LARGE = ("ValidationException", "Item size to update has exceeded the maximum allowed size")


def _many_small_numbers(count: int) -> dict[str, Any]:
    """count one-digit numbers: 3 bytes each for DynamoDB (1 element + 2 number), 1 for moto's count."""
    return {"L": [{"N": "7"}] * count}


def test_an_item_over_400_kb_is_refused_in_every_write(dynamodb: Any) -> None:
    big = {**key("big"), "payload": {"S": "x" * (MAX_ITEM_BYTES + 1)}}
    assert refusal(lambda: dynamodb.put_item(TableName=PLANS, Item=big)) == TOO_LARGE
    assert refusal(lambda: dynamodb.batch_write_item(RequestItems={PLANS: [{"PutRequest": {"Item": big}}]})) == (
        TOO_LARGE)
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": PLANS, "Item": key("small")}},
                                                     {"Put": {"TableName": PLANS, "Item": big}}])
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert raised.value.response["CancellationReasons"] == [
        {"Code": "None"}, {"Code": "ValidationError", "Message": "Item size has exceeded the maximum allowed size"}]


def test_an_item_over_400_kb_by_dynamodb_s_count_of_lists_is_refused(dynamodb: Any) -> None:
    item = {**key("list"), "values": _many_small_numbers(140_000)}  # 420,000 bytes for DynamoDB
    assert item_size(item) > MAX_ITEM_BYTES
    assert refusal(lambda: dynamodb.put_item(TableName=PLANS, Item=item)) == TOO_LARGE


def test_an_update_that_grows_an_item_past_400_kb_is_refused_and_changes_nothing(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=PLANS, Item={**key("grow"), "payload": {"S": "x" * 300_000}})
    grow = {"TableName": PLANS, "Key": key("grow"), "UpdateExpression": "SET #values = :values",
            "ExpressionAttributeNames": {"#values": "values"},
            "ExpressionAttributeValues": {":values": _many_small_numbers(40_000)}}  # +120,000 bytes
    assert refusal(lambda: dynamodb.update_item(**grow)) == UPDATE_TOO_LARGE
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[{"Update": grow}])
    assert raised.value.response["CancellationReasons"] == [
        {"Code": "ValidationError", "Message": "Item size to update has exceeded the maximum allowed size"}]
    item = dynamodb.get_item(TableName=PLANS, Key=key("grow"), ConsistentRead=True)["Item"]
    assert "values" not in item
    smaller = {**grow, "ExpressionAttributeValues": {":values": _many_small_numbers(30_000)}}  # +90,000 bytes
    dynamodb.update_item(**smaller)


# ----------------------------------------------------------------- numbers

def test_numbers_dynamodb_cannot_store_are_refused_wherever_they_are(dynamodb: Any) -> None:
    digits = ("ValidationException", "Attempting to store more than 38 significant digits in a Number")
    assert refusal(lambda: dynamodb.put_item(TableName=PLANS, Item={**key(), "n": {"N": "1" * 39}})) == digits
    assert refusal(lambda: dynamodb.update_item(
        TableName=PLANS, Key=key(), UpdateExpression="ADD amount :n",
        ExpressionAttributeValues={":n": {"N": "0." + "1" * 39}})) == digits
    assert refusal(lambda: dynamodb.put_item(
        TableName=PLANS, Item={**key(), "m": {"M": {"l": {"L": [{"N": "1E+126"}]}}}})) == (
        "ValidationException", "Number overflow. Attempting to store a number with magnitude larger than supported "
                               "range")
    assert refusal(lambda: dynamodb.scan(TableName=PLANS, FilterExpression="amount > :n",
                                         ExpressionAttributeValues={":n": {"N": "1E-131"}})) == (
        "ValidationException", "Number underflow. Attempting to store a number with magnitude smaller than supported "
                               "range")
    dynamodb.put_item(TableName=PLANS, Item={**key(), "n": {"N": "1" * 38}, "big": {"N": "1" + "0" * 120}})


# -------------------------------------------------------------------- keys

def test_empty_and_oversized_key_values_are_refused(dynamodb: Any) -> None:
    assert refusal(lambda: dynamodb.put_item(TableName=PLANS, Item=key("p", ""))) == (
        "ValidationException", "One or more parameter values were invalid: An AttributeValue may not contain an "
                               "empty string. Key: sk")
    assert refusal(lambda: dynamodb.put_item(TableName=PLANS, Item=key("p" * 2049))) == (
        "ValidationException", "One or more parameter values were invalid: Size of hashkey has exceeded the maximum "
                               "size limit of2048 bytes")
    assert refusal(lambda: dynamodb.get_item(TableName=PLANS, Key=key("p", "s" * 1025))) == (
        "ValidationException", "One or more parameter values were invalid: Aggregated size of all range keys has "
                               "exceeded the size limit of 1024 bytes")
    dynamodb.put_item(TableName=PLANS, Item=key("p" * 2048, "s" * 1024))


# ------------------------------------------------------ what still answers

def test_correct_requests_still_succeed(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=PLANS, Item={**key("plan#1", "plan"), "status": {"S": "active"},
                                             "tags": {"L": []}, "version": {"N": "1"}},
                      ConditionExpression="attribute_not_exists(pk)")
    dynamodb.update_item(
        TableName=PLANS, Key=key("plan#1", "plan"),
        UpdateExpression="SET #status = :archived, tags = list_append(tags, :tag), visits = if_not_exists(visits, "
                         ":zero) ADD version :one REMOVE legacy",
        ConditionExpression="#status = :active AND version = :one AND size(tags) < :ten",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":archived": {"S": "archived"}, ":active": {"S": "active"},
                                   ":tag": {"L": [{"S": "new"}]}, ":zero": {"N": "0"}, ":one": {"N": "1"},
                                   ":ten": {"N": "10"}})
    dynamodb.transact_write_items(ClientRequestToken="ok-1", TransactItems=[
        {"ConditionCheck": {"TableName": PLANS, "Key": key("plan#1", "plan"),
                            "ConditionExpression": "attribute_exists(pk) AND begins_with(#s, :a)",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": {":a": {"S": "arch"}}}},
        {"Put": {"TableName": TENANTS, "Item": key("tenant#1", "tenant")}}])
    found = dynamodb.query(TableName=PLANS, KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
                           FilterExpression="#s IN (:archived, :active)", ProjectionExpression="pk, #s, tags[0]",
                           ExpressionAttributeNames={"#s": "status"},
                           ExpressionAttributeValues={":pk": {"S": "plan#1"}, ":sk": {"S": "pl"},
                                                      ":archived": {"S": "archived"}, ":active": {"S": "active"}})
    assert found["Items"] == [{"pk": {"S": "plan#1"}, "status": {"S": "archived"}, "tags": {"L": [{"S": "new"}]}}]
    got = dynamodb.batch_get_item(RequestItems={TENANTS: {"Keys": [key("tenant#1", "tenant")]}})
    assert len(got["Responses"][TENANTS]) == 1


def test_the_server_answers_a_refusal_on_the_wire_as_dynamodb_does(dynamodb_server: str) -> None:
    body = json.dumps({"TableName": PLANS, "ProjectionExpression": "name"}).encode()
    status, headers, answer = _post(dynamodb_server, body, {
        "X-Amz-Target": "DynamoDB_20120810.Scan", "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    assert status == 400
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert json.loads(answer) == {
        "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
        "message": "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name"}
