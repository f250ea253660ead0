"""The catalog the local stack starts with (API.md, Plans and usage):
seed 001's five tiers with their prices and daily API-call limits, seed 003's
Freemium and Pro, and seed 002's Business plan.

Annual prices the seeds do not give are ten months of the monthly price.
"""

from __future__ import annotations

from typing import Any

from saas_core.access import Principal
from saas_core.models.plans import Plan, PlanIn
from saas_core.services import plans_admin

SEEDER = Principal(subject="local-seed", is_admin=True, via="seed")


def _api_calls(per_day: int) -> dict[str, Any]:
    return {"api_calls": {"max": per_day, "period": "day"}}


DEFAULT_PLANS: dict[str, dict[str, Any]] = {
    # seed 001: the user's personal subscription tiers
    "pln_free": {
        "name": "Free", "type": "personal", "tier": "free", "price_monthly": 0, "price_annual": 0,
        "description": "Basic access", "limits": _api_calls(100), "feature_list": ["Basic access"],
        "display_order": 10,
    },
    "pln_trial": {
        "name": "Trial", "type": "personal", "tier": "trial", "price_monthly": 0, "price_annual": 0,
        "trial_days": 14, "description": "Trial period", "limits": _api_calls(1_000),
        "feature_list": ["Trial period"], "display_order": 20,
    },
    "pln_starter": {
        "name": "Starter", "type": "personal", "tier": "starter", "price_monthly": "19.00", "price_annual": "190.00",
        "description": "BYOK support", "limits": _api_calls(10_000), "features": {"byok": True},
        "feature_list": ["BYOK support"], "display_order": 30,
    },
    "pln_professional": {
        "name": "Professional", "type": "personal", "tier": "professional", "price_monthly": "49.00",
        "price_annual": "490.00", "description": "Priority support, BYOK", "limits": _api_calls(100_000),
        "features": {"byok": True, "priority_support": True}, "feature_list": ["Priority support", "BYOK"],
        "is_popular": True, "display_order": 40,
    },
    "pln_enterprise": {
        "name": "Enterprise", "type": "personal", "tier": "enterprise", "price_monthly": "99.00",
        "price_annual": "990.00", "description": "Team features, BYOK, SLA", "limits": _api_calls(1_000_000),
        "features": {"byok": True, "priority_support": True, "team_features": True, "sla": True},
        "feature_list": ["Team features", "BYOK", "SLA"], "display_order": 50,
    },
    # seed 003: workspace plans
    "pln_freemium": {
        "name": "Freemium", "display_name": "Free Plan", "type": "organization", "tier": "freemium",
        "price_monthly": 0, "price_annual": 0, "description": "Free plan with basic features",
        "limits": {"max_members_per_workspace": 1, "max_workflows_per_workspace": 5,
                   "max_api_keys_per_workspace": 0},
        "features": {"can_use_custom_scripts": True, "can_use_api_access": False},
        "feature_list": ["Basic workflows", "Limited executions"], "display_order": 60,
    },
    "pln_pro": {
        "name": "Pro", "display_name": "Pro Plan", "type": "organization", "tier": "pro",
        "price_monthly": "29.00", "price_annual": "290.00", "description": "For teams that automate",
        "limits": {"max_members_per_workspace": 10, "max_workflows_per_workspace": 100,
                   "max_api_keys_per_workspace": 5},
        "features": {"can_use_custom_scripts": True, "can_use_api_access": True},
        "feature_list": ["Unlimited executions", "API access", "Up to 10 members"], "is_popular": True,
        "trial_days": 14, "display_order": 70,
    },
    # seed 002: organization plan
    "pln_business": {
        "name": "Business", "type": "organization", "tier": "business", "price_monthly": "299.00",
        "price_annual": "2990.00", "max_users": 50, "max_agents": 100, "storage_gb": 200, "trial_days": 14,
        "limits": {"agents_per_month": 20000, "api_calls_per_day": 10000},
        "features": {"can_use_custom_scripts": True, "can_use_api_access": True},
        "feature_list": ["All Pro features", "Up to 50 team members", "Team Collaboration"],
        "description": "For growing businesses", "display_order": 80,
    },
}


def default_plan(plan_id: str) -> Plan:
    data = PlanIn.model_validate({"is_published": True, **DEFAULT_PLANS[plan_id]})
    return plans_admin.plan_from_input(plan_id, data)


def seed_catalog() -> list[Plan]:
    """Create the default plans (and their Stripe objects) unless they exist."""
    return [plans_admin.publish_plan(default_plan(plan_id), SEEDER) for plan_id in DEFAULT_PLANS]
