"""OPTIONS on every path: the browser's CORS preflight (saas_core.cors).

An allowed origin gets the methods and headers it may use; any other origin
gets the same empty 204 without them, which the browser treats as a refusal.
Kept apart from the resolver so a preflight loads almost nothing.
"""

from typing import Any

from saas_core import cors


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    headers = cors.preflight_headers(cors.origin_of(event.get("headers")))
    return {
        "statusCode": 204,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "body": "",
        "isBase64Encoded": False,
    }
