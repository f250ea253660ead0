"""The project's Stripe emulator: Stripe's HTTP API for the real `stripe` SDK.

Stateful (products, prices, customers, subscriptions with several items,
invoices, events), with separate test and live accounts by key, a clock
tests can move, fault injection, and webhooks signed like Stripe's. See
README.md ("Stripe") and server.py for the control endpoints.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from local.stripe_emulator.server import EmulatorServer, add_webhook_endpoint
from local.stripe_emulator.store import State
from local.stripe_emulator.webhooks import Deliverer


@dataclass
class EmulatorHandle:
    url: str
    state: State
    server: EmulatorServer

    def stop(self) -> None:
        self.server.control.released.set()
        self.server.deliverer.stop()
        self.server.shutdown()
        self.server.server_close()


def build_server(host: str, port: int, *, webhook_url: str | None = None,
                 webhook_secret: str | None = None) -> EmulatorServer:
    state = State()
    server = EmulatorServer((host, port), state, Deliverer(state))
    if webhook_url:
        for account in state.accounts.values():
            add_webhook_endpoint(account, {"url": webhook_url, "enabled_events": ["*"]}, secret=webhook_secret)
    return server


def start_in_thread(port: int = 0, *, webhook_url: str | None = None,
                    webhook_secret: str | None = None, host: str = "127.0.0.1") -> EmulatorHandle:
    server = build_server(host, port, webhook_url=webhook_url, webhook_secret=webhook_secret)
    threading.Thread(target=server.serve_forever, name="stripe-emulator", daemon=True).start()
    return EmulatorHandle(url=f"http://{host}:{server.server_address[1]}", state=server.state, server=server)
