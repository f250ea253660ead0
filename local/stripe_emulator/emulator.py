"""The parts of one running emulator, wired together, without the HTTP layer."""

from __future__ import annotations

from collections.abc import Mapping

from local.stripe_emulator.api import Api, RequestLog
from local.stripe_emulator.faults import FaultInjector
from local.stripe_emulator.store import State, StripeObject, WebhookTarget, new_id
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
        """An endpoint for every event in both modes, kept across resets, both accounts signing with
        one secret (`secret`, or a new one); returns it. See configure_webhooks for one per account."""
        shared = secret or new_id("whsec", 32)
        return self.configure_webhooks(url, {"test": shared, "live": shared})["test"]

    def configure_webhooks(self, url: str, secrets: Mapping[str, str | None] | None = None) -> dict[str, str]:
        """An endpoint for every event of each account (test, live), kept across resets, each account
        signing with its own secret: `secrets[mode]`, or a new one. Returns {"test": ..., "live": ...}."""
        return dict(self.state.configure_endpoint(url, secrets).secrets)

    def reset(self) -> None:
        self.faults.clear()
        self.deliverer.clear()
        self.requests.clear()
        self.state.reset()

    def stop(self) -> None:
        self.faults.clear()  # hung requests answer now instead of holding their threads
        self.deliverer.stop()

    def redeliver(self, event_id: str, endpoint_id: str | None = None) -> list[WebhookTarget] | None:
        """Send a recorded event again (Stripe's resend); None when no account recorded it."""
        with self.state.lock:
            found = self.state.find_event(event_id)
            if found is None:
                return None
            account, event = found
            return account.redeliver(event, endpoint_id)

    def _delivered(self, target: WebhookTarget, event: StripeObject) -> None:
        with self.state.lock:
            found = self.state.find_event(event["id"])
            if found is not None and found[1] is event:  # not an event forgotten by a reset since
                found[0].delivered(event, target.endpoint_id)
