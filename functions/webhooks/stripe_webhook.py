"""POST /v1/webhooks/stripe: Stripe's events, verified, recorded once and queued for the worker."""

from pydantic import BaseModel

from saas_core.access import Access
from saas_core.http import ApiApp, Envelope, ok
from saas_core.stripe_webhooks import FOLLOWED_EVENT_TYPES, accept, raw_body, verify

app = ApiApp()


class WebhookReceiptOut(BaseModel):
    event_id: str
    type: str
    followed: bool  # false: a type the product does not act on (acknowledged, nothing written)
    queued: bool  # false: not followed, or a delivery of an event already received (nothing queued again)


@app.endpoint("POST", "/v1/webhooks/stripe", access=Access.STRIPE, summary="Receive a Stripe event",
              tags=["stripe"], errors=(400, 503))
def receive_stripe_event() -> Envelope[WebhookReceiptOut]:
    raw_event = app.current_event.raw_event
    event = verify(raw_body(raw_event), app.current_event.headers.get("Stripe-Signature"))
    followed = event.type in FOLLOWED_EVENT_TYPES
    queued = accept(event)
    message = "Event queued" if queued else "Event already received" if followed else "Event type not followed"
    return ok(WebhookReceiptOut(event_id=event.id, type=event.type, followed=followed, queued=queued), message)


handler = app.lambda_handler
