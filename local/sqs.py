"""Lambda's SQS event source mapping, locally, against moto's SQS (its server, or `mock_aws` in-process).

What Lambda does with an SQS event of a function, and this module does the same way:

- It receives up to BatchSize messages (ReceiveMessage takes at most 10 at a time; with a
  MaximumBatchingWindowInSeconds it goes on receiving until the batch is full, the window is over or
  the event would pass Lambda's 6 MB payload limit), all system and message attributes asked for,
  under the queue's own visibility timeout.
- A standard queue promises no order: the records of a batch are shuffled (a FIFO queue's keep SQS's
  order), so that code relying on the order it was sent in fails here as it would, sometimes, on AWS.
- It invokes the function synchronously with the event Lambda sends (`sqs_event`: Records of
  messageId, receiptHandle, body, attributes, messageAttributes in Lambda's camelCase shape,
  md5OfBody, md5OfMessageAttributes when there are attributes, eventSource, eventSourceARN, awsRegion).
- A function error or timeout deletes nothing: every message of the batch comes back once its
  visibility timeout is over.
- Success without ReportBatchItemFailures deletes the whole batch, whatever the function returned
  (a batchItemFailures answer is then ignored, as Lambda ignores it; the console says so).
- Success with ReportBatchItemFailures deletes every message but those whose messageId is an
  `itemIdentifier` of `batchItemFailures`. No answer (null), {} and an empty or null list are complete
  successes. A response Lambda cannot read fails the whole batch: an itemIdentifier that is empty,
  null, not a string or not a message of the batch, an entry without the itemIdentifier key. Stricter
  than Lambda's documented rules, and on purpose: a response that is not an object, or an object with
  keys other than batchItemFailures, or an entry with keys besides itemIdentifier, fails the batch too.
- Redrive: moto's SQS itself moves a message to the queue's dead-letter queue when a ReceiveMessage finds
  it visible again after maxReceiveCount receives (moto.sqs.models.SQSBackend.receive_message), as SQS
  does; the poller enforces nothing of its own. The move happens at the next receive after the last
  failure's visibility timeout.

Polling is short (WaitTimeSeconds 0, then POLL_INTERVAL_SECONDS of sleep when the queue is empty)
where Lambda long-polls: the local moto server answers one request at a time (local.dynamodb_server), so
a long poll would hold every DynamoDB call of the stack behind it. Up to DEFAULT_CONCURRENCY batches
(ScalingConfig.MaximumConcurrency when the event sets it) are in flight at once, as Lambda starts its
pollers, so a function meets concurrent batches locally too.

`EventSourcePoller` runs one event source on a gateway (invoking through LambdaService.submit);
`drain` runs the same batch logic synchronously, for in-process tests under `mock_aws`, with
`handler_invoker` to call a handler as Lambda would.
"""

from __future__ import annotations

import base64
import json
import random
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from local.apigw import LambdaContext
from local.lambda_runtime import InvocationResult, Outcome
from local.template import FIFO_SUFFIX, LOCAL_REGION, SqsEventSource

MAX_MESSAGES_PER_RECEIVE = 10  # ReceiveMessage's MaxNumberOfMessages limit
# Lambda's payload limit for a synchronous invocation: a batch stops growing there.
INVOCATION_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
POLL_INTERVAL_SECONDS = 0.1
DEFAULT_CONCURRENCY = 5  # Lambda starts an SQS event source with five concurrent batches
REPORTS_KEPT = 1000
# The system attributes Lambda puts in a record's attributes, in its order.
LAMBDA_RECORD_ATTRIBUTES = ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
                            "SequenceNumber", "MessageGroupId", "MessageDeduplicationId", "AWSTraceHeader",
                            "DeadLetterQueueSourceArn")
BATCH_ITEM_FAILURES = "batchItemFailures"
ITEM_IDENTIFIER = "itemIdentifier"

Message = dict[str, Any]  # one message as boto3's receive_message gives it
Invoke = Callable[[dict[str, Any]], InvocationResult]  # a synchronous invocation of the function with an event
Submit = Callable[[str, Any, str], "Future[InvocationResult]"]  # LambdaService.submit(function_id, event, request_id)
Log = Callable[[str], None]


def _console(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ events

def sqs_record(message: Message, queue_arn: str) -> dict[str, Any]:
    """One record of Lambda's SQS event, from a message as ReceiveMessage returned it."""
    attributes = message.get("Attributes") or {}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: attributes[name] for name in LAMBDA_RECORD_ATTRIBUTES if name in attributes},
        "messageAttributes": {name: _message_attribute(value)
                              for name, value in (message.get("MessageAttributes") or {}).items()},
        "md5OfBody": message["MD5OfBody"],
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record |= {"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": _region_of(queue_arn)}
    return record


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    # Lambda's shape: camelCase, binary values base64-encoded, the list values always present.
    shaped: dict[str, Any] = {}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shaped["binaryValue"] = _base64(value["BinaryValue"])
    shaped["stringListValues"] = list(value.get("StringListValues") or [])
    shaped["binaryListValues"] = [_base64(item) for item in value.get("BinaryListValues") or []]
    shaped["dataType"] = value["DataType"]
    return shaped


def _base64(value: bytes | str) -> str:
    return base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode()


def _region_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else LOCAL_REGION


def sqs_event(messages: Iterable[Message], queue_arn: str) -> dict[str, Any]:
    """The event Lambda invokes the function with for a batch."""
    return {"Records": [sqs_record(message, queue_arn) for message in messages]}


def split_batches(messages: Sequence[Message], queue_arn: str,
                  limit_bytes: int = INVOCATION_PAYLOAD_LIMIT_BYTES) -> list[list[Message]]:
    """The messages as invocations whose events each fit Lambda's payload limit."""
    batches: list[list[Message]] = []
    current: list[Message] = []
    size = len(b'{"Records": []}')
    for message in messages:
        record_size = len(json.dumps(sqs_record(message, queue_arn)).encode()) + 2
        if current and size + record_size > limit_bytes:
            batches.append(current)
            current, size = [], len(b'{"Records": []}')
        current.append(message)
        size += record_size
    if current:
        batches.append(current)
    return batches


# --------------------------------------------------------------- receiving

def receive_batch(client: Any, queue_url: str, source: SqsEventSource, *,
                  poll_interval: float = POLL_INTERVAL_SECONDS, stop: threading.Event | None = None,
                  limit_bytes: int = INVOCATION_PAYLOAD_LIMIT_BYTES) -> list[Message]:
    """One batch as Lambda gathers it: up to BatchSize messages, received 10 at a time for as long as the
    batching window lasts; [] when the queue has nothing visible. A standard queue's come in no particular
    order (shuffled), a FIFO queue's in SQS's order."""
    window_ends = time.monotonic() + source.maximum_batching_window_seconds
    gathered: dict[str, Message] = {}  # by message id: a message seen twice keeps its latest receipt
    size = 0
    while True:
        wanted = min(MAX_MESSAGES_PER_RECEIVE, source.batch_size - len(gathered))
        received = client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=wanted, WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages") or []
        for message in received:
            gathered[message["MessageId"]] = message
            size += len(message["Body"].encode())
        if not gathered or len(gathered) >= source.batch_size or size >= limit_bytes:
            break
        remaining = window_ends - time.monotonic()
        if remaining <= 0:
            break
        if len(received) < wanted:  # nothing more visible now: wait for more while the window lasts
            pause = min(poll_interval, remaining)
            if stop is not None:
                if stop.wait(pause):
                    break
            else:
                time.sleep(pause)
    batch = list(gathered.values())
    if not queue_url.endswith(FIFO_SUFFIX):
        random.shuffle(batch)
    return batch


# moto computes a queue's counts one after the other: a message whose visibility timeout ends in between is
# neither visible nor in flight in that answer (SQS's counts are approximate too). A queue is taken for empty
# only after this many answers in a row said so, POLL_INTERVAL_SECONDS apart.
EMPTY_READINGS = 2


@dataclass(frozen=True)
class QueueDepth:
    visible: int  # ApproximateNumberOfMessages
    in_flight: int  # ApproximateNumberOfMessagesNotVisible: received, neither deleted nor visible again yet
    delayed: int  # ApproximateNumberOfMessagesDelayed

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


def queue_depth(client: Any, queue_url: str) -> QueueDepth:
    attributes = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed"])["Attributes"]
    return QueueDepth(visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
                      in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                      delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)))


def queue_arn_of(client: Any, queue_url: str) -> str:
    arn: str = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return arn


# ----------------------------------------------------------- the response

class MalformedBatchResponse(ValueError):
    """A partial batch response Lambda cannot read: the whole batch is then a failure."""


def failed_message_ids(response: Any, message_ids: Sequence[str]) -> set[str]:
    """The messages a partial batch response (ReportBatchItemFailures) reports failed; MalformedBatchResponse
    when the whole batch counts as failed."""
    if response is None:
        return set()
    if not isinstance(response, dict):
        raise MalformedBatchResponse(f"the response is not an object but {_short(response)}")
    unknown = sorted(set(response) - {BATCH_ITEM_FAILURES})
    if unknown:
        raise MalformedBatchResponse(f"keys other than {BATCH_ITEM_FAILURES}: {', '.join(unknown)}")
    failures = response.get(BATCH_ITEM_FAILURES)
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise MalformedBatchResponse(f"{BATCH_ITEM_FAILURES} is not a list but {_short(failures)}")
    batch = set(message_ids)
    failed = set()
    for failure in failures:
        if not isinstance(failure, dict) or ITEM_IDENTIFIER not in failure:
            raise MalformedBatchResponse(f"an entry without {ITEM_IDENTIFIER}: {_short(failure)}")
        if set(failure) != {ITEM_IDENTIFIER}:
            raise MalformedBatchResponse(f"an entry with keys besides {ITEM_IDENTIFIER}: {_short(failure)}")
        identifier = failure[ITEM_IDENTIFIER]
        if not isinstance(identifier, str) or not identifier:
            raise MalformedBatchResponse(f"{ITEM_IDENTIFIER} is empty, null or not a string: {_short(failure)}")
        if identifier not in batch:
            raise MalformedBatchResponse(f"{ITEM_IDENTIFIER} {identifier!r} is not a message of the batch")
        failed.add(identifier)
    return failed


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


# ------------------------------------------------------------- settling

@dataclass(frozen=True)
class BatchReport:
    """What became of one batch."""

    function_id: str
    message_ids: tuple[str, ...]
    receive_counts: tuple[int, ...]  # each message's ApproximateReceiveCount in this delivery
    outcome: Outcome | None  # the invocation's; None when the function was never invoked
    deleted: tuple[str, ...]
    retried: tuple[str, ...]  # left on the queue: delivered again after the visibility timeout
    reason: str = ""  # why messages were retried: the function's error, or why its response was refused

    @property
    def complete_failure(self) -> bool:
        return bool(self.retried) and not self.deleted


def settle(client: Any, queue_url: str, source: SqsEventSource, messages: Sequence[Message],
           result: InvocationResult | None, *, not_invoked: str = "", log: Log = _console) -> BatchReport:
    """Delete what Lambda deletes after the invocation, leave the rest to come back."""
    ids = [message["MessageId"] for message in messages]
    failed: set[str]
    reason = ""
    if result is None:
        failed, reason = set(ids), f"not invoked: {not_invoked}"
    elif result.outcome is not Outcome.SUCCEEDED:
        failed, reason = set(ids), f"{result.outcome.value}: {result.error}"
    elif source.reports_batch_item_failures:
        try:
            failed = failed_message_ids(result.payload, ids)
        except MalformedBatchResponse as malformed:
            failed, reason = set(ids), f"malformed partial batch response, the whole batch fails: {malformed}"
        else:
            reason = f"{len(failed)} reported in {BATCH_ITEM_FAILURES}" if failed else ""
    else:
        failed = set()
        if isinstance(result.payload, dict) and result.payload.get(BATCH_ITEM_FAILURES):
            log(f"{source.function_id}: returned {BATCH_ITEM_FAILURES} but its SQS event {source.event_id} has no "
                f"FunctionResponseTypes: [ReportBatchItemFailures]: Lambda ignores them and deletes the whole batch")
    succeeded = [message for message in messages if message["MessageId"] not in failed]
    deleted = delete_messages(client, queue_url, succeeded, log=log)
    report = BatchReport(
        function_id=source.function_id, message_ids=tuple(ids),
        receive_counts=tuple(int((message.get("Attributes") or {}).get("ApproximateReceiveCount", 0))
                             for message in messages),
        outcome=None if result is None else result.outcome, deleted=tuple(deleted),
        retried=tuple(message_id for message_id in ids if message_id not in deleted), reason=reason)
    if report.retried:
        log(f"{source.function_id} (SQS {source.queue_id}): {len(report.retried)} of {len(ids)} messages will be "
            f"delivered again after the visibility timeout: {reason}")
    return report


def delete_messages(client: Any, queue_url: str, messages: Sequence[Message], *, log: Log = _console) -> list[str]:
    """DeleteMessageBatch, 10 at a time; the ids deleted (a failed deletion is logged: the message comes back)."""
    deleted: list[str] = []
    for start in range(0, len(messages), MAX_MESSAGES_PER_RECEIVE):
        chunk = messages[start:start + MAX_MESSAGES_PER_RECEIVE]
        answer = client.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]} for index, message in enumerate(chunk)])
        for success in answer.get("Successful") or []:
            deleted.append(chunk[int(success["Id"])]["MessageId"])
        for failure in answer.get("Failed") or []:
            log(f"deleting message {chunk[int(failure['Id'])]['MessageId']} failed: {failure.get('Code')} "
                f"{failure.get('Message', '')}")
    return deleted


def process_batch(client: Any, queue_url: str, queue_arn: str, source: SqsEventSource, messages: Sequence[Message],
                  invoke: Invoke, *, log: Log = _console) -> BatchReport:
    """Invoke the function with the batch, then settle it: the whole of one delivery, synchronously."""
    try:
        result = invoke(sqs_event(messages, queue_arn))
    except Exception as error:  # the invocation could not even start
        return settle(client, queue_url, source, messages, None, not_invoked=f"{type(error).__name__}: {error}",
                      log=log)
    return settle(client, queue_url, source, messages, result, log=log)


# ---------------------------------------------------------------- in-process

class DrainTimeout(TimeoutError):
    """The queue still held messages when the time ran out; `reports` holds the batches processed."""

    def __init__(self, message: str, reports: list[BatchReport]) -> None:
        super().__init__(message)
        self.reports = reports


def drain(client: Any, queue_url: str, invoke: Invoke, *, source: SqsEventSource | None = None,
          timeout: float = 60.0, poll_interval: float = POLL_INTERVAL_SECONDS,
          log: Log = _console) -> list[BatchReport]:
    """Deliver the queue's messages to `invoke` batch by batch, as the event source mapping does, until the queue
    is empty (failed messages are waited for until they are visible again, or moved to the dead-letter queue by
    SQS). Synchronous, one batch at a time: for tests under mock_aws. `source` gives the batch settings (its
    function_id only names the function in reports); by default a batch of 10, no window, no partial batch
    responses. DrainTimeout if messages are left after `timeout` seconds."""
    source = source or SqsEventSource(function_id="in-process", queue_id=queue_url.rsplit("/", 1)[-1])
    queue_arn = queue_arn_of(client, queue_url)
    reports: list[BatchReport] = []
    deadline = time.monotonic() + timeout
    empty_readings = 0
    while True:
        messages = receive_batch(client, queue_url, source, poll_interval=poll_interval)
        for batch in split_batches(messages, queue_arn):
            reports.append(process_batch(client, queue_url, queue_arn, source, batch, invoke, log=log))
        empty = not messages and queue_depth(client, queue_url).total == 0
        empty_readings = empty_readings + 1 if empty else 0
        if empty_readings >= EMPTY_READINGS:
            return reports
        if time.monotonic() > deadline:
            depth = queue_depth(client, queue_url)
            raise DrainTimeout(f"{queue_url} not drained in {timeout} s: {depth}", reports)
        if not messages:
            time.sleep(poll_interval)


def handler_invoker(handler: Callable[[dict[str, Any], Any], Any], *, function_name: str = "in-process",
                    timeout_seconds: float = 60.0) -> Invoke:
    """An Invoke calling `handler` in-process as Lambda would: the event and the result as JSON, an exception a
    function error, and an invocation that outlasted `timeout_seconds` a timeout (its result thrown away, as
    Lambda kills a function at its Timeout; here it can only be noticed afterwards)."""

    def invoke(event: dict[str, Any]) -> InvocationResult:
        context = LambdaContext(function_name=function_name, timeout_seconds=timeout_seconds)
        started = time.monotonic()
        try:
            payload = handler(json.loads(json.dumps(event)), context)
        except Exception as error:
            traceback.print_exception(error, file=sys.stderr)
            return InvocationResult(Outcome.FUNCTION_ERROR, error=f"{type(error).__name__}: {error}")
        if time.monotonic() - started > timeout_seconds:
            return InvocationResult(Outcome.FUNCTION_TIMEOUT,
                                    error=f"Task timed out after {timeout_seconds:.2f} seconds")
        try:
            return InvocationResult(Outcome.SUCCEEDED, payload=json.loads(json.dumps(payload)))
        except (TypeError, ValueError) as error:
            return InvocationResult(Outcome.FUNCTION_ERROR, error=f"Runtime.MarshalError: {error}")

    return invoke


# ------------------------------------------------------------ on a gateway

class EventSourcePoller:
    """One SQS event source of a running gateway: a thread receives batches and submits each to the function
    (through LambdaService.submit: its execution environments and Timeout), up to `concurrency` batches in
    flight; each is settled when its invocation ends."""

    def __init__(self, client: Any, source: SqsEventSource, queue_url: str, submit: Submit, *,
                 concurrency: int | None = None, poll_interval: float = POLL_INTERVAL_SECONDS,
                 log: Log = _console) -> None:
        self.client = client
        self.source = source
        self.queue_url = queue_url
        self.concurrency = concurrency or source.maximum_concurrency or DEFAULT_CONCURRENCY
        self.poll_interval = poll_interval
        self._submit = submit
        self._log = log
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._busy = 0  # receives under way and batches not settled yet
        self._reports: deque[BatchReport] = deque(maxlen=REPORTS_KEPT)
        self._counts = {"batches": 0, "deleted": 0, "retried": 0}
        self._thread: threading.Thread | None = None
        self._queue_arn = ""

    # -- lifecycle

    def start(self) -> None:
        if self._thread is not None:
            return
        self._queue_arn = queue_arn_of(self.client, self.queue_url)
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"sqs-{self.source.function_id}-{self.source.event_id}")
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop receiving. Batches in flight end with their invocations (the gateway closing its functions ends
        them at once: their messages are then not deleted, and come back)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- what tests and the gateway read

    @property
    def reports(self) -> list[BatchReport]:
        with self._changed:
            return list(self._reports)

    def counts(self) -> dict[str, int]:
        with self._changed:
            return {**self._counts, "in_flight_batches": self._busy}

    def wait_idle(self, timeout: float) -> bool:
        """True once the queue holds no message (visible, in flight or delayed) and no batch is being received
        or settled; False if that did not happen within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        idle_readings = 0
        while True:
            idle_readings = idle_readings + 1 if self._idle() else 0
            if idle_readings >= EMPTY_READINGS:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._changed:
                self._changed.wait(min(self.poll_interval, remaining))

    def _idle(self) -> bool:
        with self._changed:
            if self._busy:
                return False
        if queue_depth(self.client, self.queue_url).total:
            return False
        with self._changed:
            return self._busy == 0

    # -- the poller's thread

    def _run(self) -> None:
        while not self._stopping.is_set():
            if not self._slots.acquire(timeout=self.poll_interval):
                continue
            self._enter()
            try:
                messages = receive_batch(self.client, self.queue_url, self.source, poll_interval=self.poll_interval,
                                         stop=self._stopping)
            except Exception as error:  # the server is gone or refused: try again a little later
                self._leave()
                if not self._stopping.is_set():
                    self._log(f"{self.source.function_id}: ReceiveMessage on {self.queue_url} failed: {error}")
                self._stopping.wait(1.0)
                continue
            if not messages:
                self._leave()
                self._stopping.wait(self.poll_interval)
                continue
            for index, batch in enumerate(split_batches(messages, self._queue_arn)):
                if index and not self._take_slot():
                    break  # stopping: what was received and not invoked comes back after its visibility timeout
                self._dispatch(batch)

    def _take_slot(self) -> bool:
        while not self._stopping.is_set():
            if self._slots.acquire(timeout=self.poll_interval):
                self._enter()
                return True
        return False

    def _enter(self) -> None:
        with self._changed:
            self._busy += 1

    def _leave(self) -> None:
        with self._changed:
            self._busy -= 1
            self._changed.notify_all()
        self._slots.release()

    def _dispatch(self, batch: list[Message]) -> None:
        try:
            future = self._submit(self.source.function_id, sqs_event(batch, self._queue_arn), str(uuid.uuid4()))
        except Exception as error:
            self._finish(batch, None, f"{type(error).__name__}: {error}")
            return
        future.add_done_callback(lambda done: self._finish(batch, *_result_of(done)))

    def _finish(self, batch: list[Message], result: InvocationResult | None, not_invoked: str) -> None:
        quiet = self._stopping.is_set()  # a gateway closing ends invocations: not worth a line each
        try:
            report = settle(self.client, self.queue_url, self.source, batch, result, not_invoked=not_invoked,
                            log=(lambda line: None) if quiet else self._log)
        except Exception as error:  # SQS unreachable: nothing was deleted that the report could tell
            if not quiet:
                self._log(f"{self.source.function_id}: settling a batch failed: {error}")
            report = BatchReport(self.source.function_id, tuple(message["MessageId"] for message in batch), (),
                                 None if result is None else result.outcome, (),
                                 tuple(message["MessageId"] for message in batch), f"settling failed: {error}")
        with self._changed:
            self._reports.append(report)
            self._counts["batches"] += 1
            self._counts["deleted"] += len(report.deleted)
            self._counts["retried"] += len(report.retried)
        self._leave()


def _result_of(future: Future[InvocationResult]) -> tuple[InvocationResult | None, str]:
    try:
        return future.result(), ""
    except Exception as error:  # PoolClosed (the gateway is closing), cancelled, or the pool's thread failed
        return None, f"{type(error).__name__}: {error}"
