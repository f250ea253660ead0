"""Every 15 minutes (EventBridge): advance the day's reconciliation of every tenant with Stripe
(saas_core.services.stripe_reconciliation). The run is keyed by the schedule's day, not the
execution, so a repeated or overlapping invocation never checks the day twice."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from saas_core import deadline
from saas_core.clock import parse_iso, utc_now
from saas_core.services import stripe_reconciliation

logger = Logger()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    scheduled_at = parse_iso(event["time"]) if isinstance(event.get("time"), str) else utc_now()
    with deadline.within(context):
        return stripe_reconciliation.run_slice(scheduled_at).as_dict()
