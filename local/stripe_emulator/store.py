"""The emulator's state: one account per key mode (test, live), each holding
Stripe's objects as the JSON the API returns, the events every change
records, and the webhook endpoints those events go to.

Everything here runs under State.lock (the HTTP layer and background work
such as a test clock's advance take it), so nothing in this module locks by
itself.
"""

from __future__ import annotations

import copy
import secrets
import string
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from local.stripe_emulator.clock import Clock
from local.stripe_emulator.errors import no_such

StripeObject = dict[str, Any]
API_VERSION = "2026-10-28.endive"
MODES = ("test", "live")
_ID_ALPHABET = string.ascii_letters + string.digits

# (endpoint, event, redelivery) -> queue one delivery; set by whoever delivers webhooks.
DeliverySink = Callable[["WebhookTarget", StripeObject, bool], None]
# (seconds, job) -> run the job that much later, on another thread, under State.lock.
Scheduler = Callable[[float, Callable[[], None]], None]


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{''.join(secrets.choice(_ID_ALPHABET) for _ in range(length))}"


def merge_metadata(current: dict[str, str], changes: dict[str, str] | None) -> dict[str, str]:
    """Stripe merges metadata on update: an empty value unsets that key, `metadata=""` unsets all."""
    if changes is None:
        return {}
    merged = dict(current)
    for key, value in changes.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def previous_attributes(before: Any, after: Any) -> Any:
    """What changed, as Stripe reports it in `data.previous_attributes`: the old
    values of changed keys, recursing into objects (metadata, items)."""
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return copy.deepcopy(before)
    changed = {}
    for key in before.keys() | after.keys():
        if before.get(key) != after.get(key):
            changed[key] = previous_attributes(before.get(key), after.get(key))
    return changed


@dataclass(frozen=True)
class WebhookTarget:
    endpoint_id: str
    url: str
    secret: str


@dataclass
class RequestContext:
    """The API request being served, recorded on the events it causes (null for the clock's)."""

    request_id: str | None = None
    idempotency_key: str | None = None


@dataclass
class IdempotentResult:
    fingerprint: str  # of method, path and parameters
    status: int
    body: str  # the JSON first answered, replayed as is


@dataclass
class Account:
    """One mode's objects: a live key never sees what a test key made."""

    livemode: bool
    clock: Clock
    context: RequestContext
    deliver: DeliverySink
    run_later: Scheduler
    tables: dict[str, dict[str, StripeObject]] = field(default_factory=dict)
    idempotency: dict[str, IdempotentResult] = field(default_factory=dict)
    # Bookkeeping that is not part of any Stripe object (webhook secrets, sent reminders).
    private: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Set once a reset replaced this account: work scheduled for it must not run.
    retired: bool = False

    def now(self) -> int:
        return self.clock.now()

    def table(self, kind: str) -> dict[str, StripeObject]:
        return self.tables.setdefault(kind, {})

    def newest_first(self, kind: str) -> list[StripeObject]:
        # Tables keep insertion order: the order objects were made in, Stripe's list order.
        return list(reversed(self.table(kind).values()))

    def find(self, kind: str, object_id: str) -> StripeObject | None:
        return self.table(kind).get(object_id)

    def get(self, kind: str, object_id: str, *, param: str = "id", label: str | None = None) -> StripeObject:
        found = self.find(kind, object_id)
        if found is None or found.get("deleted"):
            raise no_such(label or kind.replace("_", " "), object_id, param)
        return found

    def new_object(self, prefix: str, kind: str, **fields: Any) -> StripeObject:
        return {"id": new_id(prefix), "object": kind, "created": self.now(), "livemode": self.livemode, **fields}

    def insert(self, obj: StripeObject) -> StripeObject:
        self.table(obj["object"])[obj["id"]] = obj
        return obj

    def private_of(self, object_id: str) -> dict[str, Any]:
        return self.private.setdefault(object_id, {})

    # ----------------------------------------------------------------- events

    def emit(self, event_type: str, obj: StripeObject, previous: StripeObject | None = None) -> StripeObject:
        """Record an event with a snapshot of `obj`, and queue it for every endpoint that wants it."""
        data: StripeObject = {"object": copy.deepcopy(obj)}
        if previous:
            data["previous_attributes"] = previous
        event = self.insert(self.new_object(
            "evt", "event", api_version=API_VERSION, type=event_type, data=data, pending_webhooks=0,
            account=None, context=None,
            request={"id": self.context.request_id, "idempotency_key": self.context.idempotency_key}))
        targets = list(self._targets_for(event_type))
        event["pending_webhooks"] = len(targets)
        # The endpoints still owed this event: pending_webhooks counts them down as they answer 2xx.
        self.private_of(event["id"])["undelivered"] = {target.endpoint_id for target in targets}
        for target in targets:
            self.deliver(target, event, False)
        return event

    def delivered(self, event: StripeObject, endpoint_id: str) -> None:
        """An endpoint answered 2xx to the event (a retry, a duplicate or a redelivery changes nothing more)."""
        undelivered = self.private_of(event["id"]).setdefault("undelivered", set())
        undelivered.discard(endpoint_id)
        event["pending_webhooks"] = len(undelivered)

    def redeliver(self, event: StripeObject, endpoint_id: str | None = None) -> list[WebhookTarget]:
        """Send a recorded event again, as Stripe's resend does: to one endpoint of this account, or to
        every enabled endpoint that wants its type. Each delivery is signed when it is sent."""
        if endpoint_id is not None:
            endpoint = self.get("webhook_endpoint", endpoint_id, param="endpoint")
            targets = [WebhookTarget(endpoint["id"], endpoint["url"], self.private_of(endpoint["id"])["secret"])]
        else:
            targets = list(self._targets_for(event["type"]))
        for target in targets:
            self.deliver(target, event, True)
        return targets

    def emit_update(self, event_type: str, obj: StripeObject, before: StripeObject) -> None:
        """An `*.updated` event when `obj` differs from its `before` snapshot, naming what changed."""
        if obj != before:
            self.emit(event_type, obj, previous_attributes(before, obj))

    def _targets_for(self, event_type: str) -> Iterable[WebhookTarget]:
        for endpoint in self.table("webhook_endpoint").values():
            wanted = endpoint["enabled_events"]
            if endpoint["status"] == "enabled" and ("*" in wanted or event_type in wanted):
                yield WebhookTarget(endpoint["id"], endpoint["url"], self.private_of(endpoint["id"])["secret"])

    def add_webhook_endpoint(self, url: str, enabled_events: list[str], *, secret: str | None = None,
                             description: str | None = None, metadata: dict[str, str] | None = None,
                             endpoint_id: str | None = None) -> StripeObject:
        endpoint = self.new_object("we", "webhook_endpoint", url=url, enabled_events=enabled_events,
                                   status="enabled", api_version=None, application=None,
                                   description=description, metadata=metadata or {}, secret=None)
        if endpoint_id:
            endpoint["id"] = endpoint_id
        self.private_of(endpoint["id"])["secret"] = secret or new_id("whsec", 32)
        return self.insert(endpoint)


@dataclass(frozen=True)
class ConfiguredEndpoint:
    """An endpoint given on the command line: present in both modes, and again after a reset.

    As on Stripe, the live and the test account each have their own endpoint (its own id) and
    their own signing secret; the two secrets may be the same string when asked for."""

    url: str
    secrets: dict[str, str]  # mode -> whsec_...
    endpoint_ids: dict[str, str] = field(default_factory=lambda: {mode: new_id("we") for mode in MODES})


class State:
    def __init__(self, clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.context = RequestContext()
        self.configured_endpoints: list[ConfiguredEndpoint] = []
        self._sink: DeliverySink | None = None
        self.accounts = self._fresh_accounts()

    def set_delivery_sink(self, sink: DeliverySink) -> None:
        self._sink = sink

    def account(self, mode: str) -> Account:
        return self.accounts[mode]

    def configure_endpoint(self, url: str, secrets: Mapping[str, str | None] | None = None) -> ConfiguredEndpoint:
        """An endpoint for every event of both accounts; a mode left out of `secrets` (or None)
        gets a new secret of its own."""
        with self.lock:
            given = secrets or {}
            configured = ConfiguredEndpoint(url, {mode: given.get(mode) or new_id("whsec", 32) for mode in MODES})
            self.configured_endpoints.append(configured)
            for account in self.accounts.values():
                self._install(account, configured)
            return configured

    def reset(self) -> None:
        """Forget every object (test clocks too), event and idempotency key."""
        with self.lock:
            self.clock.reset()
            for account in self.accounts.values():
                account.retired = True
            self.accounts = self._fresh_accounts()

    def _fresh_accounts(self) -> dict[str, Account]:
        accounts = {mode: Account(livemode=mode == "live", clock=self.clock, context=self.context,
                                  deliver=self._deliver, run_later=self._run_later) for mode in MODES}
        for account in accounts.values():
            for configured in self.configured_endpoints:
                self._install(account, configured)
        return accounts

    @staticmethod
    def _install(account: Account, configured: ConfiguredEndpoint) -> None:
        mode = "live" if account.livemode else "test"
        account.add_webhook_endpoint(configured.url, ["*"], secret=configured.secrets[mode],
                                     endpoint_id=configured.endpoint_ids[mode], description="configured at start")

    def find_event(self, event_id: str) -> tuple[Account, StripeObject] | None:
        """The event with this id, in whichever account recorded it."""
        for account in self.accounts.values():
            event = account.find("event", event_id)
            if event is not None:
                return account, event
        return None

    def _deliver(self, target: WebhookTarget, event: StripeObject, redelivery: bool = False) -> None:
        if self._sink is not None:
            self._sink(target, event, redelivery)

    def _run_later(self, seconds: float, job: Callable[[], None]) -> None:
        timer = threading.Timer(seconds, self._run_locked, args=(job,))
        timer.daemon = True
        timer.start()

    def _run_locked(self, job: Callable[[], None]) -> None:
        with self.lock:
            job()
