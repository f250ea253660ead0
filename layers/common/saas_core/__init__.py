"""Shared layer of the SaaS billing backend.

Three rings: the functions (HTTP in/out) call services (rules and Stripe
orchestration), which call repositories (DynamoDB). Handlers import from
`saas_core.http`, `saas_core.models` and `saas_core.services` only.
"""
