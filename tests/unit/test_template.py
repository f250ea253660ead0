"""local.template reads template.yaml as SAM and CloudFormation would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.template import (
    TEMPLATE_PATH,
    GatewayResponse,
    MethodThrottle,
    Route,
    UnresolvableError,
    api_routes,
    api_stage_name,
    cors_configuration,
    create_tables,
    function_environment,
    function_memory_mb,
    function_timeout_seconds,
    gateway_responses,
    load_template,
    method_throttles,
    post_create_settings,
    preflight_routes,
    schedule_functions,
    table_definitions,
)

TABLE_NAMES = {"TenantsTable": "t-tenants", "PlansTable": "t-plans", "UsageTable": "t-usage",
               "IdempotencyTable": "t-idempotency"}

TAGGED = """
A: !Ref Stage
B: !Sub "/${Param}"
C: !Sub ["${X}-${AWS::Region}", {X: !Ref Other}]
D: !GetAtt Table.StreamArn
E: !GetAtt Cluster.Endpoint.Address
F: !GetAtt [Table, Arn]
G: !If [IsProd, 1, 2]
H: !Join [",", [a, b]]
I: !Select [0, !Split [",", "a,b"]]
J: !Equals [!Ref Stage, prod]
K: !Not [!Condition IsProd]
L: !FindInMap [Map, Key, Value]
M: !ImportValue shared-export
N: !Base64 text
O: !Cidr [10.0.0.0/16, 4, 8]
P: !And [!Condition A, !Or [!Condition B, !Condition C]]
"""


def write(tmp_path: Path, text: str) -> dict[str, Any]:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return load_template(path)


def minimal_template(variables: dict[str, Any]) -> dict[str, Any]:
    """A template with one function, for resolution cases the real template lacks."""
    return {
        "Parameters": {"Stage": {"Type": "String", "Default": "dev"}, "Required": {"Type": "String"},
                       "Size": {"Type": "Number", "Default": 50}},
        "Globals": {"Function": {"Environment": {"Variables": {"FROM_GLOBALS": "g", "OVERRIDDEN": "global"}}}},
        "Resources": {
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
            "Layer": {"Type": "AWS::Serverless::LayerVersion", "Properties": {}},
            "Fn": {"Type": "AWS::Serverless::Function", "Properties": {
                "Handler": "pkg.mod.handler", "Environment": {"Variables": {"OVERRIDDEN": "own", **variables}}}},
        },
    }


def environment(variables: dict[str, Any], **parameters: str) -> dict[str, str]:
    return function_environment(minimal_template(variables), "Fn", table_names={"Table": "physical"},
                                parameters=parameters)


# ------------------------------------------------------------------ YAML

def test_short_tags_become_their_long_forms(tmp_path: Path) -> None:
    loaded = write(tmp_path, TAGGED)
    assert loaded["A"] == {"Ref": "Stage"}
    assert loaded["B"] == {"Fn::Sub": "/${Param}"}
    assert loaded["C"] == {"Fn::Sub": ["${X}-${AWS::Region}", {"X": {"Ref": "Other"}}]}
    assert loaded["D"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    assert loaded["E"] == {"Fn::GetAtt": ["Cluster", "Endpoint.Address"]}
    assert loaded["F"] == {"Fn::GetAtt": ["Table", "Arn"]}
    assert loaded["G"] == {"Fn::If": ["IsProd", 1, 2]}
    assert loaded["H"] == {"Fn::Join": [",", ["a", "b"]]}
    assert loaded["I"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}
    assert loaded["J"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert loaded["K"] == {"Fn::Not": [{"Condition": "IsProd"}]}
    assert loaded["L"] == {"Fn::FindInMap": ["Map", "Key", "Value"]}
    assert loaded["M"] == {"Fn::ImportValue": "shared-export"}
    assert loaded["N"] == {"Fn::Base64": "text"}
    assert loaded["O"] == {"Fn::Cidr": ["10.0.0.0/16", 4, 8]}
    assert loaded["P"] == {"Fn::And": [{"Condition": "A"}, {"Fn::Or": [{"Condition": "B"}, {"Condition": "C"}]}]}


def test_the_loader_stays_safe(tmp_path: Path) -> None:
    import yaml

    with pytest.raises(yaml.constructor.ConstructorError):
        write(tmp_path, "x: !!python/object/apply:os.system [echo]\n")


def test_the_real_template_loads_with_its_tags() -> None:
    template = load_template()
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert template["Globals"]["Function"]["Environment"]["Variables"]["STAGE"] == {"Ref": "Stage"}


# ---------------------------------------------------------------- routes

def test_every_api_event_of_template_yaml_is_a_route_or_a_preflight() -> None:
    routes = api_routes(load_template())
    preflights = preflight_routes(load_template())
    # Counted from the text, independently of the YAML reading.
    events = re.findall(r"^\s+Type: Api\s*$|Type: Api, Properties:", TEMPLATE_PATH.read_text(), re.MULTILINE)
    assert len(routes) + len(preflights) == len(events)
    assert all(route.method != "OPTIONS" for route in routes)
    assert all(route.method == "OPTIONS" for route in preflights)
    everything = [*routes, *preflights]
    assert len({(route.method, route.path) for route in everything}) == len(everything), "two functions, one route"
    # Every path of the API answers its browser preflight.
    assert {route.path for route in routes} == {route.path for route in preflights}
    found = {(route.function_id, route.method, route.path) for route in routes}
    assert {
        ("ListPublicPlansFunction", "GET", "/v1/plans"),
        ("GetPublicPlanFunction", "GET", "/v1/plans/{plan_id}"),
        ("ComparePlansFunction", "POST", "/v1/plans/compare"),
        ("AdminListPlansFunction", "GET", "/v1/admin/plans"),
        ("AdminCreatePlanFunction", "POST", "/v1/admin/plans"),
        ("AdminUpdatePlanFunction", "PUT", "/v1/admin/plans/{plan_id}"),
        ("AdminDeletePlanFunction", "DELETE", "/v1/admin/plans/{plan_id}"),
        ("AdminCreateTenantFunction", "POST", "/v1/admin/tenants"),
        ("AdminGetTenantFunction", "GET", "/v1/admin/tenants/{tenant_id}"),
        ("GetTenantPlanFunction", "GET", "/v1/tenants/{tenant_id}/plan"),
    } <= found


def test_handlers_are_package_module_function() -> None:
    for route in api_routes(load_template()):
        assert re.fullmatch(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.handler", route.handler), route


def test_methods_are_upper_cased_and_only_api_events_route(tmp_path: Path) -> None:
    template = write(tmp_path, """
Globals: {Function: {Handler: shared.app.handler}}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Get: {Type: Api, Properties: {Path: /things, Method: get}}
        Any: {Type: Api, Properties: {Path: "/things/{proxy+}", Method: any}}
        Http: {Type: HttpApi, Properties: {Path: /other, Method: GET}}
        Tick: {Type: Schedule, Properties: {Schedule: rate(1 hour)}}
  Nightly:
    Type: AWS::Serverless::Function
    Properties:
      Handler: jobs.nightly.handler
      Events:
        Cron: {Type: ScheduleV2, Properties: {ScheduleExpression: "cron(0 3 * * ? *)"}}
  Quiet:
    Type: AWS::Serverless::Function
    Properties: {Handler: jobs.quiet.handler}
""")
    assert api_routes(template) == [Route("Fn", "shared.app.handler", "GET", "/things"),
                                    Route("Fn", "shared.app.handler", "ANY", "/things/{proxy+}")]
    assert preflight_routes(template) == []
    assert schedule_functions(template) == [("Fn", "shared.app.handler"), ("Nightly", "jobs.nightly.handler")]


def test_options_events_are_preflights_and_integration_timeouts_are_read(tmp_path: Path) -> None:
    template = write(tmp_path, """
Parameters: {Wait: {Type: Number, Default: 5000}}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.fn.handler
      Events:
        Get: {Type: Api, Properties: {Path: /things, Method: GET, TimeoutInMillis: !Ref Wait}}
        Post: {Type: Api, Properties: {Path: /things, Method: POST}}
  Cors:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.cors.handler
      Events:
        Things: {Type: Api, Properties: {Path: /things, Method: options}}
""")
    assert api_routes(template) == [Route("Fn", "app.fn.handler", "GET", "/things", 5000),
                                    Route("Fn", "app.fn.handler", "POST", "/things", 29_000)]
    assert api_routes(template, parameters={"Wait": "300"})[0].integration_timeout_ms == 300
    assert preflight_routes(template) == [Route("Cors", "app.cors.handler", "OPTIONS", "/things")]


def test_timeout_and_memory_come_from_the_function_globals_or_lambdas_defaults(tmp_path: Path) -> None:
    template = write(tmp_path, """
Parameters: {Memory: {Type: Number, Default: 1024}}
Globals: {Function: {Timeout: 28, MemorySize: !Ref Memory}}
Resources:
  Own: {Type: AWS::Serverless::Function, Properties: {Handler: a.b.c, Timeout: 5, MemorySize: 256}}
  Global: {Type: AWS::Serverless::Function, Properties: {Handler: a.b.c}}
""")
    assert (function_timeout_seconds(template, "Own"), function_memory_mb(template, "Own")) == (5, 256)
    assert (function_timeout_seconds(template, "Global"), function_memory_mb(template, "Global")) == (28, 1024)
    assert function_memory_mb(template, "Global", parameters={"Memory": "2048"}) == 2048
    bare = write(tmp_path, "Resources: {Fn: {Type: AWS::Serverless::Function, Properties: {Handler: a.b.c}}}\n")
    assert (function_timeout_seconds(bare, "Fn"), function_memory_mb(bare, "Fn")) == (3, 128)
    assert function_timeout_seconds(load_template(), "AdminCreateTenantFunction") == 28


# ----------------------------------------------------------- environment

def test_function_environment_of_template_yaml_resolves_refs_and_subs() -> None:
    env = function_environment(load_template(), "GetTenantPlanFunction", table_names=TABLE_NAMES,
                               parameters={"JwtIssuer": "https://issuer.example", "Stage": "prod"})
    assert env["TENANTS_TABLE"] == "t-tenants"
    assert env["IDEMPOTENCY_TABLE"] == "t-idempotency"
    assert env["STAGE"] == "prod"
    assert env["JWT_ISSUER"] == "https://issuer.example"
    assert env["JWT_AUDIENCE"] == ""  # a parameter's Default, even an empty one
    assert env["ADMIN_API_KEY_PARAM"] == "/saas-billing/dev/admin-api-key"
    assert env["POWERTOOLS_SERVICE_NAME"] == "saas-billing"
    assert all(isinstance(value, str) for value in env.values())


def test_own_variables_override_globals_and_literals_read_as_cloudformation_writes_them() -> None:
    env = environment({"FLAG": True, "COUNT": 3, "SIZE": {"Ref": "Size"}})
    assert env["FROM_GLOBALS"] == "g"
    assert env["OVERRIDDEN"] == "own"
    assert env["FLAG"] == "true"
    assert env["COUNT"] == "3"
    assert env["SIZE"] == "50"


def test_sub_forms_and_pseudo_parameters() -> None:
    env = environment({
        "PLAIN": {"Fn::Sub": "${Stage}/${Table}/${AWS::Region}/${AWS::AccountId}"},
        "WITH_VARIABLES": {"Fn::Sub": ["${Name}-${Stage}", {"Name": {"Ref": "Table"}}]},
        "ESCAPED": {"Fn::Sub": "${!NotAVariable}"},
        "JOINED": {"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]},
        "GONE": {"Ref": "AWS::NoValue"},
    }, Stage="prod")
    assert env["PLAIN"] == "prod/physical/us-east-1/123456789012"
    assert env["WITH_VARIABLES"] == "physical-prod"
    assert env["ESCAPED"] == "${NotAVariable}"
    assert env["JOINED"] == "a-prod"
    assert "GONE" not in env


@pytest.mark.parametrize(("value", "message"), [
    ({"Ref": "Layer"}, "Ref 'Layer'"),
    ({"Ref": "Nowhere"}, "no such parameter or resource"),
    ({"Ref": "Required"}, "no Default"),
    ({"Fn::GetAtt": ["Table", "Arn"]}, "cannot resolve"),
    ({"Fn::Sub": "${Table.Arn}"}, "Fn::GetAtt"),
    ({"Fn::If": ["IsProd", "a", "b"]}, "cannot resolve"),
])
def test_what_cannot_be_resolved_is_named(value: dict[str, Any], message: str) -> None:
    with pytest.raises(UnresolvableError, match=re.escape(message)) as raised:
        environment({"BROKEN": value})
    assert "Fn: environment variable BROKEN" in str(raised.value)


def test_an_unknown_function_is_named() -> None:
    with pytest.raises(LookupError, match="NoSuchFunction"):
        function_environment(load_template(), "NoSuchFunction", table_names=TABLE_NAMES, parameters={})


# ------------------------------------------------------------------- API

def test_stage_comes_from_the_api_and_cors_is_off_unless_declared() -> None:
    template = load_template()
    assert api_stage_name(template, parameters={}) == "dev"
    assert api_stage_name(template, parameters={"Stage": "prod"}) == "prod"
    assert cors_configuration(template, parameters={}) is None


def test_cors_reads_sams_quoted_values(tmp_path: Path) -> None:
    template = write(tmp_path, """
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Cors: {AllowOrigin: "'https://app.example'", AllowHeaders: "'Authorization,Content-Type'", MaxAge: "'600'"}
""")
    cors = cors_configuration(template, parameters={})
    assert cors is not None
    assert (cors.allow_origin, cors.allow_headers, cors.max_age, cors.allow_methods) == (
        "https://app.example", "Authorization,Content-Type", "600", None)
    shorthand = write(tmp_path, "Globals: {Api: {Cors: \"'*'\"}}\nResources: {}\n")
    assert cors_configuration(shorthand, parameters={}) == cors_configuration(
        {"Resources": {}, "Globals": {"Api": {"Cors": {"AllowOrigin": "'*'"}}}}, parameters={})


def test_gateway_responses_of_template_yaml_are_read_with_static_header_values() -> None:
    responses = gateway_responses(load_template(), parameters={})
    assert {"MISSING_AUTHENTICATION_TOKEN", "THROTTLED", "REQUEST_TOO_LARGE", "INTEGRATION_TIMEOUT",
            "DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing.status_code == 404
    assert ("Cache-Control", "no-store") in missing.headers  # without the quotes API Gateway requires
    ((content_type, body),) = missing.templates
    assert content_type == "application/json"
    assert "$context.requestId" in body
    assert responses["DEFAULT_5XX"].status_code is None
    assert ("Retry-After", "1") in responses["THROTTLED"].headers


def test_a_gateway_response_header_mapped_from_the_request_is_refused(tmp_path: Path) -> None:
    template = write(tmp_path, """
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      GatewayResponses:
        DEFAULT_4XX: {ResponseParameters: {Headers: {X-Echo: method.request.header.X-Echo}}}
""")
    with pytest.raises(UnresolvableError, match="DEFAULT_4XX header X-Echo"):
        gateway_responses(template, parameters={})
    assert gateway_responses({"Resources": {}}, parameters={}) == {}
    bare = {"Resources": {"Api": {"Type": "AWS::Serverless::Api", "Properties": {
        "GatewayResponses": {"THROTTLED": {}}}}}}
    assert gateway_responses(bare, parameters={}) == {"THROTTLED": GatewayResponse(None, (), ())}


def test_method_settings_throttling_resolves_parameters_and_resource_paths(tmp_path: Path) -> None:
    assert method_throttles(load_template(), parameters={"ThrottlingRateLimit": "7"}) == [
        MethodThrottle("/*", "*", rate_limit=7.0, burst_limit=100)]
    template = write(tmp_path, """
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      MethodSettings:
        - {ResourcePath: "/~1v1~1plans", HttpMethod: get, ThrottlingBurstLimit: 3}
        - {ResourcePath: "/*", HttpMethod: "*", LoggingLevel: INFO}
""")
    assert method_throttles(template, parameters={}) == [MethodThrottle("/v1/plans", "GET", None, 3)]


# ---------------------------------------------------------------- tables

def test_table_definitions_are_create_table_arguments() -> None:
    tables = table_definitions(load_template())
    assert set(tables) == set(TABLE_NAMES)
    for definition in tables.values():
        assert "TableName" not in definition
        assert "PointInTimeRecoverySpecification" not in definition
        assert "TimeToLiveSpecification" not in definition
        assert definition["SSESpecification"] == {"Enabled": True}  # the API's name for SSEEnabled
        assert definition["BillingMode"] == "PAY_PER_REQUEST"
        assert definition["DeletionProtectionEnabled"] is True
    settings = post_create_settings(load_template())
    assert settings["UsageTable"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert settings["IdempotencyTable"]["TimeToLiveSpecification"]["AttributeName"] == "expiration"
    assert all(table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
               for table in settings.values())


def test_cloudformation_only_spellings_are_translated() -> None:
    template = {"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "TableName": "ignored-the-caller-names-tables",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
        "GlobalSecondaryIndexes": [{"IndexName": "by_id", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                                    "Projection": {"ProjectionType": "ALL"},
                                    "ContributorInsightsSpecification": {"Enabled": True}}],
        "Tags": [{"Key": "stage", "Value": {"Ref": "Stage"}}],
    }}}}
    definition = table_definitions(template)["T"]
    assert definition["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert "ContributorInsightsSpecification" not in definition["GlobalSecondaryIndexes"][0]
    assert "TableName" not in definition
    assert "Tags" in post_create_settings(template)["T"]


def test_a_conditional_table_definition_is_refused() -> None:
    template = {"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "BillingMode": {"Fn::If": ["IsProd", "PROVISIONED", "PAY_PER_REQUEST"]}}}}}
    with pytest.raises(UnresolvableError, match="T: Fn::If"):
        table_definitions(template)


def test_create_tables_builds_template_yaml_in_moto() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client, TABLE_NAMES)
        tenants = client.describe_table(TableName="t-tenants")["Table"]
        indexes = {index["IndexName"]: index for index in tenants["GlobalSecondaryIndexes"]}
        assert set(indexes) == {"members_by_user", "members_by_email", "facet_by_name", "facet_by_email",
                                "facet_by_status", "facet_by_type", "periods_due", "held_until"}
        assert indexes["members_by_user"]["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["role"]}
        assert indexes["periods_due"]["KeySchema"] == [{"AttributeName": "due_day", "KeyType": "HASH"},
                                                       {"AttributeName": "due_at", "KeyType": "RANGE"}]
        plans = client.describe_table(TableName="t-plans")["Table"]
        assert [index["IndexName"] for index in plans["GlobalSecondaryIndexes"]] == ["catalog", "held_until"]
        for name in TABLE_NAMES.values():
            table = client.describe_table(TableName=name)["Table"]
            assert table["TableStatus"] == "ACTIVE"
            assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
            assert table["DeletionProtectionEnabled"] is True
            assert table["SSEDescription"]["Status"] == "ENABLED"
            backups = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
            assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
        ttl = client.describe_time_to_live(TableName="t-usage")["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
        no_ttl = client.describe_time_to_live(TableName="t-tenants")["TimeToLiveDescription"]
        assert no_ttl["TimeToLiveStatus"] == "DISABLED"


def test_create_tables_needs_a_name_for_every_table() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        with pytest.raises(LookupError, match="UsageTable"):
            create_tables(client, {"TenantsTable": "a", "PlansTable": "b", "IdempotencyTable": "c"})
        assert client.list_tables()["TableNames"] == []  # checked before anything is created
