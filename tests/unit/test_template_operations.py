"""What template.yaml promises operations, read from the template itself: alarms
that watch metrics the code really emits and notify someone, logs that expire,
secrets per Stripe account, layers that outlive a rollback, and functions that
may do only what they do."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from local.template import function_ids, load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
GLOBAL_ENV: dict[str, Any] = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
FUNCTIONS = function_ids(TEMPLATE)


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in RESOURCES.items() if resource["Type"] == kind}


ALARMS = of_type("AWS::CloudWatch::Alarm")


def _emitted_metric_names() -> set[str]:
    layer = REPO_ROOT / "layers" / "common" / "saas_core"
    return {name for path in layer.rglob("*.py")
            for name in re.findall(r'telemetry\.count\(\s*"(\w+)"', path.read_text())}


def _emit(metric: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The EMF document the code writes for one metric, with the template's settings."""
    from saas_core import telemetry

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", GLOBAL_ENV["POWERTOOLS_SERVICE_NAME"])
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", GLOBAL_ENV["POWERTOOLS_METRICS_NAMESPACE"])
    capsys.readouterr()
    telemetry.count(metric)
    [line] = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    document: dict[str, Any] = json.loads(line)
    return document


@pytest.mark.parametrize("alarm_id", [name for name, alarm in ALARMS.items()
                                      if not alarm["Properties"]["Namespace"].startswith("AWS/")])
def test_each_alarm_on_our_metrics_matches_what_the_code_emits(
        alarm_id: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    alarm = ALARMS[alarm_id]["Properties"]
    assert alarm["MetricName"] in _emitted_metric_names(), f"no code emits {alarm['MetricName']}"
    emitted = _emit(alarm["MetricName"], monkeypatch, capsys)
    [directive] = emitted["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == alarm["Namespace"]
    assert [metric["Name"] for metric in directive["Metrics"]] == [alarm["MetricName"]]
    emitted_dimensions = {name: emitted[name] for name in directive["Dimensions"][0]}
    alarm_dimensions = {dimension["Name"]: dimension["Value"] for dimension in alarm.get("Dimensions", [])}
    assert alarm_dimensions == emitted_dimensions, "CloudWatch matches a metric only on all of its dimensions"


def test_the_api_alarm_names_the_api_and_stage_the_template_makes() -> None:
    alarm = ALARMS["Api5xxAlarm"]["Properties"]
    dimensions = {dimension["Name"]: dimension["Value"] for dimension in alarm["Dimensions"]}
    api = RESOURCES["Api"]["Properties"]
    assert dimensions == {"ApiName": api["Name"], "Stage": api["StageName"]}


@pytest.mark.parametrize("alarm_id", list(ALARMS))
def test_every_alarm_notifies_the_alarm_topic(alarm_id: str) -> None:
    alarm = ALARMS[alarm_id]["Properties"]
    assert {"Ref": "AlarmTopic"} in alarm["AlarmActions"]
    assert {"Ref": "AlarmTopic"} in alarm["OKActions"]


def test_the_alarm_topic_takes_an_optional_email() -> None:
    assert RESOURCES["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert TEMPLATE["Parameters"]["AlarmEmail"]["Default"] == ""


def _log_group(reference: Any) -> dict[str, Any]:
    name = reference["Ref"] if "Ref" in reference else reference["Fn::GetAtt"][0]
    group = RESOURCES[name]
    assert group["Type"] == "AWS::Logs::LogGroup"
    properties: dict[str, Any] = group["Properties"]
    return properties


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_every_function_logs_to_a_group_that_expires(function_id: str) -> None:
    config = RESOURCES[function_id]["Properties"]["LoggingConfig"]
    assert _log_group(config["LogGroup"])["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_api_access_logs_expire_and_never_hold_the_query_string() -> None:
    setting = RESOURCES["Api"]["Properties"]["AccessLogSetting"]
    assert _log_group(setting["DestinationArn"])["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert "$context.requestId" in setting["Format"]
    assert "querystring" not in setting["Format"].lower()


def test_each_stripe_account_has_its_own_webhook_signing_secret() -> None:
    parameters = TEMPLATE["Parameters"]
    assert "StripeLiveWebhookSecretParameter" in parameters
    assert "StripeTestWebhookSecretParameter" in parameters
    assert parameters["StripeLiveWebhookSecretParameter"]["Default"] != \
        parameters["StripeTestWebhookSecretParameter"]["Default"]
    assert "STRIPE_LIVE_WEBHOOK_SECRET_PARAM" in GLOBAL_ENV
    assert "STRIPE_TEST_WEBHOOK_SECRET_PARAM" in GLOBAL_ENV


def test_old_layer_versions_are_kept() -> None:
    assert RESOURCES["CommonLayer"]["Properties"]["RetentionPolicy"] == "Retain"


# ------------------------------------------------------------ least privilege

BROAD_POLICY_TEMPLATES = {"DynamoDBCrudPolicy", "DynamoDBWritePolicy", "DynamoDBReadPolicy",
                          "DynamoDBFullAccessPolicy", "AmazonDynamoDBFullAccess"}


def granted_dynamodb_actions(function_id: str) -> dict[str, set[str]]:
    """table logical id (with `/index` for index resources) -> DynamoDB actions the function may call."""
    granted: dict[str, set[str]] = {}
    for policy in RESOURCES[function_id]["Properties"].get("Policies") or []:
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for resource in resources:
                for table in _tables_named(resource):
                    granted.setdefault(table, set()).update(action for action in actions
                                                            if action.startswith("dynamodb:"))
    return granted


def _tables_named(resource: Any) -> list[str]:
    if "Fn::GetAtt" in resource:
        return [resource["Fn::GetAtt"][0]]
    if "Fn::Sub" in resource:
        match = re.fullmatch(r"\$\{(\w+)\.Arn\}/index/\*", resource["Fn::Sub"])
        assert match, f"unexpected resource {resource}"
        return [f"{match.group(1)}/index"]
    raise AssertionError(f"a policy resource must name a table of the template, not {resource}")


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_no_function_gets_a_broad_policy_or_a_wildcard(function_id: str) -> None:
    for policy in RESOURCES[function_id]["Properties"].get("Policies") or []:
        assert not (isinstance(policy, dict) and BROAD_POLICY_TEMPLATES & set(policy)), policy
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not [action for action in actions if "*" in action]
            assert "dynamodb:Scan" not in actions, "no request path scans"


def test_tenant_create_may_not_scan_or_delete_plans() -> None:
    on_plans = granted_dynamodb_actions("AdminCreateTenantFunction")["PlansTable"]
    assert "dynamodb:Scan" not in on_plans
    assert "dynamodb:DeleteItem" not in on_plans


def test_read_only_functions_cannot_write() -> None:
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    for function_id in ("ListPublicPlansFunction", "GetPublicPlanFunction", "ComparePlansFunction",
                        "AdminListPlansFunction", "AdminGetTenantFunction", "GetTenantPlanFunction"):
        for table, actions in granted_dynamodb_actions(function_id).items():
            assert not actions & writes, f"{function_id} may write {table}"


def test_every_path_answers_the_cors_preflight() -> None:
    from local.template import api_routes, preflight_routes

    preflighted = {route.path for route in preflight_routes(TEMPLATE)}
    assert {route.path for route in api_routes(TEMPLATE)} == preflighted
    assert {route.function_id for route in preflight_routes(TEMPLATE)} == {"CorsPreflightFunction"}
    assert GLOBAL_ENV["CORS_ALLOWED_ORIGINS"] == {"Ref": "CorsAllowedOrigins"}
