"""Delivering Stripe's recorded events to the webhook route in-process, and running the worker
on what it queued, as the SQS event source would (tests of issue: Stripe webhooks)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import stripe

from local.apigw import LambdaContext
from local.invoke import Reply, cold_start, invoke
from local.sqs import sqs_event
from local.stripe_emulator.webhooks import signature_header

SECRETS = {"live": os.environ["STRIPE_LIVE_WEBHOOK_SECRET"], "test": os.environ["STRIPE_TEST_WEBHOOK_SECRET"]}
WEBHOOK = "/v1/webhooks/stripe"


def events_of(client: stripe.StripeClient, *, types: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every event the account recorded, oldest first, as Stripe sends them (the JSON as is)."""
    wanted = set(types) if types else None
    listed: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = json.loads(client.raw_request("get", "/v1/events", **params).body)
        listed += page["data"]
        if not page["has_more"]:
            break
        params["starting_after"] = page["data"][-1]["id"]
    listed.reverse()
    return [event for event in listed if wanted is None or event["type"] in wanted]


def deliver(event: dict[str, Any] | str, *, account: str | None = None, age_seconds: int = 0,
            secret: str | None = None, signature: str | None = None) -> Reply:
    payload = event if isinstance(event, str) else json.dumps(event)
    if signature is None:
        signed_by = account or ("live" if json.loads(payload).get("livemode") else "test")
        signature = signature_header(payload, secret or SECRETS[signed_by], int(time.time()) - age_seconds)
    return invoke("POST", WEBHOOK, body=payload, headers={"Stripe-Signature": signature} if signature else {})


@dataclass
class Queues:
    sqs: Any
    url: str

    def receive(self, limit: int = 10) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=limit, AttributeNames=["All"],
                                       MessageAttributeNames=["All"])
        return list(got.get("Messages", []))

    def depth(self) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages",
                                                                                         "ApproximateNumberOfMessagesNotVisible"])
        values = attributes["Attributes"]
        return int(values["ApproximateNumberOfMessages"]) + int(values["ApproximateNumberOfMessagesNotVisible"])


def run_worker(queues: Queues, queue_arn: str) -> list[dict[str, Any]]:
    """Receive what is queued and apply it (deleting what succeeded), until the queue is empty;
    the batch item failures of each invocation."""
    from webhooks import apply_events

    failures: list[dict[str, Any]] = []
    while messages := queues.receive():
        result = apply_events.handler(sqs_event(messages, queue_arn), context("StripeEventsWorkerFunction", 60))
        failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
        failures += result["batchItemFailures"]
        for message in messages:
            if message["MessageId"] not in failed:
                queues.sqs.delete_message(QueueUrl=queues.url, ReceiptHandle=message["ReceiptHandle"])
        if failed:
            break
    return failures


def stripe_client(account: str) -> stripe.StripeClient:
    """The SDK on the emulator the tests run (tests/conftest.py points STRIPE_API_BASE at it)."""
    key = "sk_live_emulator" if account == "live" else "sk_test_emulator"
    return stripe.StripeClient(key, base_addresses={"api": os.environ["STRIPE_API_BASE"]})


def context(function_name: str, timeout_seconds: int) -> Any:
    """A Lambda context for a handler called in-process (its timeout bounds the deadline)."""
    return LambdaContext(function_name=function_name, timeout_seconds=timeout_seconds)


def make_queue() -> tuple[Queues, str]:
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    # No visibility timeout: a message a test's worker fails is there again for the next receive.
    url = sqs.create_queue(QueueName="stripe-events", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    os.environ["STRIPE_EVENTS_QUEUE_URL"] = url
    cold_start()
    return Queues(sqs, url), arn
