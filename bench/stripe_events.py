"""`make bench`, Stripe events section: what one Stripe event costs on its way through.

A live tenant goes through what Stripe does to subscriptions and money (cancel flags, the trial
ending, a declined then a paid invoice, a schedule made and released, a voided and an uncollectible
invoice, a cancel, the customer deleted). After each step, each new event is delivered, signed, to
the webhook route, then delivered again (a duplicate), then applied by the worker from the SQS
message the route queued, one message per invocation so that each count belongs to one event. Calls
are counted at botocore (DynamoDB, SQS) and at the Stripe SDK's HTTP client; moto in-process and the
Stripe emulator. Counts only: nothing here passes or fails on time.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.calls import counting_calls
from bench.tenants import local_stack

WEBHOOK = "/v1/webhooks/stripe"
SECRET = "whsec_bench"  # noqa: S105 - the bench's own
ROUTE_AIM = (1, 1, 0)  # DynamoDB, SQS and Stripe calls per first delivery


@dataclass
class EventCost:
    route: tuple[int, int, int]  # DynamoDB, SQS, Stripe calls of the first delivery
    duplicate: tuple[int, int, int]  # the same, delivered again
    worker: tuple[int, int]  # DynamoDB and Stripe calls applying it (0, 0 when never queued)
    result: str  # what the worker made of it, or "not followed" (the route queued nothing)
    seen: int = 1  # events of this type; the row shows the one the worker spent most on


def _split(counts: Counter[str]) -> tuple[int, int, int]:
    dynamodb = sum(n for name, n in counts.items() if name.startswith("dynamodb:"))
    sqs = sum(n for name, n in counts.items() if name.startswith("sqs:"))
    return dynamodb, sqs, counts["stripe"]


def _deliver(event: dict[str, Any]) -> tuple[int, int, int]:
    from local.invoke import invoke
    from local.stripe_emulator.webhooks import signature_header

    payload = json.dumps(event)
    signature = signature_header(payload, SECRET, int(time.time()))
    with counting_calls() as counts:
        reply = invoke("POST", WEBHOOK, body=payload, headers={"Stripe-Signature": signature})
    if reply.status != 200:
        raise RuntimeError(f"the webhook refused {event['id']}: {reply.status} {reply.body}")
    return _split(counts)


class Worker:
    """The worker's record handler run on the queue's messages one at a time, as the SQS event source
    hands them over, so that each count belongs to one event."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs, self.queue_url = sqs, queue_url
        self.arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def apply_all(self) -> dict[str, tuple[tuple[int, int], str]]:
        """Per event id: the worker's DynamoDB and Stripe calls, and what it made of the event."""
        from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

        from local.sqs import sqs_record
        from webhooks import apply_events

        applied: dict[str, tuple[tuple[int, int], str]] = {}
        while messages := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=1,
                                                   AttributeNames=["All"]).get("Messages"):
            record = SQSRecord(sqs_record(messages[0], self.arn))
            with counting_calls() as counts:
                result = apply_events.apply_record(record)
            dynamodb, _, stripe_calls = _split(counts)
            applied[json.loads(record.body)["id"]] = ((dynamodb, stripe_calls), result)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
        return applied


class Billing:
    """What Stripe (or an admin through the product) does to tenants' subscriptions and invoices."""

    def __init__(self, client: Any, invoke: Callable[..., Any], admin_key: str) -> None:
        self.client, self.invoke, self.admin_key = client, invoke, admin_key
        self.tenants: dict[str, Any] = {}

    def create(self, name: str) -> None:
        from saas_core.repositories import tenants

        created = self.invoke("POST", "/v1/admin/tenants", api_key=self.admin_key, body={
            "name": f"Bench {name}", "email": f"{name}@bench.example", "type": "organization",
            "plan_id": "pln_business", "billing_cycle": "monthly", "owner_user_id": f"user-{name}"})
        self.tenants[name] = tenants.require(created.data["id"])

    def _subscription(self, name: str) -> str:
        return str(self.tenants[name].subscription.id)

    def update(self, name: str, **params: Any) -> None:
        self.client.v1.subscriptions.update(self._subscription(name), params)

    def open_invoice(self, name: str) -> str:
        listed = self.client.v1.invoices.list({"subscription": self._subscription(name), "status": "open"})
        return str(listed.data[0].id)

    def declined_payment(self, name: str) -> None:
        import stripe

        card = self.client.v1.payment_methods.attach("pm_card_chargeCustomerFail",
                                                     {"customer": self.tenants[name].stripe_customer_id})
        with contextlib.suppress(stripe.CardError):  # declined: what the step is for
            self.client.v1.invoices.pay(self.open_invoice(name), {"payment_method": card.id})

    def change_plan(self, name: str, cycle: str) -> None:
        """Through the product: annual starts at period end (a schedule), monthly drops that again."""
        self.invoke("PUT", f"/v1/admin/tenants/{self.tenants[name].id}/subscription", api_key=self.admin_key,
                    body={"plan_id": "pln_pro", "billing_cycle": cycle})

    def steps(self) -> list[Callable[[], Any]]:
        invoices = self.client.v1.invoices
        return [
            lambda: self.create("a"),
            lambda: self.update("a", cancel_at_period_end=True),
            lambda: self.update("a", cancel_at_period_end=False),
            lambda: self.update("a", trial_end="now"),
            lambda: self.declined_payment("a"),
            lambda: invoices.pay(self.open_invoice("a"), {"paid_out_of_band": True}),
            lambda: self.change_plan("a", "annual"),
            lambda: self.change_plan("a", "monthly"),
            lambda: self.create("b"),
            lambda: self.update("b", trial_end="now"),
            lambda: invoices.void_invoice(self.open_invoice("b")),
            lambda: self.create("c"),
            lambda: self.update("c", trial_end="now"),
            lambda: invoices.mark_uncollectible(self.open_invoice("c")),
            lambda: self.client.v1.subscriptions.cancel(self._subscription("a")),
            lambda: self.client.v1.customers.delete(self.tenants["a"].stripe_customer_id),
        ]


def _new_events(client: Any, seen: set[str]) -> list[dict[str, Any]]:
    page = json.loads(client.raw_request("get", "/v1/events", limit=100).body)
    fresh = [event for event in reversed(page["data"]) if event["id"] not in seen]
    seen.update(event["id"] for event in fresh)
    return fresh


def measure(env: Mapping[str, str]) -> dict[str, EventCost]:
    """The cost of the first event of each type the steps make."""
    os.environ.update({**env, "STRIPE_LIVE_WEBHOOK_SECRET": SECRET, "STRIPE_TEST_WEBHOOK_SECRET": SECRET + "_test"})
    with local_stack(env):
        import boto3
        import stripe

        from local.invoke import cold_start, invoke

        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="stripe-events")["QueueUrl"]
        os.environ["STRIPE_EVENTS_QUEUE_URL"] = queue_url
        cold_start()
        worker = Worker(sqs, queue_url)
        client = stripe.StripeClient("sk_live_bench", base_addresses={"api": os.environ["STRIPE_API_BASE"]})
        billing = Billing(client, invoke, env["ADMIN_API_KEY"])
        costs: dict[str, EventCost] = {}
        seen: set[str] = set()
        for step in billing.steps():
            step()
            delivered = {event["id"]: (event["type"], _deliver(event), _deliver(event))
                         for event in _new_events(client, seen)}
            applied = worker.apply_all()
            for event_id, (event_type, first, again) in delivered.items():
                worker_calls, result = applied.get(event_id, ((0, 0), "not followed"))
                _keep_costliest(costs, event_type, EventCost(first, again, worker_calls, result))
        return costs


def _keep_costliest(costs: dict[str, EventCost], event_type: str, cost: EventCost) -> None:
    kept = costs.get(event_type)
    if kept is None:
        costs[event_type] = cost
        return
    if sum(cost.worker) > sum(kept.worker):
        cost.seen, costs[event_type] = kept.seen + 1, cost
    else:
        kept.seen += 1


def stripe_event_costs(env: Mapping[str, str]) -> None:
    costs = measure(env)
    print("\nStripe events: calls per event (moto in-process, Stripe emulator)")
    print(f"  the webhook route aims at {ROUTE_AIM[0]} DynamoDB write and {ROUTE_AIM[1]} queue send, no Stripe call;"
          " a duplicate at 1 refused write, no send; a type not followed at nothing\n")
    print(f"{'event type':40} {'seen':>4} {'route ddb':>9} {'sqs':>4} {'stripe':>6} {'dup ddb':>8} {'sqs':>4}"
          f" {'worker ddb':>10} {'stripe':>6}  result (the costliest of its type)")
    for event_type, cost in sorted(costs.items()):
        followed = cost.result != "not followed"
        mark = "" if cost.route == (ROUTE_AIM if followed else (0, 0, 0)) else "  (off aim)"
        print(f"{event_type:40} {cost.seen:>4} {cost.route[0]:>9} {cost.route[1]:>4} {cost.route[2]:>6} "
              f"{cost.duplicate[0]:>8} {cost.duplicate[1]:>4} {cost.worker[0]:>10} {cost.worker[1]:>6}  "
              f"{cost.result}{mark}")
