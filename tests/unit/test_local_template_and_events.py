"""The local stack reads template.yaml the way SAM and API Gateway would."""

from __future__ import annotations

from local.apigw import match_route, rest_event
from local.template import Route, api_routes, function_environment, load_template, table_definitions

ROUTES = [
    Route("Compare", "catalog.compare_plans.handler", "POST", "/v1/plans/compare"),
    Route("GetPlan", "catalog.get_plan.handler", "GET", "/v1/plans/{plan_id}"),
    Route("Stats", "x.stats.handler", "GET", "/v1/admin/tenants/statistics"),
    Route("Tenant", "x.tenant.handler", "GET", "/v1/admin/tenants/{tenant_id}"),
]


def test_literal_segments_win_over_parameters() -> None:
    matched = match_route(ROUTES, "GET", "/v1/admin/tenants/statistics")
    assert matched is not None
    assert matched[0].function_id == "Stats"
    matched = match_route(ROUTES, "GET", "/v1/admin/tenants/tnt_abc")
    assert matched == (ROUTES[3], {"tenant_id": "tnt_abc"})


def test_parameters_match_one_decoded_segment_and_the_method_counts() -> None:
    assert match_route(ROUTES, "GET", "/v1/plans/a%20b") == (ROUTES[1], {"plan_id": "a b"})
    assert match_route(ROUTES, "GET", "/v1/plans/a/b") is None
    assert match_route(ROUTES, "DELETE", "/v1/plans/x") is None
    assert match_route(ROUTES, "GET", "/v1/plans/compare") == (ROUTES[1], {"plan_id": "compare"})


def test_rest_events_have_api_gateways_shape() -> None:
    event = rest_event("GET", "/v1/plans/pln_pro", resource="/v1/plans/{plan_id}",
                       path_parameters={"plan_id": "pln_pro"}, headers={"X-Api-Key": "k"},
                       query={"tag": ["a", "b"]}, stage="dev", request_id="req-1")
    assert event["resource"] == "/v1/plans/{plan_id}"
    assert event["queryStringParameters"] == {"tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    assert event["multiValueHeaders"] == {"X-Api-Key": ["k"]}
    assert event["requestContext"]["path"] == "/dev/v1/plans/pln_pro"
    assert event["requestContext"]["requestId"] == "req-1"
    assert event["body"] is None


def test_every_function_is_routed_with_a_dotted_handler() -> None:
    routes = api_routes(load_template())
    assert len(routes) == len({(route.method, route.path) for route in routes})
    for route in routes:
        module, _, function = route.handler.rpartition(".")
        assert module.count(".") == 1, route
        assert function == "handler"


def test_function_environment_resolves_refs_and_subs() -> None:
    template = load_template()
    env = function_environment(template, "GetTenantPlanFunction",
                               table_names={"TenantsTable": "t", "PlansTable": "p", "UsageTable": "u",
                                            "IdempotencyTable": "i"},
                               parameters={"JwtIssuer": "https://issuer.example"})
    assert env["TENANTS_TABLE"] == "t"
    assert env["JWT_ISSUER"] == "https://issuer.example"
    assert env["ADMIN_API_KEY_PARAM"] == "/saas-billing/dev/admin-api-key"


def test_tables_are_defined_for_every_access_pattern() -> None:
    tables = table_definitions(load_template())
    assert set(tables) == {"TenantsTable", "PlansTable", "UsageTable", "IdempotencyTable"}
    tenant_indexes = {index["IndexName"] for index in tables["TenantsTable"]["GlobalSecondaryIndexes"]}
    assert tenant_indexes == {"members_by_user", "members_by_email", "facet_by_name", "facet_by_email",
                              "facet_by_status", "facet_by_type", "periods_due", "held_until"}
    assert all(table["BillingMode"] == "PAY_PER_REQUEST" for table in tables.values())
    assert all(table["DeletionProtectionEnabled"] is True for table in tables.values())
    resources = load_template()["Resources"]
    for name in tables:
        assert resources[name]["Properties"]["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True}
