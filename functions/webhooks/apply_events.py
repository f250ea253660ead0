"""SQS: the Stripe events queue, applied to tenants (saas_core.services.stripe_events).

Partial batch failures: a message that fails (Stripe or DynamoDB failing, a tenant
held by an admin's change) is reported alone and comes back after the queue's
visibility timeout; after a few receives the queue moves it to the dead-letter queue.
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from saas_core import deadline
from saas_core.services import stripe_events
from saas_core.stripe_webhooks import QueuedEvent

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


def apply_record(record: SQSRecord) -> str:
    event = QueuedEvent.from_message(record.body)
    logger.append_keys(event_id=event.id, event_type=event.type)
    outcome = stripe_events.apply(event)
    logger.info("Stripe event done", extra={"result": outcome.result, "why": outcome.why})
    return outcome.result


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with deadline.within(context):
        return dict(process_partial_response(event=event, record_handler=apply_record, processor=processor,
                                             context=context))
