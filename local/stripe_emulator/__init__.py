"""The project's Stripe emulator: Stripe's HTTP API for the real `stripe` SDK.

Stateful (products, prices, customers, payment methods, subscriptions with
several items, subscription schedules, invoices and invoice items, events,
webhook endpoints, test clocks), with separate test and live accounts by key. Time moves only through
Stripe's own test clock API: customers on a test clock live in its time,
everyone else in wall time. Faults can be injected (errors, hangs, answers
lost after the change happened) and webhooks are signed like Stripe's, and
can be duplicated, reordered and redelivered on request. The /_emulator
control endpoints are in control.py.

Webhooks: `webhook_url` gives each account (test, live) an endpoint for every
event, as Stripe's live and test accounts each have theirs, each signing with
its own secret: `webhook_secrets={"test": ..., "live": ...}` (command line:
--webhook-secret-test, --webhook-secret-live), or one `webhook_secret` for both
(--webhook-secret). EmulatorHandle.webhook_secrets tells both.

    server.py        HTTP (stdlib ThreadingHTTPServer), one thread per request
    emulator.py      the parts of one emulator wired together
    api.py           one API request: faults, auth, idempotency, validation, time, expand
    routes.py        the endpoints served, with their parameter schemas and whose time they run in
    forms.py         Stripe's bracket form encoding
    params.py        parameter schemas: unknown, missing and malformed parameters
    listing.py       list objects and pagination;  expand.py  `expand[]`
    store.py         accounts (test, live), objects, events
    catalog.py       products and prices;  customers.py;  payments.py (test cards)
    subscriptions.py, subscription_changes.py, subscription_billing.py,
    subscription_cancellation.py (cancel_at, cancel_at_period_end),
    subscription_pauses.py (paused at trial end without a payment method; resume)
    subscription_schedules.py (endpoints), schedule_phases.py (phases as time passes),
    schedule_links.py (a schedule and its subscription kept in step)
    invoices.py, invoice_actions.py, invoice_previews.py (create_preview, run on a copy)
    events.py (events, webhook endpoints)
    clock.py         time and calendar arithmetic;  renewals.py  what time brings
    test_clocks.py   Stripe's test clocks: the only way time moves
    webhooks.py      signing and background delivery with retries, duplicates, reordering, redelivery
    faults.py, control.py
    testing.py       helpers for tests (advance a test clock and wait, as against Stripe)
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from local.stripe_emulator.emulator import Emulator
from local.stripe_emulator.server import EmulatorServer
from local.stripe_emulator.store import State

__all__ = ["EmulatorHandle", "build_server", "start_in_thread"]
# How often serve_forever looks for a stop request: stop() waits up to this long.
SHUTDOWN_POLL_SECONDS = 0.05


@dataclass
class EmulatorHandle:
    url: str
    server: EmulatorServer
    thread: threading.Thread
    # The signing secret of each account's endpoint given as webhook_url: {"test": ..., "live": ...}.
    webhook_secrets: dict[str, str] = field(default_factory=dict)

    @property
    def webhook_secret(self) -> str | None:
        """The one secret both accounts sign with, when they share one (`webhook_secret`); else None."""
        distinct = set(self.webhook_secrets.values())
        return distinct.pop() if len(distinct) == 1 else None

    @property
    def webhook_secret_test(self) -> str | None:
        return self.webhook_secrets.get("test")

    @property
    def webhook_secret_live(self) -> str | None:
        return self.webhook_secrets.get("live")

    @property
    def state(self) -> State:
        """The in-memory store, for white-box use: hold `state.lock` while touching it."""
        return self.server.emulator.state

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(timeout=5)


def webhook_secrets_for(webhook_secret: str | None = None,
                        webhook_secrets: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
    """Each account's secret: its own from `webhook_secrets` ("test", "live"), else the shared
    `webhook_secret`, else None (the emulator makes one up for that account)."""
    given = webhook_secrets or {}
    unknown = set(given) - {"test", "live"}
    if unknown:
        raise ValueError(f"webhook_secrets takes the accounts test and live, not {', '.join(sorted(unknown))}")
    return {mode: given.get(mode) or webhook_secret for mode in ("test", "live")}


def build_server(host: str, port: int, *, webhook_url: str | None = None, webhook_secret: str | None = None,
                 webhook_secrets: Mapping[str, str | None] | None = None) -> tuple[EmulatorServer, dict[str, str]]:
    """The server (not yet serving) and the configured webhook endpoint's secret per account
    ({"test": ..., "live": ...}; empty without webhook_url). `webhook_secret` is one secret for both
    accounts; `webhook_secrets` gives an account its own (as on Stripe, where the live and the test
    endpoint each have one), and an account it leaves out signs with `webhook_secret`, or with a new
    secret of its own. With neither, both accounts share one new secret."""
    chosen = webhook_secrets_for(webhook_secret, webhook_secrets)  # refuses an unknown account first
    emulator = Emulator()
    secrets: dict[str, str] = {}
    if webhook_url and webhook_secrets:
        secrets = emulator.configure_webhooks(webhook_url, chosen)
    elif webhook_url:
        shared = emulator.configure_webhook(webhook_url, webhook_secret)
        secrets = {"test": shared, "live": shared}
    return EmulatorServer((host, port), emulator), secrets


def start_in_thread(port: int = 0, *, webhook_url: str | None = None, webhook_secret: str | None = None,
                    webhook_secrets: Mapping[str, str | None] | None = None,
                    host: str = "127.0.0.1") -> EmulatorHandle:
    """An emulator serving on a daemon thread; port 0 picks a free port (see `.url`). Webhook
    secrets as build_server takes them; the handle tells each account's (`webhook_secrets`)."""
    server, secrets = build_server(host, port, webhook_url=webhook_url, webhook_secret=webhook_secret,
                                   webhook_secrets=webhook_secrets)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
                              name="stripe-emulator", daemon=True)
    thread.start()
    return EmulatorHandle(url=f"http://{host}:{server.port}", server=server, thread=thread, webhook_secrets=secrets)
