"""The parts of one running emulator, wired together, without the HTTP layer."""

from __future__ import annotations

from local.stripe_emulator.api import Api, RequestLog
from local.stripe_emulator.faults import FaultInjector
from local.stripe_emulator.store import State, StripeObject
from local.stripe_emulator.webhooks import Deliverer


class Emulator:
    def __init__(self) -> None:
        self.state = State()
        self.deliverer = Deliverer(on_delivered=self._delivered)
        self.state.set_delivery_sink(self.deliverer.enqueue)
        self.faults = FaultInjector()
        self.requests = RequestLog()
        self.api = Api(self.state, self.faults, self.requests)

    def configure_webhook(self, url: str, secret: str | None = None) -> str:
        """An endpoint for every event in both modes, kept across resets; returns its signing secret."""
        return self.state.configure_endpoint(url, secret).secret

    def reset(self) -> None:
        self.faults.clear()
        self.deliverer.clear()
        self.requests.clear()
        self.state.reset()

    def stop(self) -> None:
        self.faults.clear()  # hung requests answer now instead of holding their threads
        self.deliverer.stop()

    def _delivered(self, event: StripeObject) -> None:
        with self.state.lock:
            event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)
