"""SQS events of functions as Lambda's event source mapping runs them (local.sqs), on small templates of the
tests' own: the event's shape (read by Powertools), partial batch responses, malformed ones, redrive to the
dead-letter queue, and what Lambda refuses at creation. In-process under mock_aws through `drain`, and end to
end on a gateway polling moto's server (local.dynamodb_server's app, as the local stack serves it)."""

from __future__ import annotations

import hashlib
import json
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSEvent, SQSRecord
from aws_lambda_powertools.utilities.parser.models import SqsModel
from moto import mock_aws

from local.gateway import Gateway
from local.lambda_runtime import InvocationResult, Outcome
from local.sqs import (
    BatchReport,
    DrainTimeout,
    MalformedBatchResponse,
    drain,
    failed_message_ids,
    handler_invoker,
    process_batch,
    queue_arn_of,
    queue_depth,
    receive_batch,
    split_batches,
    sqs_event,
)
from local.template import (
    TEMPLATE_PATH,
    InvalidEventSourceError,
    LocalQueue,
    SqsEventSource,
    UnresolvableError,
    create_queues,
    function_environment,
    load_template,
    queue_definitions,
    sqs_event_sources,
)
from tests.integration.test_gateway import send

REGION = "us-east-1"
# Visibility and Timeout are small so that retries come quickly; Visibility >= Timeout, as Lambda wants.
TEMPLATE = """
Parameters:
  Visibility: {Type: Number, Default: 1}
  Timeout: {Type: Number, Default: 1}
  MaxReceive: {Type: Number, Default: 3}
  Window: {Type: Number, Default: 0}
Globals:
  Function: {CodeUri: code/, Timeout: 3}
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties: {StageName: test}
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Ref Visibility
      SqsManagedSseEnabled: true
      RedrivePolicy: {deadLetterTargetArn: !GetAtt WorkDeadLetterQueue.Arn, maxReceiveCount: !Ref MaxReceive}
  WorkDeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties: {MessageRetentionPeriod: 1209600}
  SeenQueue:
    Type: AWS::SQS::Queue
  SendFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: sqs_pkg.app.send
      Environment:
        Variables:
          QUEUE_URL: !Ref WorkQueue
          QUEUE_NAME: !GetAtt WorkQueue.QueueName
          QUEUE_ARN: !Sub "${WorkQueue.Arn}"
      Events:
        Send: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /send, Method: POST}}
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: sqs_pkg.app.work
      Timeout: !Ref Timeout
      Environment: {Variables: {SEEN_URL: !Ref SeenQueue}}
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 10
            MaximumBatchingWindowInSeconds: !Ref Window
            FunctionResponseTypes: [ReportBatchItemFailures]
"""

HANDLERS = '''
import json
import os
import time

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

processor = BatchProcessor(event_type=EventType.SQS)
sqs = boto3.client("sqs")


def send(event, context):
    sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=event["body"])
    return {"statusCode": 202, "body": json.dumps({"name": os.environ["QUEUE_NAME"], "arn": os.environ["QUEUE_ARN"]})}


def record_handler(record):
    count = record.attributes.approximate_receive_count
    sqs.send_message(QueueUrl=os.environ["SEEN_URL"], MessageBody=json.dumps({"body": record.body, "count": count}))
    if record.body == "poison" or (record.body == "fail-once" and count == "1"):
        raise ValueError(record.body)
    if record.body == "slow-once" and count == "1":
        time.sleep(30)  # past the function's Timeout: the environment is killed


def work(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
'''


def write_template(tmp_path: Path, text: str = TEMPLATE) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


@pytest.fixture
def template(tmp_path: Path) -> dict[str, Any]:
    return load_template(write_template(tmp_path))


def make_queues(sqs: Any, template: dict[str, Any], **parameters: str) -> dict[str, LocalQueue]:
    return create_queues(sqs, template, parameters)


def worker_source(template: dict[str, Any], **parameters: str) -> SqsEventSource:
    [source] = sqs_event_sources(template, parameters=parameters)
    return source


def send_all(sqs: Any, url: str, *bodies: str, **options: Any) -> list[str]:
    return [sqs.send_message(QueueUrl=url, MessageBody=body, **options)["MessageId"] for body in bodies]


def received_bodies(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [message["Body"] for message in messages]
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]} for index, message in enumerate(messages)])
    return bodies


def by_body(reports: list[BatchReport], bodies: dict[str, str]) -> list[tuple[list[str], list[str]]]:
    """Each batch as (its bodies, the bodies retried), sorted, the message ids read back through `bodies`."""
    return [(sorted(bodies[message_id] for message_id in report.message_ids),
             sorted(bodies[message_id] for message_id in report.retried)) for report in reports]


def redelivered(reports: list[BatchReport]) -> tuple[set[str], set[int], set[str]]:
    """The deliveries after the first batch: (the messages, their receive counts, those deleted). Messages
    received together may come back apart: each one's visibility timeout ends on its own."""
    return ({message_id for report in reports for message_id in report.message_ids},
            {count for report in reports for count in report.receive_counts},
            {message_id for report in reports for message_id in report.deleted})


def returning(*responses: Any) -> Callable[[dict[str, Any], Any], Any]:
    """A handler answering `responses` in turn (the last one from then on)."""
    answers = list(responses)

    def handler(event: dict[str, Any], context: Any) -> Any:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return handler


# ------------------------------------------------------------------ template

def test_queues_are_created_dead_letter_queue_first_with_its_arn_in_the_redrive_policy(
        sqs: Any, template: dict[str, Any]) -> None:
    assert list(queue_definitions(template, parameters={}))[:1] == ["WorkDeadLetterQueue"]
    queues = make_queues(sqs, template, Visibility="7", MaxReceive="4")
    work, dead = queues["WorkQueue"], queues["WorkDeadLetterQueue"]
    assert work.name == "local-WorkQueue"
    attributes = sqs.get_queue_attributes(QueueUrl=work.url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "7"
    assert attributes["QueueArn"] == work.arn
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": dead.arn, "maxReceiveCount": 4}
    assert work.redrive is not None
    assert (work.redrive.dead_letter_queue_id, work.redrive.max_receive_count) == ("WorkDeadLetterQueue", 4)
    assert work.visibility_timeout_seconds == 7
    assert queues["SeenQueue"].visibility_timeout_seconds == 30  # SQS's default


def test_functions_see_a_queues_url_for_ref_and_its_name_and_arn_for_getatt(
        sqs: Any, template: dict[str, Any]) -> None:
    queues = make_queues(sqs, template)
    environment = function_environment(template, "SendFunction", table_names={}, parameters={}, queues=queues)
    assert environment["QUEUE_URL"] == queues["WorkQueue"].url
    assert environment["QUEUE_NAME"] == "local-WorkQueue"
    assert environment["QUEUE_ARN"] == queues["WorkQueue"].arn
    with pytest.raises(UnresolvableError, match="a queue with no local URL"):
        function_environment(template, "SendFunction", table_names={}, parameters={})


def test_an_sqs_event_reads_its_settings_with_lambdas_defaults(template: dict[str, Any]) -> None:
    assert worker_source(template, Window="2") == SqsEventSource(
        function_id="WorkerFunction", queue_id="WorkQueue", event_id="Work", batch_size=10,
        maximum_batching_window_seconds=2, function_response_types=("ReportBatchItemFailures",))
    bare = TEMPLATE.replace("            BatchSize: 10\n", "").replace(
        "            MaximumBatchingWindowInSeconds: !Ref Window\n", "").replace(
        "            FunctionResponseTypes: [ReportBatchItemFailures]\n", "")
    source = worker_source(load_template_text(bare))
    assert (source.batch_size, source.maximum_batching_window_seconds, source.reports_batch_item_failures) == (
        10, 0, False)


def load_template_text(text: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        return load_template(write_template(Path(directory), text))


def test_a_visibility_timeout_below_the_functions_timeout_is_refused(template: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventSourceError,
                       match="Queue visibility timeout: 1 seconds is less than Function timeout: 2 seconds"):
        sqs_event_sources(template, parameters={"Visibility": "1", "Timeout": "2"})
    worker_source(template, Visibility="2", Timeout="2")  # equal is accepted


def test_template_yaml_refuses_a_worker_timeout_above_the_queues_visibility_timeout() -> None:
    real = load_template(TEMPLATE_PATH)
    assert sqs_event_sources(real)  # the defaults agree
    with pytest.raises(InvalidEventSourceError, match="less than Function timeout: 400 seconds"):
        sqs_event_sources(real, parameters={"StripeWorkerTimeoutSeconds": "400"})


@pytest.mark.parametrize(("change", "message"), [
    (("BatchSize: 10", "BatchSize: 11"), "greater than 0 if maximum batch size is greater than 10"),
    (("BatchSize: 10", "BatchSize: 10001"), "BatchSize 10001 is out of range"),
    (("BatchSize: 10", "BatchSize: 0"), "BatchSize 0 is out of range"),
    (("[ReportBatchItemFailures]", "[ReportBatchItemFailures, Everything]"), "not Everything"),
    (("BatchSize: 10", "BatchSize: 10\n            ScalingConfig: {MaximumConcurrency: 1}"),
     "MaximumConcurrency 1 is out of range"),
])
def test_what_lambda_refuses_in_an_event_source_mapping_is_refused(change: tuple[str, str], message: str) -> None:
    with pytest.raises(InvalidEventSourceError, match=message):
        sqs_event_sources(load_template_text(TEMPLATE.replace(*change)), parameters={"Window": "0"})


def test_a_batch_over_10_with_a_window_is_accepted() -> None:
    source = worker_source(load_template_text(TEMPLATE.replace("BatchSize: 10", "BatchSize: 500")), Window="1")
    assert source.batch_size == 500


def test_filter_criteria_and_outside_queues_are_not_emulated() -> None:
    filtered = TEMPLATE.replace("BatchSize: 10", "BatchSize: 10\n            FilterCriteria: {Filters: []}")
    with pytest.raises(UnresolvableError, match="FilterCriteria"):
        sqs_event_sources(load_template_text(filtered))
    outside = TEMPLATE.replace("Queue: !GetAtt WorkQueue.Arn", "Queue: arn:aws:sqs:us-east-1:123456789012:other")
    with pytest.raises(UnresolvableError, match="an outside queue"):
        sqs_event_sources(load_template_text(outside))


FIFO = """
Resources:
  Orders:
    Type: AWS::SQS::Queue
    Properties: {FifoQueue: true, ContentBasedDeduplication: true, VisibilityTimeout: 5}
  OrderFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: x.app.handler
      Events:
        Orders: {Type: SQS, Properties: {Queue: !GetAtt Orders.Arn, BatchSize: %s}}
"""


def test_fifo_queues_are_named_fifo_take_batches_of_10_at_most_and_no_window(sqs: Any) -> None:
    queues = create_queues(sqs, load_template_text(FIFO % "10"))
    assert queues["Orders"].name == "local-Orders.fifo"
    assert queues["Orders"].fifo
    with pytest.raises(InvalidEventSourceError, match="BatchSize 11 is out of range: 1 to 10 for a FIFO queue"):
        sqs_event_sources(load_template_text(FIFO % "11"))
    with pytest.raises(InvalidEventSourceError, match="Batching window is not supported for FIFO queues"):
        sqs_event_sources(load_template_text(FIFO % "10, MaximumBatchingWindowInSeconds: 1"))


# ------------------------------------------------------------ the event

def test_the_event_is_lambdas_as_powertools_reads_it(sqs: Any, template: dict[str, Any]) -> None:
    queues = make_queues(sqs, template)
    url = queues["WorkQueue"].url
    [message_id] = send_all(sqs, url, '{"id": "evt_1"}', MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "invoice.paid"},
        "attempt": {"DataType": "Number", "StringValue": "3"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}})
    events: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        events.append(event)
        return process_partial_response(event=event, record_handler=lambda record: None,
                                        processor=BatchProcessor(event_type=EventType.SQS), context=context)

    reports = drain(sqs, url, handler_invoker(handler), source=worker_source(template))
    assert [report.deleted for report in reports] == [(message_id,)]
    [event] = events
    [record] = SqsModel.model_validate(event).Records
    assert record.messageId == message_id
    assert record.body == '{"id": "evt_1"}'
    assert record.md5OfBody == hashlib.md5(b'{"id": "evt_1"}').hexdigest()  # noqa: S324 - SQS's checksum
    assert record.md5OfMessageAttributes
    assert (record.eventSource, record.eventSourceARN, record.awsRegion) == (
        "aws:sqs", queues["WorkQueue"].arn, REGION)
    assert record.attributes.ApproximateReceiveCount == "1"
    assert record.attributes.SenderId
    assert record.messageAttributes["kind"].stringValue == "invoice.paid"
    assert record.messageAttributes["attempt"].dataType == "Number"
    assert record.messageAttributes["raw"].binaryValue == "AP8="  # base64, as Lambda sends binary values
    data_class = next(SQSEvent(event).records)
    assert data_class.queue_url == url
    assert data_class.json_body == {"id": "evt_1"}
    assert set(event["Records"][0]) == {"messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                                        "md5OfBody", "md5OfMessageAttributes", "eventSource", "eventSourceARN",
                                        "awsRegion"}
    assert list(event["Records"][0]["attributes"]) == ["ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                                       "ApproximateFirstReceiveTimestamp"]


def test_a_fifo_record_carries_its_group_sequence_and_deduplication_id(sqs: Any) -> None:
    template = load_template_text(FIFO % "10")
    queues = create_queues(sqs, template)
    url = queues["Orders"].url
    # moto gives a sequence number only to a message sent with its own deduplication id
    sqs.send_message(QueueUrl=url, MessageBody="first", MessageGroupId="tenant-1", MessageDeduplicationId="evt-1")
    records: list[SQSRecord] = []
    drain(sqs, url, handler_invoker(lambda event, context: records.extend(SQSEvent(event).records)),
          source=worker_source(template))
    [record] = records
    assert record.attributes.message_group_id == "tenant-1"
    assert record.attributes.sequence_number
    assert record.attributes.message_deduplication_id == "evt-1"
    assert record.message_attributes == {}
    assert "md5OfMessageAttributes" not in record.raw_event


# ------------------------------------------------------------ deliveries

def test_one_failing_message_of_a_batch_comes_back_alone(sqs: Any, template: dict[str, Any]) -> None:
    url = make_queues(sqs, template)["WorkQueue"].url
    ids = send_all(sqs, url, "a", "fail-once", "c")
    bodies = dict(zip(ids, ["a", "fail-once", "c"], strict=True))

    def record_handler(record: SQSRecord) -> None:
        if record.body == "fail-once" and record.attributes.approximate_receive_count == "1":
            raise ValueError("not yet")

    def handler(event: dict[str, Any], context: Any) -> Any:
        return process_partial_response(event=event, record_handler=record_handler,
                                        processor=BatchProcessor(event_type=EventType.SQS), context=context)

    reports = drain(sqs, url, handler_invoker(handler), source=worker_source(template))
    assert by_body(reports, bodies) == [(["a", "c", "fail-once"], ["fail-once"]), (["fail-once"], [])]
    assert reports[1].receive_counts == (2,)
    assert queue_depth(sqs, url).total == 0


def test_a_message_failing_every_time_ends_in_the_dead_letter_queue_after_max_receive_count(
        sqs: Any, template: dict[str, Any]) -> None:
    queues = make_queues(sqs, template, MaxReceive="3")
    url = queues["WorkQueue"].url
    ids = send_all(sqs, url, "poison", "fine")
    bodies = dict(zip(ids, ["poison", "fine"], strict=True))
    failing = handler_invoker(lambda event, context: {"batchItemFailures": [
        {"itemIdentifier": record["messageId"]} for record in event["Records"] if record["body"] == "poison"]})

    reports = drain(sqs, url, failing, source=worker_source(template))
    assert by_body(reports, bodies) == [(["fine", "poison"], ["poison"]), (["poison"], ["poison"]),
                                        (["poison"], ["poison"])]
    assert [report.receive_counts for report in reports[1:]] == [(2,), (3,)]
    assert received_bodies(sqs, queues["WorkDeadLetterQueue"].url) == ["poison"]
    assert queue_depth(sqs, url).total == 0


def test_a_function_error_deletes_nothing_and_the_whole_batch_comes_back(sqs: Any, template: dict[str, Any]) -> None:
    url = make_queues(sqs, template)["WorkQueue"].url
    ids = send_all(sqs, url, "a", "b")
    calls: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise RuntimeError("the database is down")

    reports = drain(sqs, url, handler_invoker(handler), source=worker_source(template))
    assert (reports[0].outcome, reports[0].deleted, set(reports[0].retried)) == (Outcome.FUNCTION_ERROR, (), set(ids))
    assert "RuntimeError: the database is down" in reports[0].reason
    assert redelivered(reports[1:]) == (set(ids), {2}, set(ids))
    assert all(report.outcome is Outcome.SUCCEEDED for report in reports[1:])


def test_an_in_process_invocation_past_its_timeout_counts_as_timed_out(sqs: Any, template: dict[str, Any]) -> None:
    url = make_queues(sqs, template)["WorkQueue"].url
    send_all(sqs, url, "slow")
    source = worker_source(template)
    messages = receive_batch(sqs, url, source)

    def slow(event: dict[str, Any], context: Any) -> None:
        time.sleep(0.3)

    report = process_batch(sqs, url, queue_arn_of(sqs, url), source, messages,
                           handler_invoker(slow, timeout_seconds=0.1))
    assert (report.outcome, report.deleted) == (Outcome.FUNCTION_TIMEOUT, ())
    assert queue_depth(sqs, url).in_flight == 1


# ------------------------------------------------------ batch responses

MESSAGE_IDS = ("m-1", "m-2")


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}])
def test_complete_successes(response: Any) -> None:
    assert failed_message_ids(response, MESSAGE_IDS) == set()


def test_the_listed_identifiers_failed() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-2"}]}
    assert failed_message_ids(response, MESSAGE_IDS) == {"m-2"}


@pytest.mark.parametrize(("response", "why"), [
    ({"batchItemFailures": [{"itemIdentifier": ""}]}, "empty"),
    ({"batchItemFailures": [{"itemIdentifier": None}]}, "null"),
    ({"batchItemFailures": [{"itemIdentifier": 3}]}, "not a string"),
    ({"batchItemFailures": [{"ItemIdentifier": "m-1"}]}, "without itemIdentifier"),
    ({"batchItemFailures": [{"itemIdentifier": "m-9"}]}, "not a message of the batch"),
    ({"batchItemFailures": ["m-1"]}, "without itemIdentifier"),
    ({"batchItemFailures": "m-1"}, "not a list"),
    ({"batchItemFailures": [{"itemIdentifier": "m-1", "reason": "x"}]}, "keys besides"),
    ({"BatchItemFailures": [{"itemIdentifier": "m-1"}]}, "keys other than"),
    (["m-1"], "not an object"),
    ("m-1", "not an object"),
])
def test_a_malformed_partial_batch_response_is_refused(response: Any, why: str) -> None:
    with pytest.raises(MalformedBatchResponse, match=why):
        failed_message_ids(response, MESSAGE_IDS)


def test_a_malformed_partial_batch_response_fails_the_whole_batch(sqs: Any, template: dict[str, Any]) -> None:
    url = make_queues(sqs, template)["WorkQueue"].url
    ids = send_all(sqs, url, "a", "b", "c")
    malformed_then_fine = returning({"batchItemFailures": [{"itemIdentifier": ids[0]}, {"itemIdentifier": ""}]},
                                    None)
    reports = drain(sqs, url, handler_invoker(malformed_then_fine), source=worker_source(template))
    assert reports[0].complete_failure
    assert set(reports[0].retried) == set(ids)
    assert "malformed partial batch response" in reports[0].reason
    assert redelivered(reports[1:]) == (set(ids), {2}, set(ids))


def test_without_report_batch_item_failures_a_response_is_ignored_and_the_batch_deleted(
        sqs: Any, template: dict[str, Any]) -> None:
    url = make_queues(sqs, template)["WorkQueue"].url
    ids = send_all(sqs, url, "a", "b")
    source = SqsEventSource(function_id="WorkerFunction", queue_id="WorkQueue")  # no FunctionResponseTypes
    logged: list[str] = []
    failing_one = handler_invoker(returning({"batchItemFailures": [{"itemIdentifier": ids[0]}]}))
    reports = drain(sqs, url, failing_one, source=source, log=logged.append)
    assert [set(report.deleted) for report in reports] == [set(ids)]
    assert any("Lambda ignores them and deletes the whole batch" in line for line in logged)


# ------------------------------------------------------------- batching

def test_a_standard_queues_batch_comes_in_no_order_and_a_fifo_queues_in_order(
        sqs: Any, template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("local.sqs.random.shuffle", lambda items: items.reverse())  # a shuffle that shows
    standard = make_queues(sqs, template)["WorkQueue"].url
    send_all(sqs, standard, "1", "2", "3")
    source = SqsEventSource(function_id="F", queue_id="WorkQueue")
    assert [message["Body"] for message in receive_batch(sqs, standard, source)] == ["3", "2", "1"]
    fifo = create_queues(sqs, load_template_text(FIFO % "10"))["Orders"].url
    send_all(sqs, fifo, "1", "2", "3", MessageGroupId="g")
    assert [message["Body"] for message in receive_batch(sqs, fifo, source)] == ["1", "2", "3"]


def test_batches_hold_batch_size_messages_at_most(sqs: Any, template: dict[str, Any]) -> None:
    url = make_queues(sqs, template)["WorkQueue"].url
    send_all(sqs, url, *(f"m{index}" for index in range(7)))
    source = SqsEventSource(function_id="WorkerFunction", queue_id="WorkQueue", batch_size=3)
    reports = drain(sqs, url, handler_invoker(returning(None)), source=source)
    assert sorted(len(report.message_ids) for report in reports) == [1, 3, 3]


def test_a_batching_window_gathers_more_than_one_receive(sqs: Any, template: dict[str, Any]) -> None:
    url = make_queues(sqs, template, Visibility="30")["WorkQueue"].url
    send_all(sqs, url, *(f"m{index}" for index in range(15)))
    source = SqsEventSource(function_id="WorkerFunction", queue_id="WorkQueue", batch_size=100,
                            maximum_batching_window_seconds=1)
    assert len(receive_batch(sqs, url, source)) == 15


def test_a_batch_is_split_to_fit_lambdas_payload_limit(sqs: Any, template: dict[str, Any]) -> None:
    queue = make_queues(sqs, template, Visibility="30")["WorkQueue"]
    send_all(sqs, queue.url, *("x" * 1000 for _ in range(5)))
    messages = receive_batch(sqs, queue.url, SqsEventSource(function_id="F", queue_id="WorkQueue"))
    limit = len(json.dumps(sqs_event(messages[:2], queue.arn))) + 10  # two records fit, not three
    batches = split_batches(messages, queue.arn, limit_bytes=limit)
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert all(len(json.dumps(sqs_event(batch, queue.arn))) <= limit for batch in batches)


def test_drain_gives_up_on_a_message_that_never_leaves(sqs: Any, template: dict[str, Any]) -> None:
    url = sqs.create_queue(QueueName="no-dead-letter-queue", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    send_all(sqs, url, "poison")
    always_failing = handler_invoker(lambda event, context: (_ for _ in ()).throw(RuntimeError("no")))
    with pytest.raises(DrainTimeout) as timed_out:
        drain(sqs, url, always_failing, timeout=1.5)
    assert timed_out.value.reports
    assert all(report.outcome is Outcome.FUNCTION_ERROR for report in timed_out.value.reports)


def test_an_invocation_that_cannot_start_deletes_nothing(sqs: Any, template: dict[str, Any]) -> None:
    url = make_queues(sqs, template)["WorkQueue"].url
    send_all(sqs, url, "a")
    source = worker_source(template)

    def refused(event: dict[str, Any]) -> InvocationResult:
        raise OSError("no execution environment")

    report = process_batch(sqs, url, queue_arn_of(sqs, url), source, receive_batch(sqs, url, source), refused)
    assert (report.outcome, report.deleted) == (None, ())
    assert report.reason == "not invoked: OSError: no execution environment"


# --------------------------------------------------- a gateway, end to end

@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """moto's server app as the local stack serves it (local.dynamodb_server: one request at a time), in a thread
    on a port of its own choosing (two test workers never meet on one port)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from local.dynamodb_server import StrictDynamoDBMiddleware

    server = make_server("127.0.0.1", 0, StrictDynamoDBMiddleware(DomainDispatcherApplication(create_backend_app)),
                         threaded=False)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def server_sqs(moto_server: str) -> Any:
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).close()  # noqa: S310
    return boto3.client("sqs", endpoint_url=moto_server, region_name=REGION, aws_access_key_id="local",
                        aws_secret_access_key="local")


@pytest.fixture
def start_sqs_gateway(tmp_path: Path, moto_server: str, server_sqs: Any,
                      start_gateway_from: Callable[..., Gateway]) -> Callable[..., Gateway]:
    code = tmp_path / "code" / "sqs_pkg"
    code.mkdir(parents=True)
    (code / "__init__.py").write_text("")
    (code / "app.py").write_text(textwrap.dedent(HANDLERS))
    path = write_template(tmp_path)
    environment = {"AWS_ENDPOINT_URL_SQS": moto_server, "AWS_ACCESS_KEY_ID": "local",
                   "AWS_SECRET_ACCESS_KEY": "local", "POWERTOOLS_LOG_LEVEL": "CRITICAL"}

    def start(**parameters: str) -> Gateway:
        return start_gateway_from(path, table_names={}, parameters=parameters, extra_env=environment,
                                  log_requests=False, code_root=tmp_path, sqs_client=server_sqs)

    return start


def seen(sqs: Any, gateway: Gateway) -> list[tuple[str, str]]:
    """What the worker was delivered: (body, ApproximateReceiveCount), sorted."""
    return sorted((record["body"], record["count"])
                  for record in map(json.loads, received_bodies(sqs, gateway.queues["SeenQueue"].url)))


def test_a_gateway_delivers_queued_messages_retries_failures_and_dead_letters_poison(
        start_sqs_gateway: Callable[..., Gateway], server_sqs: Any) -> None:
    # Visibility 5 s: longer than a cold start, so that no message comes back while its first delivery runs.
    gateway = start_sqs_gateway(Visibility="5", Timeout="3", MaxReceive="2")
    for body in ("ok", "fail-once", "poison"):
        reply = send(gateway, "POST", "/send", body=body.encode())
        assert reply.status == 202, reply.raw
    assert reply.json == {"name": "local-WorkQueue", "arn": gateway.queues["WorkQueue"].arn}
    assert gateway.wait_for_queues(60), gateway.queue_listing()
    assert seen(server_sqs, gateway) == [("fail-once", "1"), ("fail-once", "2"), ("ok", "1"), ("poison", "1"),
                                         ("poison", "2")]
    listing = send(gateway, "GET", "/_local/queues")
    assert listing.status == 200
    queues = listing.json["queues"]
    assert (queues["WorkQueue"]["visible"], queues["WorkQueue"]["in_flight"]) == (0, 0)
    assert queues["WorkQueue"]["dead_letter_queue"] == "WorkDeadLetterQueue"
    assert queues["WorkDeadLetterQueue"]["visible"] == 1
    [source] = queues["WorkQueue"]["event_sources"]
    assert (source["function_id"], source["deleted"], source["in_flight_batches"]) == ("WorkerFunction", 2, 0)
    assert received_bodies(server_sqs, gateway.queues["WorkDeadLetterQueue"].url) == ["poison"]
    assert send(gateway, "POST", "/_local/queues/wait?timeout=5").status == 200
    assert all(report.function_id == "WorkerFunction" for report in gateway.batch_reports())


def test_a_batch_whose_function_times_out_comes_back_whole(start_sqs_gateway: Callable[..., Gateway],
                                                           server_sqs: Any) -> None:
    gateway = start_sqs_gateway(Visibility="4", Timeout="1")  # 4 s: a cold start never outlasts it
    server_sqs.send_message(QueueUrl=gateway.queues["WorkQueue"].url, MessageBody="slow-once")
    assert gateway.wait_for_queues(60), gateway.queue_listing()
    reports = gateway.batch_reports("WorkerFunction")
    assert [(report.outcome, report.receive_counts) for report in reports] == [
        (Outcome.FUNCTION_TIMEOUT, (1,)), (Outcome.SUCCEEDED, (2,))]
    assert "Task timed out after 1.00 seconds" in reports[0].reason


def test_a_gateway_refuses_a_visibility_timeout_below_the_functions_timeout(
        start_sqs_gateway: Callable[..., Gateway]) -> None:
    with pytest.raises(InvalidEventSourceError, match="Queue visibility timeout: 2 seconds is less than Function "
                                                      "timeout: 3 seconds"):
        start_sqs_gateway(Visibility="2", Timeout="3")


def test_the_queues_endpoint_needs_an_sqs_client(tmp_path: Path, start_gateway_from: Callable[..., Gateway]) -> None:
    gateway = start_gateway_from(write_template(tmp_path), table_names={}, parameters={}, extra_env={},
                                 log_requests=False, code_root=tmp_path)
    assert gateway.pollers == []
    assert gateway.queues["WorkQueue"].url.endswith("/123456789012/local-WorkQueue")  # named, not created
    reply = send(gateway, "GET", "/_local/queues")
    assert reply.status == 503
    assert "no SQS client" in reply.json["message"]
