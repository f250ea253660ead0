"""Reading template.yaml: routes, function environments and table definitions.

The local stack and the tests take all of these from the template itself, so
what runs locally cannot drift from what deploys.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
LOCAL_REGION = "us-east-1"
LOCAL_ACCOUNT_ID = "123456789012"
LOCAL_STACK_NAME = "local"

# What a pseudo parameter stands for on the local stack.
PSEUDO_PARAMETERS = {
    "AWS::Region": LOCAL_REGION,
    "AWS::AccountId": LOCAL_ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": LOCAL_STACK_NAME,
}

_SCALAR_TAGS = {"Ref": "Ref", "Condition": "Condition"}
_FN_TAGS = ("Sub", "GetAtt", "If", "Join", "Select", "Equals", "Not", "FindInMap", "Split", "ImportValue",
            "Base64", "Cidr", "And", "Or", "GetAZs", "Transform")
# The table properties create_table takes as they are (SSE and streams are renamed on the way).
_CREATE_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes",
                      "BillingMode", "ProvisionedThroughput", "OnDemandThroughput", "SSESpecification",
                      "StreamSpecification", "TableClass", "DeletionProtectionEnabled")
# CloudFormation-only keys inside an index definition.
_INDEX_ONLY_IN_CLOUDFORMATION = ("ContributorInsightsSpecification",)


class UnresolvableError(ValueError):
    """A template value the local stack cannot compute without CloudFormation."""


# ------------------------------------------------------------------ YAML

class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that reads !Ref, !Sub, !GetAtt… as their long forms."""


def _construct(tag: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)  # only the first dot: attributes may hold dots (Endpoint.Address)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {_SCALAR_TAGS.get(tag, f"Fn::{tag}"): value}

    return construct


for _tag in (*_SCALAR_TAGS, *_FN_TAGS):
    _CloudFormationLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: str | Path = TEMPLATE_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as stream:
        loaded: dict[str, Any] = yaml.load(stream, Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    return loaded


# --------------------------------------------------------------- functions

@dataclass(frozen=True)
class Route:
    function_id: str
    handler: str
    method: str
    path: str


def _functions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items()
            if resource.get("Type") == "AWS::Serverless::Function"}


def _function(template: Mapping[str, Any], function_id: str) -> dict[str, Any]:
    try:
        return _functions(template)[function_id]
    except KeyError:
        raise LookupError(f"no AWS::Serverless::Function {function_id!r} in the template") from None


def _global_function_property(template: Mapping[str, Any], name: str) -> Any:
    return (template.get("Globals") or {}).get("Function", {}).get(name)


def _function_property(template: Mapping[str, Any], function_id: str, name: str) -> Any:
    """A function property, falling back to Globals as SAM does."""
    own = (_function(template, function_id).get("Properties") or {}).get(name)
    return own if own is not None else _global_function_property(template, name)


def function_ids(template: Mapping[str, Any]) -> list[str]:
    return list(_functions(template))


def handler_of(template: Mapping[str, Any], function_id: str) -> str:
    handler = _function_property(template, function_id, "Handler")
    if not isinstance(handler, str):
        raise UnresolvableError(f"{function_id}: Handler must be a literal string, not {handler!r}")
    return handler


def code_uri(template: Mapping[str, Any], function_id: str) -> str:
    """The function's CodeUri (a directory relative to the template), "." when it has none."""
    uri = _function_property(template, function_id, "CodeUri")
    if uri is None:
        return "."
    if not isinstance(uri, str):
        raise UnresolvableError(f"{function_id}: only a local directory CodeUri runs locally, not {uri!r}")
    return uri


def _events(template: Mapping[str, Any], function_id: str, *types: str) -> list[dict[str, Any]]:
    events = (_function(template, function_id).get("Properties") or {}).get("Events") or {}
    return [event for event in events.values() if event.get("Type") in types]


def api_routes(template: Mapping[str, Any]) -> list[Route]:
    """One Route per Api event of every function (REST API events; HttpApi ones are another API)."""
    return [Route(function_id, handler_of(template, function_id), str(event["Properties"]["Method"]).upper(),
                  str(event["Properties"]["Path"]))
            for function_id in _functions(template)
            for event in _events(template, function_id, "Api")]


def schedule_functions(template: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(function id, handler) of every function an EventBridge schedule invokes."""
    return [(function_id, handler_of(template, function_id)) for function_id in _functions(template)
            if _events(template, function_id, "Schedule", "ScheduleV2")]


# ----------------------------------------------------- intrinsic functions

_SUB_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class _Resolver:
    """Computes the few intrinsic functions whose local value is knowable."""

    template: Mapping[str, Any]
    table_names: Mapping[str, str]
    parameters: Mapping[str, str]

    def value(self, value: Any) -> str | None:
        """The value as a string, or None for AWS::NoValue (the key is then left out)."""
        if isinstance(value, bool):  # before int: bool is an int, and CloudFormation writes it lower-case
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::Sub":
                return self.sub(argument)
            if function == "Fn::Join":
                return self.join(argument)
        raise UnresolvableError(f"cannot resolve {value!r} locally (only Ref, Fn::Sub and Fn::Join are)")

    def text(self, value: Any) -> str:
        resolved = self.value(value)
        if resolved is None:
            raise UnresolvableError(f"AWS::NoValue cannot be part of a string ({value!r})")
        return resolved

    def ref(self, name: Any) -> str | None:
        if name == "AWS::NoValue":
            return None
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.table_names:
            return self.table_names[name]
        declared = (self.template.get("Parameters") or {}).get(name)
        if declared is not None:
            return self._parameter(name, declared)
        if name in (self.template.get("Resources") or {}):
            raise UnresolvableError(f"Ref {name!r}: a resource with no local name (give table_names for tables)")
        raise UnresolvableError(f"Ref {name!r}: no such parameter or resource")

    def _parameter(self, name: str, declared: Mapping[str, Any]) -> str:
        if name in self.parameters:
            return str(self.parameters[name])
        if "Default" not in declared:
            raise UnresolvableError(f"parameter {name!r} has no Default: pass it in parameters")
        return self.text(declared["Default"])

    def sub(self, argument: Any) -> str:
        text, variables = argument if isinstance(argument, list) else (argument, {})
        if not isinstance(text, str) or not isinstance(variables, dict):
            raise UnresolvableError(f"malformed Fn::Sub {argument!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is written out as ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return self.text(variables[name])
            if "." in name:
                raise UnresolvableError(f"Fn::Sub ${{{name}}}: attributes (Fn::GetAtt) have no local value")
            return self.text({"Ref": name})

        return _SUB_PLACEHOLDER.sub(replace, text)

    def join(self, argument: Any) -> str:
        if not (isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], list)):
            raise UnresolvableError(f"malformed or unresolvable Fn::Join {argument!r}")
        delimiter, values = argument
        return str(delimiter).join(self.text(value) for value in values)


def function_environment(template: Mapping[str, Any], function_id: str, *, table_names: Mapping[str, str],
                         parameters: Mapping[str, str]) -> dict[str, str]:
    """The function's environment as Lambda would see it: Globals, then its own variables on top."""
    global_variables = (_global_function_property(template, "Environment") or {}).get("Variables") or {}
    own_variables = (((_function(template, function_id).get("Properties") or {}).get("Environment") or {})
                     .get("Variables") or {})
    resolver = _Resolver(template, table_names, parameters)
    environment = {}
    for name, value in {**global_variables, **own_variables}.items():
        try:
            resolved = resolver.value(value)
        except UnresolvableError as error:
            raise UnresolvableError(f"{function_id}: environment variable {name}: {error}") from None
        if resolved is not None:
            environment[name] = resolved
    return environment


# ------------------------------------------------------------------- API

@dataclass(frozen=True)
class Cors:
    """The REST API's Cors setting, whose OPTIONS preflight answers API Gateway serves itself."""

    allow_origin: str
    allow_methods: str | None  # None: the methods of the requested path, as SAM generates them
    allow_headers: str | None
    max_age: str | None
    allow_credentials: bool


def _serverless_apis(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [resource.get("Properties") or {} for resource in template["Resources"].values()
            if resource.get("Type") == "AWS::Serverless::Api"]


def api_stage_name(template: Mapping[str, Any], *, parameters: Mapping[str, str]) -> str | None:
    """The StageName of the template's REST API, None when it declares none."""
    for properties in _serverless_apis(template):
        if "StageName" in properties:
            return _Resolver(template, {}, parameters).text(properties["StageName"])
    return None


def cors_configuration(template: Mapping[str, Any], *, parameters: Mapping[str, str]) -> Cors | None:
    """The Cors of the template's REST API (or of Globals.Api); None when preflights are not declared.

    One setting for every route: the local gateway serves the template's single REST API.
    """
    declared = next((properties["Cors"] for properties in _serverless_apis(template) if "Cors" in properties),
                    (template.get("Globals") or {}).get("Api", {}).get("Cors"))
    if declared is None:
        return None
    resolver = _Resolver(template, {}, parameters)
    if not isinstance(declared, dict):
        declared = {"AllowOrigin": declared}

    def setting(name: str) -> str | None:
        # SAM takes these as quoted header values: "'*'".
        return resolver.text(declared[name]).strip("'") if name in declared else None

    return Cors(allow_origin=setting("AllowOrigin") or "*", allow_methods=setting("AllowMethods"),
                allow_headers=setting("AllowHeaders"), max_age=setting("MaxAge"),
                allow_credentials=declared.get("AllowCredentials") is True)


# ----------------------------------------------------------------- tables

def _tables(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: resource.get("Properties") or {} for name, resource in template["Resources"].items()
            if resource.get("Type") == "AWS::DynamoDB::Table"}


def _reject_intrinsics(value: Any, where: str) -> None:
    # A table definition must be literal: there is no Conditions engine here to pick a branch.
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" or key.startswith("Fn::"):
                raise UnresolvableError(f"{where}: {key} in a table definition cannot be resolved locally")
            _reject_intrinsics(inner, where)
    elif isinstance(value, list):
        for inner in value:
            _reject_intrinsics(inner, where)


def _api_index(index: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in index.items() if key not in _INDEX_ONLY_IN_CLOUDFORMATION}


def _create_table_arguments(table_id: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    arguments = {key: properties[key] for key in _CREATE_TABLE_KEYS if key in properties}
    _reject_intrinsics(arguments, table_id)
    for indexes in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if indexes in arguments:
            arguments[indexes] = [_api_index(index) for index in arguments[indexes]]
    if "SSESpecification" in arguments:
        # CloudFormation says SSEEnabled where the API says Enabled.
        arguments["SSESpecification"] = {("Enabled" if key == "SSEEnabled" else key): value
                                         for key, value in arguments["SSESpecification"].items()}
    if "StreamSpecification" in arguments:
        # CloudFormation enables a stream by naming its view type; the API wants both.
        arguments["StreamSpecification"] = {"StreamEnabled": True,
                                            "StreamViewType": arguments["StreamSpecification"]["StreamViewType"]}
    return arguments


def table_definitions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """create_table arguments per table logical id (without TableName: the caller names tables)."""
    return {table_id: _create_table_arguments(table_id, properties)
            for table_id, properties in _tables(template).items()}


def post_create_settings(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per table, the properties create_table does not take (TimeToLiveSpecification,
    PointInTimeRecoverySpecification, Tags, …). create_tables applies TTL and point-in-time recovery."""
    return {table_id: {key: value for key, value in properties.items()
                       if key not in _CREATE_TABLE_KEYS and key != "TableName"}
            for table_id, properties in _tables(template).items()}


def create_tables(client: Any, table_names: Mapping[str, str], template: Mapping[str, Any] | None = None) -> None:
    """Create every table of the template under its physical name in table_names, as deployed."""
    template = template if template is not None else load_template()
    definitions, settings = table_definitions(template), post_create_settings(template)
    unnamed = sorted(set(definitions) - set(table_names))
    if unnamed:
        raise LookupError(f"no physical name in table_names for {', '.join(unnamed)}")
    for table_id, definition in definitions.items():
        table_name = table_names[table_id]
        client.create_table(TableName=table_name, **definition)
        _wait_until_active(client, table_name)
        _apply_post_create_settings(client, table_name, settings[table_id])


def _apply_post_create_settings(client: Any, table_name: str, settings: Mapping[str, Any]) -> None:
    ttl = settings.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
    recovery = settings.get("PointInTimeRecoverySpecification")
    if recovery and recovery.get("PointInTimeRecoveryEnabled"):
        client.update_continuous_backups(TableName=table_name, PointInTimeRecoverySpecification=recovery)


def _wait_until_active(client: Any, table_name: str, timeout_seconds: float = 30) -> None:
    # Polled rather than boto3's waiter, whose 20 s first delay would dominate local start-up.
    deadline = time.monotonic() + timeout_seconds
    while client.describe_table(TableName=table_name)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {table_name} is not ACTIVE after {timeout_seconds} s")
        time.sleep(0.05)
