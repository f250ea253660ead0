"""Reading template.yaml: routes, function environments and table definitions.

The local stack and the tests take all of these from the template itself, so
what runs locally cannot drift from what deploys.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
LOCAL_REGION = "us-east-1"

_SCALAR_TAGS = {"Ref": "Ref", "Condition": "Condition"}
_FN_TAGS = ("Sub", "GetAtt", "If", "Join", "Select", "Equals", "Not", "FindInMap", "Split", "ImportValue",
            "Base64", "Cidr", "And", "Or", "GetAZs", "Transform")
# What create_table accepts; the rest of a table's properties are applied by other calls or ignored.
_CREATE_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes",
                      "BillingMode", "SSESpecification", "DeletionProtectionEnabled", "StreamSpecification")


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that reads !Ref, !Sub, !GetAtt… as their long forms."""


def _construct(tag: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        name = _SCALAR_TAGS.get(tag, f"Fn::{tag}")
        return {name: value}

    return construct


for _tag in (*_SCALAR_TAGS, *_FN_TAGS):
    _CloudFormationLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: str | Path = TEMPLATE_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as stream:
        loaded: dict[str, Any] = yaml.load(stream, Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    return loaded


@dataclass(frozen=True)
class Route:
    function_id: str
    handler: str
    method: str
    path: str


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items()
            if resource.get("Type") == "AWS::Serverless::Function"}


def api_routes(template: dict[str, Any]) -> list[Route]:
    routes = []
    for function_id, resource in _functions(template).items():
        properties = resource["Properties"]
        for event in (properties.get("Events") or {}).values():
            if event.get("Type") == "Api":
                routes.append(Route(function_id, properties["Handler"], str(event["Properties"]["Method"]).upper(),
                                    event["Properties"]["Path"]))
    return routes


def schedule_functions(template: dict[str, Any]) -> list[tuple[str, str]]:
    return [(function_id, resource["Properties"]["Handler"])
            for function_id, resource in _functions(template).items()
            if any(event.get("Type") in ("Schedule", "ScheduleV2")
                   for event in (resource["Properties"].get("Events") or {}).values())]


# ----------------------------------------------------------- environment

def _resolve(value: Any, template: dict[str, Any], table_names: dict[str, str], parameters: dict[str, str]) -> str:
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict) and "Ref" in value:
        return _ref(value["Ref"], template, table_names, parameters)
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}!]+)\}", lambda match: _ref(match.group(1), template, table_names, parameters),
                      value["Fn::Sub"])
    raise ValueError(f"cannot resolve {value!r} locally")


def _ref(name: str, template: dict[str, Any], table_names: dict[str, str], parameters: dict[str, str]) -> str:
    if name in table_names:
        return table_names[name]
    if name == "AWS::Region":
        return LOCAL_REGION
    if name == "AWS::AccountId":
        return "123456789012"
    declared = template.get("Parameters", {}).get(name)
    if declared is not None:
        return str(parameters.get(name, declared.get("Default", "")))
    raise ValueError(f"cannot resolve Ref {name!r} locally")


def function_environment(template: dict[str, Any], function_id: str, *, table_names: dict[str, str],
                         parameters: dict[str, str]) -> dict[str, str]:
    """The function's environment as Lambda would see it: Globals, then its own."""
    global_variables = (template.get("Globals", {}).get("Function", {}).get("Environment", {})
                        .get("Variables", {}))
    own = (_functions(template)[function_id]["Properties"].get("Environment", {}).get("Variables", {}))
    return {name: _resolve(value, template, table_names, parameters)
            for name, value in {**global_variables, **own}.items()}


# ---------------------------------------------------------------- tables

def _create_table_arguments(properties: dict[str, Any]) -> dict[str, Any]:
    arguments = {key: properties[key] for key in _CREATE_TABLE_KEYS if key in properties}
    sse = arguments.get("SSESpecification")
    if sse is not None:
        # CloudFormation says SSEEnabled where the API says Enabled.
        arguments["SSESpecification"] = {("Enabled" if key == "SSEEnabled" else key): value
                                         for key, value in sse.items()}
    return arguments


def table_definitions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """create_table arguments per table logical id (without TableName)."""
    return {name: _create_table_arguments(resource["Properties"])
            for name, resource in template["Resources"].items() if resource.get("Type") == "AWS::DynamoDB::Table"}


def create_tables(client: Any, table_names: dict[str, str], template: dict[str, Any] | None = None) -> None:
    template = template or load_template()
    resources = template["Resources"]
    for logical_id, definition in table_definitions(template).items():
        table_name = table_names[logical_id]
        client.create_table(TableName=table_name, **definition)
        _wait_until_active(client, table_name)
        properties = resources[logical_id]["Properties"]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
        recovery = properties.get("PointInTimeRecoverySpecification")
        if recovery:
            client.update_continuous_backups(TableName=table_name, PointInTimeRecoverySpecification=recovery)


def _wait_until_active(client: Any, table_name: str, timeout_seconds: float = 30) -> None:
    deadline = time.monotonic() + timeout_seconds
    while client.describe_table(TableName=table_name)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {table_name} is not ACTIVE")
        time.sleep(0.05)
