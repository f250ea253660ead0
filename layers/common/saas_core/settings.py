"""Configuration, read once per cold start from the function's environment.

Table names and the *names* of secrets come from template.yaml; secret values
are fetched lazily (see `saas_core.secrets`) so a function that never needs
Stripe never pays for reading its key.
"""

from __future__ import annotations

import functools
import os

from pydantic import BaseModel, Field


class Settings(BaseModel):
    stage: str = "local"
    tenants_table: str = "tenants"
    plans_table: str = "plans"
    usage_table: str = "usage"
    idempotency_table: str = "idempotency"

    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwks_url: str = ""
    # HS256 secret for local tokens; empty in AWS, where JWKS is used.
    jwt_secret: str = ""
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    jwks_refetch_cooldown_seconds: int = Field(default=300, ge=1)

    admin_api_key: str = ""
    admin_api_key_param: str = ""

    # A single key used for both accounts locally (the emulator's, or a real
    # sk_test_ key); in AWS the live and test keys come from SSM.
    stripe_secret_key: str = ""
    stripe_live_secret_key: str = ""
    stripe_test_secret_key: str = ""
    stripe_live_key_param: str = ""
    stripe_test_key_param: str = ""
    # Each Stripe account signs its webhooks with its own secret.
    stripe_live_webhook_secret: str = ""
    stripe_test_webhook_secret: str = ""
    stripe_live_webhook_secret_param: str = ""
    stripe_test_webhook_secret_param: str = ""
    # Set to the emulator's URL locally; empty means api.stripe.com.
    stripe_api_base: str = ""
    # One attempt plus retries must fit inside API Gateway's 29 s.
    stripe_timeout_seconds: float = Field(default=8.0, gt=0, le=20)
    stripe_max_retries: int = Field(default=2, ge=0, le=3)

    # Days a tenant stays past due on an unpaid invoice before it is suspended for nonpayment.
    payment_grace_days: int = Field(default=7, ge=0, le=60)
    # Where the webhook route queues Stripe events for the worker (the template's queue URL).
    stripe_events_queue_url: str = ""
    # Stripe requests per second the daily reconciliation allows itself (Stripe allows 25 in test
    # mode and 100 live; the product's own requests need the rest).
    stripe_reconcile_requests_per_second: float = Field(default=20, gt=0, le=100)
    # A staging stack whose tests move time: each customer made in the Stripe test account gets
    # its own test clock (Stripe test mode only; a live customer never has one).
    stripe_test_clocks: bool = False

    # Browser origins allowed to call the API (comma-separated); empty allows none.
    cors_allowed_origins: str = ""

    # Optional; by default list cursors are signed with a key derived from the admin key.
    cursor_signing_key: str = ""

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        return cls.model_validate(values)


    @property
    def allowed_origins(self) -> frozenset[str]:
        return frozenset(origin.strip().rstrip("/") for origin in self.cors_allowed_origins.split(",")
                         if origin.strip())


@functools.cache
def get_settings() -> Settings:
    return Settings.from_environment()
