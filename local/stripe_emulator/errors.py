"""Errors shaped like Stripe's, so the SDK raises the matching exception:
400/404 InvalidRequestError (IdempotencyError for idempotency_error), 401
AuthenticationError, 402 CardError, 429 RateLimitError, 5xx APIError."""

from __future__ import annotations

from typing import Any


class StripeApiError(Exception):
    def __init__(self, status: int, message: str, *, error_type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None, decline_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.decline_code = decline_code

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message,
                                 "request_log_url": f"https://dashboard.stripe.com/test/logs/{request_id}"}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        if self.decline_code:
            error["decline_code"] = self.decline_code
        return {"error": error}


def unknown_parameter(param: str) -> StripeApiError:
    return StripeApiError(400, f"Received unknown parameter: {param}", code="parameter_unknown", param=param)


def missing_parameter(param: str) -> StripeApiError:
    return StripeApiError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def invalid_parameter(param: str, message: str, code: str | None = None) -> StripeApiError:
    return StripeApiError(400, message, code=code, param=param)


def exclusive_parameters(*params: str) -> StripeApiError:
    return StripeApiError(400, f"You may only specify one of these parameters: {', '.join(params)}.",
                          code="parameters_exclusive", param=params[-1])


def no_such(kind: str, object_id: str, param: str = "id") -> StripeApiError:
    """404 for the object the URL names; 400 for one a parameter names (a list cursor, `customer`)."""
    return StripeApiError(404 if param == "id" else 400, f"No such {kind}: '{object_id}'", code="resource_missing",
                          param=param)


def state_error(message: str, code: str | None = None, param: str | None = None) -> StripeApiError:
    """A request that is well formed but not allowed in the object's current state."""
    return StripeApiError(400, message, code=code, param=param)


def card_declined(payment_method_id: str) -> StripeApiError:
    return StripeApiError(402, "Your card was declined.", error_type="card_error", code="card_declined",
                          param="payment_method" if payment_method_id else None, decline_code="generic_decline")


def authentication_failed(reason: str) -> StripeApiError:
    return StripeApiError(401, reason, error_type="authentication_error")


def injected_failure(status: int) -> StripeApiError:
    """What a fault answers: shaped as Stripe answers that status."""
    if status == 429:
        return StripeApiError(429, "Too many requests hit the API too quickly (injected by the emulator).",
                              code="rate_limit")
    if status >= 500:
        return StripeApiError(status, "An unknown error occurred (injected by the emulator).", error_type="api_error")
    return StripeApiError(status, "The request failed (injected by the emulator).")
