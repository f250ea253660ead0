"""The public catalog (seed 003 §1, §2, §4)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import invoke


def test_the_catalog_lists_published_plans_in_display_order(catalog: dict[str, Any]) -> None:
    reply = invoke("GET", "/v1/plans")
    assert reply.status == 200
    assert reply.body["success"] is True
    assert reply.body["trace_id"]
    assert reply.body["timestamp"].endswith("Z")
    ids = [plan["id"] for plan in reply.data["plans"]]
    assert ids == ["pln_free", "pln_trial", "pln_starter", "pln_professional", "pln_enterprise",
                   "pln_freemium", "pln_pro", "pln_business"]
    assert reply.data["count"] == 8


def test_prices_are_exact_numbers_in_both_seed_spellings(catalog: dict[str, Any]) -> None:
    plan = invoke("GET", "/v1/plans/pln_starter").data
    assert plan["price_monthly"] == plan["monthly_price_usd"] == plan["pricing"]["monthly"] == 19.0
    assert plan["price_annual"] == plan["yearly_price_usd"] == 190.0
    assert plan["limits"]["api_calls"] == {"max": 10000, "period": "day"}


def test_plan_details_carry_limits_features_and_the_feature_list(catalog: dict[str, Any]) -> None:
    plan = invoke("GET", "/v1/plans/pln_freemium").data
    assert plan["display_name"] == "Free Plan"
    assert plan["limits"]["members"] == {"max": 1, "period": "none"}
    assert plan["limits"]["workflows"] == {"max": 5, "period": "none"}
    assert plan["features"] == {"can_use_custom_scripts": True, "can_use_api_access": False}
    assert plan["feature_list"] == ["Basic workflows", "Limited executions"]
    assert "stripe" not in plan, "admin fields stay private"
    assert "active_subscriptions" not in plan


def test_unknown_and_malformed_plan_ids_are_both_404(catalog: dict[str, Any]) -> None:
    for plan_id in ("pln_nothing_here", "%3Cscript%3E", "does-not-exist"):
        missing = invoke("GET", f"/v1/plans/{plan_id}")
        assert missing.status == 404
        assert missing.body == {**missing.body, "success": False, "message": "Plan not found", "error": "not_found"}


def test_comparing_two_plans_shows_limit_price_and_feature_differences(catalog: dict[str, Any]) -> None:
    reply = invoke("POST", "/v1/plans/compare", body={"plan_id_1": "pln_freemium", "plan_id_2": "pln_pro"})
    assert reply.status == 200, reply.body
    data = reply.data
    assert data["plans"]["plan_1"]["name"] == "Freemium"
    assert data["plans"]["plan_2"]["name"] == "Pro"
    assert data["comparison"]["limits"]["members"]["difference"] == 9
    assert data["comparison"]["pricing"]["monthly_difference"] == 29.0
    assert data["features"]["plan_1"]["can_use_api_access"] is False
    assert data["features"]["plan_2"]["can_use_api_access"] is True


@pytest.mark.parametrize(("body", "status"), [
    ({"plan_id_1": "pln_freemium"}, 422),
    ({"plan_id_1": "pln_freemium", "plan_id_2": 7}, 422),
    ({"plan_id_1": "pln_freemium", "plan_id_2": "pln_missing"}, 404),
])
def test_bad_comparisons(catalog: dict[str, Any], body: dict[str, Any], status: int) -> None:
    reply = invoke("POST", "/v1/plans/compare", body=body)
    assert reply.status == status
    if status == 422:
        assert "plan_id_2" in reply.body["errors"]
