"""Receiving Stripe's events: verified, recorded once, queued. Nothing else on the way in.

Stripe wants a 2xx fast and retries for three days otherwise, so the webhook
route does a fixed, small amount of work: it verifies `Stripe-Signature` over
the raw body with the SDK (each account signs with its own secret; the
event's `livemode` says which account must have signed it), records the event
id with one conditional write (kept 35 days, longer than Stripe retries), and
sends one message to the events queue. A delivery whose id is already recorded
is acknowledged and queues nothing. The worker (`services.stripe_events`)
does the rest from the queue.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import botocore.session
import stripe
from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from saas_core import request_body, secrets
from saas_core.clock import iso, utc_now
from saas_core.errors import AppError, BadRequest
from saas_core.repositories import dynamo
from saas_core.settings import get_settings

logger = Logger(child=True)

SIGNATURE_TOLERANCE_SECONDS = 300  # Stripe's own default: a replayed old delivery is refused
# Stripe retries a failed delivery for up to three days; every retry must still be recognised.
EVENT_RETENTION = timedelta(days=35)
_MAX_EVENT_ID_LENGTH = 255
# What the worker acts on. Stripe's endpoint should ask for these alone; anything else it sends is
# acknowledged with no write and no message.
FOLLOWED_EVENT_TYPES = frozenset({
    "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
    "customer.subscription.paused", "customer.subscription.resumed", "customer.subscription.trial_will_end",
    "invoice.paid", "invoice.payment_failed", "invoice.voided", "invoice.marked_uncollectible",
    "subscription_schedule.completed", "subscription_schedule.released", "subscription_schedule.canceled",
    "customer.deleted",
})


class NotAnEvent(BadRequest):
    error_code = "invalid_event"


class BadSignature(BadRequest):
    error_code = "invalid_signature"


class QueueUnavailable(AppError):
    """The event could not be queued: Stripe gets a 5xx and delivers it again later."""

    status_code = 503
    error_code = "unavailable"


@dataclass(frozen=True)
class QueuedEvent:
    """What the queue carries: enough to find the tenant and the object, never the object's
    data (the worker reads the current object from Stripe)."""

    id: str
    type: str
    account: str  # "live" or "test": the account whose secret signed it
    created: int
    object_type: str
    object_id: str
    customer_id: str | None

    def to_message(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_message(cls, body: str) -> QueuedEvent:
        return cls(**json.loads(body))


def raw_body(event: dict[str, Any]) -> str:
    """The body as Stripe sent it, the bytes its signature covers."""
    body = event.get("body")
    if not isinstance(body, str) or not body:
        raise NotAnEvent("The body is not a Stripe event")
    return request_body.decoded(body, bool(event.get("isBase64Encoded")),
                                lambda why: NotAnEvent(f"The body is not a Stripe event: it {why}"))


def _claimed_account(payload: str) -> str:
    try:
        claimed = json.loads(payload)
    except ValueError:
        raise NotAnEvent("The body is not a Stripe event (not JSON)") from None
    if not isinstance(claimed, dict) or not isinstance(claimed.get("livemode"), bool):
        raise NotAnEvent("The body is not a Stripe event (no livemode)")
    return "live" if claimed["livemode"] else "test"


def verify(payload: str, signature: str | None) -> QueuedEvent:
    """The event, if the account it claims to come from signed it within the tolerance."""
    if not signature:
        raise BadSignature("Stripe-Signature header is missing")
    account = _claimed_account(payload)
    secret = secrets.stripe_webhook_secret(live=account == "live")
    if not secret:
        # An empty key would verify a signature anyone can make: no secret, no events from that account.
        raise BadSignature(f"No signing secret is set for the {account} account's webhooks")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError:
        raise BadSignature("Stripe-Signature does not verify (wrong secret, altered body, or too old)") from None
    except ValueError:
        raise NotAnEvent("The body is not a Stripe event") from None
    return _queued(event, account)


def _queued(event: Any, account: str) -> QueuedEvent:
    event_id, event_type = getattr(event, "id", None), getattr(event, "type", None)
    data = getattr(event, "data", None)
    target = getattr(data, "object", None) if data is not None else None
    if not (isinstance(event_id, str) and event_id.startswith("evt_") and len(event_id) <= _MAX_EVENT_ID_LENGTH) \
            or not isinstance(event_type, str) or target is None or not getattr(target, "id", None):
        raise NotAnEvent("The body is not a Stripe event (id, type or data.object missing)")
    object_type = str(getattr(target, "object", ""))
    customer = target.id if object_type == "customer" else getattr(target, "customer", None)
    if customer is not None and not isinstance(customer, str):
        customer = getattr(customer, "id", None)
    return QueuedEvent(id=event_id, type=event_type, account=account, created=int(getattr(event, "created", 0)),
                       object_type=object_type, object_id=str(target.id), customer_id=customer)


# ------------------------------------------------------------ record once, queue once

def _record_key(event: QueuedEvent) -> str:
    return f"stripe-event#{event.account}#{event.id}"


def _record(event: QueuedEvent) -> bool:
    """One conditional put; False when this event was recorded before (a redelivery)."""
    now = utc_now()
    item = {"id": _record_key(event), "kind": "stripe_event", "type": event.type, "received_at": iso(now),
            "expiration": int((now + EVENT_RETENTION).timestamp())}
    try:
        dynamo.client().put_item(TableName=get_settings().idempotency_table, Item=dynamo.to_item(item),
                                 ConditionExpression="attribute_not_exists(#id)",
                                 ExpressionAttributeNames={"#id": "id"})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _forget(event: QueuedEvent) -> None:
    """Undo the record of an event that could not be queued, so that Stripe's retry queues it."""
    dynamo.client().delete_item(TableName=get_settings().idempotency_table,
                                Key={"id": {"S": _record_key(event)}})


@cache
def _sqs() -> Any:
    # botocore, not boto3 (see repositories.dynamo); AWS_ENDPOINT_URL_SQS points it at moto locally.
    # A few seconds at most: Stripe waits for the answer, and a slow queue is retried by Stripe.
    return botocore.session.get_session().create_client(
        "sqs", config=Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2, "mode": "standard"}))


def accept(event: QueuedEvent) -> bool:
    """Record and queue the event once; False for a type nobody follows or a delivery already recorded
    (nothing queued)."""
    if event.type not in FOLLOWED_EVENT_TYPES:
        logger.info("Stripe event not followed", extra={"event_id": event.id, "type": event.type})
        return False
    if not _record(event):
        logger.info("duplicate Stripe delivery acknowledged", extra={"event_id": event.id, "type": event.type})
        return False
    try:
        _sqs().send_message(QueueUrl=get_settings().stripe_events_queue_url, MessageBody=event.to_message(),
                            MessageAttributes={"event_type": {"DataType": "String", "StringValue": event.type}})
    except (BotoCoreError, ClientError) as error:
        logger.warning("could not queue a Stripe event", extra={"event_id": event.id, "error": str(error)})
        _forget(event)
        raise QueueUnavailable("The event could not be queued; Stripe will deliver it again") from None
    logger.info("Stripe event queued", extra={"event_id": event.id, "type": event.type, "account": event.account})
    return True
