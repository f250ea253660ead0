"""Events (read-only, recorded by every change) and webhook endpoints."""

from __future__ import annotations

import copy
import fnmatch
import re
from typing import Any

from local.stripe_emulator.errors import invalid_parameter
from local.stripe_emulator.listing import list_kind
from local.stripe_emulator.params import EXPAND, Array, Boolean, Metadata, Obj, Text, list_schema
from local.stripe_emulator.store import Account, StripeObject, merge_metadata

_EVENT_TYPE = re.compile(r"[a-z_]+(\.[a-z_]+)+")
_URL = re.compile(r"https?://[^\s/]+(/\S*)?")

EVENT_LIST = list_schema(type=Text(), types=Array(Text(), max_items=20))
ENDPOINT_CREATE = Obj({
    "url": Text(max_length=2048), "enabled_events": Array(Text()), "description": Text(max_length=5000),
    "metadata": Metadata(), "api_version": Text(), "expand": EXPAND,
}, required=("url", "enabled_events"))
ENDPOINT_UPDATE = Obj({
    "url": Text(max_length=2048), "enabled_events": Array(Text()), "description": Text(unsettable=True),
    "metadata": Metadata(), "disabled": Boolean(), "expand": EXPAND,
})
ENDPOINT_LIST = list_schema(created=False)


def retrieve_event(account: Account, event_id: str) -> StripeObject:
    return account.get("event", event_id)


def list_events(account: Account, params: dict[str, Any]) -> StripeObject:
    """`type` takes one type or a `*` pattern (`customer.subscription.*`); `types` several exact ones."""
    patterns = [params["type"]] if "type" in params else params.get("types") or []
    return list_kind(account, "event", params, "/v1/events", lambda event: not patterns or any(
        fnmatch.fnmatchcase(event["type"], pattern) for pattern in patterns))


def _checked_url(url: str) -> str:
    if not _URL.fullmatch(url):
        raise invalid_parameter("url", f"Invalid URL: {url}. URLs must begin with http:// or https://.")
    return url


def _checked_events(events: list[str]) -> list[str]:
    if not events:
        raise invalid_parameter("enabled_events", "Invalid enabled_events: must list at least one event type "
                                                  "(or '*').")
    for index, event_type in enumerate(events):
        if event_type != "*" and not _EVENT_TYPE.fullmatch(event_type):
            raise invalid_parameter(f"enabled_events[{index}]", f"Invalid enabled_events[{index}]: "
                                                                f"{event_type} is not an event type.")
    return events


def create_endpoint(account: Account, params: dict[str, Any]) -> StripeObject:
    endpoint = account.add_webhook_endpoint(
        _checked_url(params["url"]), _checked_events(params["enabled_events"]),
        description=params.get("description"), metadata=params.get("metadata"))
    endpoint["api_version"] = params.get("api_version")
    # Stripe shows the signing secret only in the response that created the endpoint.
    return {**endpoint, "secret": account.private_of(endpoint["id"])["secret"]}


def retrieve_endpoint(account: Account, endpoint_id: str) -> StripeObject:
    return account.get("webhook_endpoint", endpoint_id)


def update_endpoint(account: Account, endpoint_id: str, params: dict[str, Any]) -> StripeObject:
    endpoint = account.get("webhook_endpoint", endpoint_id)
    if "url" in params:
        endpoint["url"] = _checked_url(params["url"])
    if "enabled_events" in params:
        endpoint["enabled_events"] = _checked_events(params["enabled_events"])
    if "description" in params:
        endpoint["description"] = params["description"]
    if "metadata" in params:
        endpoint["metadata"] = merge_metadata(endpoint["metadata"], params["metadata"])
    if "disabled" in params:
        endpoint["status"] = "disabled" if params["disabled"] else "enabled"
    return copy.deepcopy(endpoint)


def delete_endpoint(account: Account, endpoint_id: str) -> StripeObject:
    account.get("webhook_endpoint", endpoint_id)
    del account.table("webhook_endpoint")[endpoint_id]
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


def list_endpoints(account: Account, params: dict[str, Any]) -> StripeObject:
    return list_kind(account, "webhook_endpoint", params, "/v1/webhook_endpoints")
