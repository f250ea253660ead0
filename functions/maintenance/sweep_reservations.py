"""Every five minutes (EventBridge): finish what requests that died left behind
(saas_core.services.sweeper), within the function's time."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from saas_core import deadline
from saas_core.services import sweeper

logger = Logger()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    with deadline.within(context):
        return sweeper.sweep().as_dict()
