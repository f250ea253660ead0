"""The project's Stripe emulator: Stripe's HTTP API for the real `stripe` SDK.

Stateful (products, prices, customers, payment methods, subscriptions with
several items, subscription schedules, invoices and invoice items, events,
webhook endpoints, test clocks), with separate test and live accounts by key. Time moves only through
Stripe's own test clock API: customers on a test clock live in its time,
everyone else in wall time. Faults can be injected (errors, hangs, answers
lost after the change happened) and webhooks are signed like Stripe's, and
can be duplicated and reordered on request. The /_emulator control endpoints
are in control.py.

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
    subscription_cancellation.py (cancel_at, cancel_at_period_end)
    subscription_schedules.py (endpoints), schedule_phases.py (phases as time passes),
    schedule_links.py (a schedule and its subscription kept in step)
    invoices.py, invoice_actions.py, invoice_previews.py (create_preview, run on a copy)
    events.py (events, webhook endpoints)
    clock.py         time and calendar arithmetic;  renewals.py  what time brings
    test_clocks.py   Stripe's test clocks: the only way time moves
    webhooks.py      signing and background delivery with retries, duplicates, reordering
    faults.py, control.py
    testing.py       helpers for tests (advance a test clock and wait, as against Stripe)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

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
    webhook_secret: str | None = None  # of the endpoint given as webhook_url, if any

    @property
    def state(self) -> State:
        """The in-memory store, for white-box use: hold `state.lock` while touching it."""
        return self.server.emulator.state

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(timeout=5)


def build_server(host: str, port: int, *, webhook_url: str | None = None,
                 webhook_secret: str | None = None) -> tuple[EmulatorServer, str | None]:
    """The server (not yet serving) and the configured webhook endpoint's secret."""
    emulator = Emulator()
    secret = emulator.configure_webhook(webhook_url, webhook_secret) if webhook_url else None
    return EmulatorServer((host, port), emulator), secret


def start_in_thread(port: int = 0, *, webhook_url: str | None = None, webhook_secret: str | None = None,
                    host: str = "127.0.0.1") -> EmulatorHandle:
    """An emulator serving on a daemon thread; port 0 picks a free port (see `.url`)."""
    server, secret = build_server(host, port, webhook_url=webhook_url, webhook_secret=webhook_secret)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
                              name="stripe-emulator", daemon=True)
    thread.start()
    return EmulatorHandle(url=f"http://{host}:{server.port}", server=server, thread=thread, webhook_secret=secret)
