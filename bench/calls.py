"""Counting the requests a piece of code makes: AWS operations at botocore (`dynamodb:PutItem`,
`sqs:SendMessage`) and Stripe HTTP attempts at the SDK's client (shared by the bench's sections)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def counting_calls() -> Iterator[Counter[str]]:
    """Count AWS operations by service (at botocore) and Stripe HTTP attempts (at the SDK's client)."""
    import botocore.client
    import stripe

    counts: Counter[str] = Counter()
    make_api_call = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]
    stripe_request = stripe.RequestsClient.request

    def counted_api_call(self: Any, operation: str, params: Any) -> Any:
        counts[f"{self.meta.service_model.service_name}:{operation}"] += 1
        return make_api_call(self, operation, params)

    def counted_stripe(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        counts["stripe"] += 1
        return stripe_request(self, method, url, *args, **kwargs)

    botocore.client.BaseClient._make_api_call = counted_api_call  # type: ignore[attr-defined]
    stripe.RequestsClient.request = counted_stripe  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        botocore.client.BaseClient._make_api_call = make_api_call  # type: ignore[attr-defined]
        stripe.RequestsClient.request = stripe_request  # type: ignore[method-assign]
