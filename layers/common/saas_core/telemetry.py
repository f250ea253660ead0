"""Business events as CloudWatch metrics (EMF lines on stdout, no API call).

Dimensions stay low-cardinality (a plan type, an account), never an id. A
metric that cannot be written is logged, never allowed to fail a request
whose change has already been made.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.exceptions import MetricValueError, SchemaValidationError

logger = Logger(child=True)


def count(event: str, **dimensions: str) -> None:
    # Powertools would still print an empty line per metric when disabled.
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true":
        return
    try:
        with single_metric(name=event, unit=MetricUnit.Count, value=1) as metric:
            for name, value in dimensions.items():
                metric.add_dimension(name=name, value=value)
    except (SchemaValidationError, MetricValueError):
        logger.warning("metric not written", extra={"metric": event})
