"""Domain exceptions. `saas_core.http` maps each to the envelope and status of
API.md in one place; nothing matches on message text."""

from __future__ import annotations


class AppError(Exception):
    status_code = 500
    error_code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(AppError):
    """A business rule refused the request (400)."""

    status_code = 400
    error_code = "bad_request"


class NotEligible(BadRequest):
    error_code = "not_eligible"


class Unauthorized(AppError):
    status_code = 401
    error_code = "unauthorized"


class Forbidden(AppError):
    status_code = 403
    error_code = "forbidden"


class NotFound(AppError):
    status_code = 404
    error_code = "not_found"


class Conflict(AppError):
    status_code = 409
    error_code = "conflict"


class InvalidInput(AppError):
    """Input that parsed but is wrong (422), with messages per field path."""

    status_code = 422
    error_code = "validation_error"

    def __init__(self, message: str, errors: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.errors = errors


class UnsupportedMediaType(AppError):
    """A body in another format than JSON (415)."""

    status_code = 415
    error_code = "unsupported_media_type"


class LimitExceeded(AppError):
    """A usage limit would be passed (429); `details` says where the counter stands."""

    status_code = 429
    error_code = "limit_exceeded"

    def __init__(self, message: str, details: dict[str, object]) -> None:
        super().__init__(message)
        self.details = details


class StripeUnavailable(AppError):
    """Stripe failed or timed out; nothing was changed locally (502).

    `outcome_unknown`: Stripe may have done it anyway (a timeout, a 5xx), so an
    undo must look for what the call would have made before giving up on it.
    """

    status_code = 502
    error_code = "stripe_unavailable"

    def __init__(self, message: str, *, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown
