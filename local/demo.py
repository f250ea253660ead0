"""A few hundred demo tenants for the local stack, made through the same
service an admin's POST /v1/admin/tenants uses (Stripe customers and all)."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

from local.default_catalog import DEFAULT_PLANS, SEEDER
from saas_core.models.tenants import TenantIn, TenantOut
from saas_core.services import tenants_admin

DEMO_OWNER_USER_ID = "user_demo_owner_0000"
_ADJECTIVES = ["Acme", "Blue", "Bright", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Indigo",
               "Juniper", "Kite", "Lumen", "Maple", "Nova", "Orbit"]
_NOUNS = ["Labs", "Works", "Systems", "Studio", "Analytics", "Cloud", "Robotics", "Foods", "Health", "Media",
          "Logistics", "Capital", "Energy"]


def demo_request(index: int, rng: random.Random) -> TenantIn:
    tenant_type = "organization" if index % 3 else "personal"
    plan_ids = [plan_id for plan_id, plan in DEFAULT_PLANS.items() if plan["type"] == tenant_type]
    name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {index:04d}"
    slug = name.lower().replace(" ", "-")
    return TenantIn.model_validate({
        "name": name, "email": f"owner{index:04d}@{slug}.example", "type": tenant_type,
        "plan_id": rng.choice(plan_ids), "billing_cycle": rng.choice(["monthly", "annual"]),
        "subdomain_preference": slug, "owner_user_id": f"user_demo_owner_{index:04d}",
        "chargeable": rng.random() < 0.7,
    })


def seed_demo_tenants(count: int, *, workers: int = 3) -> list[TenantOut]:
    rng = random.Random(2026)  # the same demo data every time
    requests = [demo_request(index, rng) for index in range(count)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda request: tenants_admin.create_tenant(request, SEEDER, request.email), requests))
