"""Secret values: from the environment locally, from SSM Parameter Store in AWS.

template.yaml passes each secret's parameter *name* (`*_PARAM`); the value is
fetched on first use and cached for five minutes, so a rotation reaches warm
functions without a deploy. Locally the value itself is in the environment.
"""

from __future__ import annotations

from saas_core.settings import Settings, get_settings

CACHE_SECONDS = 300


def _from_ssm(parameter_name: str) -> str:
    # Imported here: only functions that need a secret pay for the client.
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_parameter(parameter_name, decrypt=True, max_age=CACHE_SECONDS)
    return str(value)


def _resolve(value: str, parameter_name: str) -> str:
    if value:
        return value
    if parameter_name:
        return _from_ssm(parameter_name)
    return ""


def admin_api_key(settings: Settings | None = None) -> str:
    s = settings or get_settings()
    return _resolve(s.admin_api_key, s.admin_api_key_param)


def stripe_key(*, live: bool, settings: Settings | None = None) -> str:
    """The secret key of the live account (chargeable tenants) or the test one.

    A single STRIPE_SECRET_KEY, when set, serves both: locally that is a real
    sk_test_ key, so nothing local can ever charge a card.
    """
    s = settings or get_settings()
    if s.stripe_secret_key:
        return s.stripe_secret_key
    if live:
        return _resolve(s.stripe_live_secret_key, s.stripe_live_key_param)
    return _resolve(s.stripe_test_secret_key, s.stripe_test_key_param)


def stripe_webhook_secret(*, live: bool, settings: Settings | None = None) -> str:
    """The signing secret of the live or the test account's webhook endpoint."""
    s = settings or get_settings()
    if live:
        return _resolve(s.stripe_live_webhook_secret, s.stripe_live_webhook_secret_param)
    return _resolve(s.stripe_test_webhook_secret, s.stripe_test_webhook_secret_param)
