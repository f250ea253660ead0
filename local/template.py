"""Reading template.yaml: routes (and CORS preflight routes), function settings and environments, the
API's gateway responses and throttling, table definitions, SQS queues and the SQS event sources of
functions (with the checks Lambda makes when it creates an event source mapping).

The local stack and the tests take all of these from the template itself, so
what runs locally cannot drift from what deploys.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
LOCAL_REGION = "us-east-1"
LOCAL_ACCOUNT_ID = "123456789012"
LOCAL_STACK_NAME = "local"
# API Gateway's limit on an integration (REST API), and Lambda's defaults when a function sets none.
INTEGRATION_TIMEOUT_MS = 29_000
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3
LAMBDA_DEFAULT_MEMORY_MB = 128
PREFLIGHT_METHOD = "OPTIONS"

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


class InvalidEventSourceError(ValueError):
    """An event source Lambda would refuse to create (InvalidParameterValueException), so the stack fails."""


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
    # The Api event's TimeoutInMillis: how long API Gateway waits for the function.
    integration_timeout_ms: int = INTEGRATION_TIMEOUT_MS


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


def _all_api_routes(template: Mapping[str, Any], parameters: Mapping[str, str]) -> list[Route]:
    """One Route per Api event of every function (REST API events; HttpApi ones are another API)."""
    resolver = _Resolver(template, {}, parameters)
    return [Route(function_id, handler_of(template, function_id), str(event["Properties"]["Method"]).upper(),
                  str(event["Properties"]["Path"]), _integration_timeout_ms(event["Properties"], resolver))
            for function_id in _functions(template)
            for event in _events(template, function_id, "Api")]


def _integration_timeout_ms(properties: Mapping[str, Any], resolver: _Resolver) -> int:
    declared = properties.get("TimeoutInMillis")
    return INTEGRATION_TIMEOUT_MS if declared is None else int(resolver.text(declared))


def api_routes(template: Mapping[str, Any], *, parameters: Mapping[str, str] | None = None) -> list[Route]:
    """The API's operations: every Api event but the OPTIONS ones (CORS preflights, see preflight_routes).
    This is the route table of the contract, the OpenAPI document and the auth matrix."""
    return [route for route in _all_api_routes(template, parameters or {}) if route.method != PREFLIGHT_METHOD]


def preflight_routes(template: Mapping[str, Any], *, parameters: Mapping[str, str] | None = None) -> list[Route]:
    """The Api events with Method OPTIONS: functions that answer browsers' CORS preflights."""
    return [route for route in _all_api_routes(template, parameters or {}) if route.method == PREFLIGHT_METHOD]


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
    # Queues by logical id: Ref is the URL, Fn::GetAtt Arn, QueueName and QueueUrl their values.
    queues: Mapping[str, LocalQueue] = field(default_factory=dict)

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
            if function == "Fn::GetAtt" and self._is_queue_attribute(argument):
                return self.get_att(argument)
        raise UnresolvableError(f"cannot resolve {value!r} locally (only Ref, Fn::Sub, Fn::Join and "
                                f"Fn::GetAtt of a queue are)")

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
        if name in self.queues:
            return self.queues[name].url  # Ref of an AWS::SQS::Queue is its URL
        declared = (self.template.get("Parameters") or {}).get(name)
        if declared is not None:
            return self._parameter(name, declared)
        resource = (self.template.get("Resources") or {}).get(name)
        if resource is not None and resource.get("Type") == QUEUE_TYPE:
            raise UnresolvableError(f"Ref {name!r}: a queue with no local URL (give queues, from create_queues)")
        if resource is not None:
            raise UnresolvableError(f"Ref {name!r}: a resource with no local name (give table_names for tables)")
        raise UnresolvableError(f"Ref {name!r}: no such parameter or resource")

    def _is_queue_attribute(self, argument: Any) -> bool:
        if not (isinstance(argument, list) and len(argument) == 2):
            return False
        resource = (self.template.get("Resources") or {}).get(argument[0]) or {}
        return bool(resource.get("Type") == QUEUE_TYPE)

    def get_att(self, argument: list[Any]) -> str:
        """Fn::GetAtt of a queue: Arn, QueueName or QueueUrl, once the queue has its local identity."""
        logical_id, attribute = argument
        queue = self.queues.get(logical_id)
        if queue is None:
            raise UnresolvableError(f"Fn::GetAtt {logical_id}.{attribute}: a queue with no local identity "
                                    f"(give queues, from create_queues)")
        values = {"Arn": queue.arn, "QueueName": queue.name, "QueueUrl": queue.url}
        if attribute not in values:
            raise UnresolvableError(f"Fn::GetAtt {logical_id}.{attribute}: a queue has Arn, QueueName and QueueUrl")
        return values[attribute]

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
                attribute = name.split(".", 1)
                if self._is_queue_attribute(attribute):
                    return self.get_att(attribute)
                raise UnresolvableError(f"Fn::Sub ${{{name}}}: attributes (Fn::GetAtt) have no local value")
            return self.text({"Ref": name})

        return _SUB_PLACEHOLDER.sub(replace, text)

    def join(self, argument: Any) -> str:
        if not (isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], list)):
            raise UnresolvableError(f"malformed or unresolvable Fn::Join {argument!r}")
        delimiter, values = argument
        return str(delimiter).join(self.text(value) for value in values)


def function_environment(template: Mapping[str, Any], function_id: str, *, table_names: Mapping[str, str],
                         parameters: Mapping[str, str],
                         queues: Mapping[str, LocalQueue] | None = None) -> dict[str, str]:
    """The function's environment as Lambda would see it: Globals, then its own variables on top.
    `queues` (from create_queues or planned_queues) resolves Ref of a queue (its URL) and its Fn::GetAtt."""
    global_variables = (_global_function_property(template, "Environment") or {}).get("Variables") or {}
    own_variables = (((_function(template, function_id).get("Properties") or {}).get("Environment") or {})
                     .get("Variables") or {})
    resolver = _Resolver(template, table_names, parameters, queues or {})
    environment = {}
    for name, value in {**global_variables, **own_variables}.items():
        try:
            resolved = resolver.value(value)
        except UnresolvableError as error:
            raise UnresolvableError(f"{function_id}: environment variable {name}: {error}") from None
        if resolved is not None:
            environment[name] = resolved
    return environment


def _numeric_property(template: Mapping[str, Any], function_id: str, name: str, default: int,
                      parameters: Mapping[str, str]) -> int:
    declared = _function_property(template, function_id, name)
    if declared is None:
        return default
    return int(_Resolver(template, {}, parameters).text(declared))


def function_timeout_seconds(template: Mapping[str, Any], function_id: str, *,
                             parameters: Mapping[str, str] | None = None) -> int:
    """The function's Timeout (its own, else Globals, else Lambda's default of 3 s)."""
    return _numeric_property(template, function_id, "Timeout", LAMBDA_DEFAULT_TIMEOUT_SECONDS, parameters or {})


def function_memory_mb(template: Mapping[str, Any], function_id: str, *,
                       parameters: Mapping[str, str] | None = None) -> int:
    """The function's MemorySize (its own, else Globals, else Lambda's default of 128 MB)."""
    return _numeric_property(template, function_id, "MemorySize", LAMBDA_DEFAULT_MEMORY_MB, parameters or {})


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


def _api_setting(template: Mapping[str, Any], name: str) -> Any:
    """A property of the template's REST API, else of Globals.Api (SAM's fallback); None when neither has it."""
    declared = next((properties[name] for properties in _serverless_apis(template) if name in properties), None)
    return declared if declared is not None else (template.get("Globals") or {}).get("Api", {}).get(name)


@dataclass(frozen=True)
class GatewayResponse:
    """One of the API's GatewayResponses: how API Gateway writes an error it makes itself."""

    status_code: int | None  # None: the response type's own status
    headers: tuple[tuple[str, str], ...]
    templates: tuple[tuple[str, str], ...]  # (content type, body template), in the template's order


def _static_header_value(value: str, where: str) -> str:
    # API Gateway takes a static header value in single quotes; anything else maps a request value,
    # which the local gateway does not emulate.
    if len(value) >= 2 and value.startswith("'") and value.endswith("'"):
        return value[1:-1]
    raise UnresolvableError(f"{where}: only static values ('text') are supported locally, not {value!r}")


def _gateway_response(response_type: str, declared: Mapping[str, Any], resolver: _Resolver) -> GatewayResponse:
    status = declared.get("StatusCode")
    headers = ((declared.get("ResponseParameters") or {}).get("Headers") or {})
    templates = declared.get("ResponseTemplates") or {}
    return GatewayResponse(
        status_code=None if status is None else int(resolver.text(status)),
        headers=tuple((name, _static_header_value(resolver.text(value), f"{response_type} header {name}"))
                      for name, value in headers.items()),
        templates=tuple((content_type, resolver.text(body)) for content_type, body in templates.items()),
    )


def gateway_responses(template: Mapping[str, Any], *, parameters: Mapping[str, str]) -> dict[str, GatewayResponse]:
    """The REST API's GatewayResponses by response type (MISSING_AUTHENTICATION_TOKEN, DEFAULT_5XX, ...)."""
    declared = _api_setting(template, "GatewayResponses") or {}
    resolver = _Resolver(template, {}, parameters)
    return {response_type: _gateway_response(response_type, settings or {}, resolver)
            for response_type, settings in declared.items()}


@dataclass(frozen=True)
class MethodThrottle:
    """One MethodSettings entry's throttling: a token bucket per API method it covers."""

    resource_path: str  # "/*" for every resource, else the resource path ("/v1/plans")
    http_method: str  # "*" for every method
    rate_limit: float | None  # requests per second; None: not set here
    burst_limit: int | None  # bucket size; None: not set here


def _decoded_resource_path(path: str) -> str:
    # A MethodSettings path is "/" then the resource path with its slashes escaped as in a JSON pointer:
    # /~1v1~1plans is /v1/plans.
    return path if path == "/*" else path.removeprefix("/").replace("~1", "/").replace("~0", "~")


def method_throttles(template: Mapping[str, Any], *, parameters: Mapping[str, str]) -> list[MethodThrottle]:
    """The throttling of the REST API's stage, from its MethodSettings (template parameters resolved)."""
    resolver = _Resolver(template, {}, parameters)

    def number(setting: Mapping[str, Any], name: str) -> float | None:
        return float(resolver.text(setting[name])) if name in setting else None

    throttles = []
    for setting in _api_setting(template, "MethodSettings") or []:
        rate, burst = number(setting, "ThrottlingRateLimit"), number(setting, "ThrottlingBurstLimit")
        if rate is None and burst is None:
            continue
        throttles.append(MethodThrottle(
            resource_path=_decoded_resource_path(resolver.text(setting.get("ResourcePath", "/*"))),
            http_method=resolver.text(setting.get("HttpMethod", "*")).upper(),
            rate_limit=rate, burst_limit=None if burst is None else int(burst)))
    return throttles


def cors_configuration(template: Mapping[str, Any], *, parameters: Mapping[str, str]) -> Cors | None:
    """The Cors of the template's REST API (or of Globals.Api); None when preflights are not declared.

    One setting for every route: the local gateway serves the template's single REST API.
    """
    declared = _api_setting(template, "Cors")
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


# ----------------------------------------------------------------- queues

QUEUE_TYPE = "AWS::SQS::Queue"
SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30
FIFO_SUFFIX = ".fifo"
# CloudFormation's queue properties that are CreateQueue attributes of the same name and value.
_QUEUE_ATTRIBUTES = ("ContentBasedDeduplication", "DeduplicationScope", "DelaySeconds", "FifoQueue",
                     "FifoThroughputLimit", "KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "MaximumMessageSize",
                     "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds", "SqsManagedSseEnabled",
                     "VisibilityTimeout")
# The ones CloudFormation takes as a JSON object and CreateQueue as a JSON string.
_QUEUE_JSON_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")


@dataclass(frozen=True)
class QueueRedrive:
    """A queue's RedrivePolicy: after max_receive_count receives, SQS moves a message to the dead-letter queue."""

    dead_letter_arn: str
    dead_letter_queue_id: str | None  # its logical id when the template declares it
    max_receive_count: int


@dataclass(frozen=True)
class LocalQueue:
    """A queue of the template as it exists locally: Ref gives `url`, Fn::GetAtt Arn and QueueName the others."""

    logical_id: str
    name: str
    url: str
    arn: str
    fifo: bool = False
    visibility_timeout_seconds: int = SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS
    redrive: QueueRedrive | None = None


def _queues(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: resource.get("Properties") or {} for name, resource in template["Resources"].items()
            if resource.get("Type") == QUEUE_TYPE}


def queue_ids(template: Mapping[str, Any]) -> list[str]:
    """The logical ids of the template's queues, dead-letter queues before the queues that name them."""
    queues = _queues(template)
    ordered: list[str] = []

    def visit(logical_id: str, path: tuple[str, ...]) -> None:
        if logical_id in ordered:
            return
        if logical_id in path:
            raise UnresolvableError(f"queues redrive to each other: {' -> '.join((*path, logical_id))}")
        dead_letter = _dead_letter_queue_id(queues[logical_id].get("RedrivePolicy"))
        if dead_letter is not None and dead_letter in queues:
            visit(dead_letter, (*path, logical_id))
        ordered.append(logical_id)

    for logical_id in queues:
        visit(logical_id, ())
    return ordered


def _dead_letter_queue_id(policy: Any) -> str | None:
    """The logical id a RedrivePolicy's deadLetterTargetArn names with Fn::GetAtt (None for a literal ARN)."""
    target = policy.get("deadLetterTargetArn") if isinstance(policy, dict) else None
    if isinstance(target, dict) and isinstance(target.get("Fn::GetAtt"), list):
        logical_id, attribute = target["Fn::GetAtt"]
        return str(logical_id) if attribute == "Arn" else None
    return None


def _queue_name(logical_id: str, properties: Mapping[str, Any], resolver: _Resolver, stack_name: str) -> str:
    if "QueueName" in properties:
        return resolver.text(properties["QueueName"])
    # CloudFormation names an unnamed queue after the stack and the logical id (plus a random suffix), within
    # SQS's 80 characters, and a FIFO queue's name must end in .fifo.
    base = f"{stack_name}-{logical_id}"
    if _is_fifo(properties, resolver):
        return base[:80 - len(FIFO_SUFFIX)] + FIFO_SUFFIX
    return base[:80]


def _is_fifo(properties: Mapping[str, Any], resolver: _Resolver) -> bool:
    declared = properties.get("FifoQueue")
    return declared is not None and resolver.value(declared) == "true"


def planned_queues(template: Mapping[str, Any], *, parameters: Mapping[str, str] | None = None,
                   endpoint_url: str | None = None, stack_name: str = LOCAL_STACK_NAME) -> dict[str, LocalQueue]:
    """The identity each queue of the template gets locally, before it is created: its name (the template's
    QueueName, else `<stack>-<logical id>`), the URL moto gives it at `endpoint_url` (AWS's own URL when
    none) and its ARN. create_queues returns the same, as the server answered."""
    parameters = parameters or {}
    base_url = (endpoint_url or f"https://sqs.{LOCAL_REGION}.amazonaws.com").rstrip("/")
    resolver = _Resolver(template, {}, parameters)
    named = {}
    for logical_id, properties in _queues(template).items():
        try:
            name = _queue_name(logical_id, properties, resolver, stack_name)
        except UnresolvableError as error:
            raise UnresolvableError(f"{logical_id}: {error}") from None
        named[logical_id] = LocalQueue(logical_id, name, f"{base_url}/{LOCAL_ACCOUNT_ID}/{name}",
                                       f"arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:{name}")
    resolver = _Resolver(template, {}, parameters, named)
    return {logical_id: _described(queue, _queues(template)[logical_id], resolver)
            for logical_id, queue in named.items()}


def _described(queue: LocalQueue, properties: Mapping[str, Any], resolver: _Resolver) -> LocalQueue:
    """The queue with what its properties say of it (FIFO, visibility timeout, redrive policy)."""
    try:
        visibility = properties.get("VisibilityTimeout")
        visibility_seconds = (SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS if visibility is None
                              else int(resolver.text(visibility)))
        redrive = None
        policy = properties.get("RedrivePolicy")
        if policy is not None:
            resolved = json.loads(_json_attribute(policy, resolver))
            if "deadLetterTargetArn" not in resolved or "maxReceiveCount" not in resolved:
                raise UnresolvableError("a RedrivePolicy names deadLetterTargetArn and maxReceiveCount")
            redrive = QueueRedrive(str(resolved["deadLetterTargetArn"]), _dead_letter_queue_id(policy),
                                   int(resolved["maxReceiveCount"]))
        return LocalQueue(queue.logical_id, queue.name, queue.url, queue.arn, fifo=_is_fifo(properties, resolver),
                          visibility_timeout_seconds=visibility_seconds, redrive=redrive)
    except UnresolvableError as error:
        raise UnresolvableError(f"{queue.logical_id}: {error}") from None


def _json_attribute(value: Any, resolver: _Resolver) -> str:
    """A JSON attribute (RedrivePolicy...) as CreateQueue takes it: a JSON string, its intrinsics resolved."""
    if isinstance(value, str):
        return value
    return json.dumps(_resolved_json(value, resolver), separators=(",", ":"))


def _resolved_json(value: Any, resolver: _Resolver) -> Any:
    if isinstance(value, dict):
        (key,) = value if len(value) == 1 else ("",)
        if key == "Ref" or key.startswith("Fn::"):
            resolved = resolver.text(value)
            return int(resolved) if resolved.isdigit() else resolved
        return {key: _resolved_json(inner, resolver) for key, inner in value.items()}
    if isinstance(value, list):
        return [_resolved_json(inner, resolver) for inner in value]
    return value


def _create_queue_arguments(logical_id: str, queue: LocalQueue, properties: Mapping[str, Any],
                            resolver: _Resolver) -> dict[str, Any]:
    unsupported = sorted(set(properties) - {*_QUEUE_ATTRIBUTES, *_QUEUE_JSON_ATTRIBUTES, "QueueName", "Tags"})
    if unsupported:
        raise UnresolvableError(f"{logical_id}: queue properties not supported locally: {', '.join(unsupported)}")
    attributes: dict[str, str] = {}
    try:
        for name in _QUEUE_ATTRIBUTES:
            if name in properties:
                value = resolver.value(properties[name])
                if value is not None:
                    attributes[name] = value
        for name in _QUEUE_JSON_ATTRIBUTES:
            if name in properties:
                attributes[name] = _json_attribute(properties[name], resolver)
        tags = {resolver.text(tag["Key"]): resolver.text(tag["Value"]) for tag in properties.get("Tags") or []}
    except UnresolvableError as error:
        raise UnresolvableError(f"{logical_id}: {error}") from None
    arguments: dict[str, Any] = {"QueueName": queue.name, "Attributes": attributes}
    if tags:
        arguments["tags"] = tags
    return arguments


def queue_definitions(template: Mapping[str, Any], *,
                      parameters: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """create_queue arguments (QueueName, Attributes, tags) per queue logical id, in the order to create them
    (dead-letter queues first); references between queues resolved to their planned identities."""
    planned = planned_queues(template, parameters=parameters)
    resolver = _Resolver(template, {}, parameters or {}, planned)
    properties = _queues(template)
    return {logical_id: _create_queue_arguments(logical_id, planned[logical_id], properties[logical_id], resolver)
            for logical_id in queue_ids(template)}


def create_queues(client: Any, template: Mapping[str, Any], parameters: Mapping[str, str] | None = None, *,
                  stack_name: str = LOCAL_STACK_NAME) -> dict[str, LocalQueue]:
    """Create every queue of the template on `client` (a boto3 SQS client), dead-letter queues first so that
    each RedrivePolicy names the ARN its dead-letter queue was given. The queues by logical id, with the URL
    and ARN the server gave them: pass them to function_environment (queues=...)."""
    parameters = parameters or {}
    endpoint = getattr(getattr(client, "meta", None), "endpoint_url", None)
    queues = planned_queues(template, parameters=parameters, endpoint_url=endpoint, stack_name=stack_name)
    properties = _queues(template)
    for logical_id in queue_ids(template):
        resolver = _Resolver(template, {}, parameters, queues)
        arguments = _create_queue_arguments(logical_id, queues[logical_id], properties[logical_id], resolver)
        url = client.create_queue(**arguments)["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        created = LocalQueue(logical_id, queues[logical_id].name, url, arn)
        queues[logical_id] = _described(created, properties[logical_id],
                                        _Resolver(template, {}, parameters, {**queues, logical_id: created}))
    return queues


# --------------------------------------------------------- SQS event sources

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
SQS_DEFAULT_BATCH_SIZE = 10
# What Lambda accepts in an SQS event source mapping.
SQS_MAX_BATCH_SIZE = 10_000
SQS_MAX_FIFO_BATCH_SIZE = 10
SQS_MAX_BATCHING_WINDOW_SECONDS = 300
SQS_MIN_MAXIMUM_CONCURRENCY, SQS_MAX_MAXIMUM_CONCURRENCY = 2, 1000
_SQS_EVENT_PROPERTIES = {"Queue", "BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "Enabled",
                         "ScalingConfig", "MetricsConfig", "KmsKeyArn"}


@dataclass(frozen=True)
class SqsEventSource:
    """An SQS event of a function: Lambda's event source mapping from the queue to the function."""

    function_id: str
    queue_id: str  # the queue's logical id
    event_id: str = "SQS"
    batch_size: int = SQS_DEFAULT_BATCH_SIZE
    maximum_batching_window_seconds: int = 0
    function_response_types: tuple[str, ...] = ()
    enabled: bool = True
    maximum_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency

    @property
    def reports_batch_item_failures(self) -> bool:
        return REPORT_BATCH_ITEM_FAILURES in self.function_response_types


def _sqs_event_source(template: Mapping[str, Any], function_id: str, event_id: str, properties: Mapping[str, Any],
                      queues: Mapping[str, LocalQueue], parameters: Mapping[str, str]) -> SqsEventSource:
    where = f"{function_id} event {event_id}"
    if "FilterCriteria" in properties:
        raise UnresolvableError(f"{where}: FilterCriteria is not emulated locally (the function would get "
                                f"messages Lambda filters out)")
    unknown = sorted(set(properties) - _SQS_EVENT_PROPERTIES)
    if unknown:
        raise UnresolvableError(f"{where}: SQS event properties not supported locally: {', '.join(unknown)}")
    queue_arn = properties.get("Queue")
    target = queue_arn.get("Fn::GetAtt") if isinstance(queue_arn, dict) else None
    if not (isinstance(target, list) and len(target) == 2 and target[1] == "Arn" and target[0] in queues):
        raise UnresolvableError(f"{where}: Queue must be !GetAtt <a queue of the template>.Arn, not {queue_arn!r} "
                                f"(an outside queue does not exist locally)")
    queue = queues[target[0]]
    resolver = _Resolver(template, {}, parameters, queues)

    def number(name: str, default: int) -> int:
        declared = properties.get(name)
        return default if declared is None else int(resolver.text(declared))

    batch_size = number("BatchSize", SQS_DEFAULT_BATCH_SIZE)
    window = number("MaximumBatchingWindowInSeconds", 0)
    response_types = tuple(resolver.text(value) for value in properties.get("FunctionResponseTypes") or [])
    enabled = properties.get("Enabled")
    scaling = properties.get("ScalingConfig") or {}
    concurrency = scaling.get("MaximumConcurrency")
    source = SqsEventSource(
        function_id=function_id, queue_id=queue.logical_id, event_id=event_id, batch_size=batch_size,
        maximum_batching_window_seconds=window, function_response_types=response_types,
        enabled=enabled is None or resolver.value(enabled) == "true",
        maximum_concurrency=None if concurrency is None else int(resolver.text(concurrency)))
    _check_event_source(where, source, queue, function_timeout_seconds(template, function_id, parameters=parameters))
    return source


def _check_event_source(where: str, source: SqsEventSource, queue: LocalQueue, function_timeout: int) -> None:
    """What CreateEventSourceMapping refuses with InvalidParameterValueException."""
    problems = []
    if queue.visibility_timeout_seconds < function_timeout:
        # Lambda's own words.
        problems.append(f"Queue visibility timeout: {queue.visibility_timeout_seconds} seconds is less than "
                        f"Function timeout: {function_timeout} seconds")
    max_batch = SQS_MAX_FIFO_BATCH_SIZE if queue.fifo else SQS_MAX_BATCH_SIZE
    if not 1 <= source.batch_size <= max_batch:
        problems.append(f"BatchSize {source.batch_size} is out of range: 1 to {max_batch} for "
                        f"{'a FIFO' if queue.fifo else 'a standard'} queue")
    if not 0 <= source.maximum_batching_window_seconds <= SQS_MAX_BATCHING_WINDOW_SECONDS:
        problems.append(f"MaximumBatchingWindowInSeconds {source.maximum_batching_window_seconds} is out of range: "
                        f"0 to {SQS_MAX_BATCHING_WINDOW_SECONDS}")
    if queue.fifo and source.maximum_batching_window_seconds:
        problems.append("Batching window is not supported for FIFO queues")
    if source.batch_size > SQS_DEFAULT_BATCH_SIZE and source.maximum_batching_window_seconds < 1:
        problems.append("Maximum batch window in seconds must be greater than 0 if maximum batch size is "
                        "greater than 10")
    unknown_types = sorted(set(source.function_response_types) - {REPORT_BATCH_ITEM_FAILURES})
    if unknown_types:
        problems.append(f"FunctionResponseTypes can only hold {REPORT_BATCH_ITEM_FAILURES}, not "
                        f"{', '.join(unknown_types)}")
    if source.maximum_concurrency is not None and not (
            SQS_MIN_MAXIMUM_CONCURRENCY <= source.maximum_concurrency <= SQS_MAX_MAXIMUM_CONCURRENCY):
        problems.append(f"ScalingConfig.MaximumConcurrency {source.maximum_concurrency} is out of range: "
                        f"{SQS_MIN_MAXIMUM_CONCURRENCY} to {SQS_MAX_MAXIMUM_CONCURRENCY}")
    if problems:
        raise InvalidEventSourceError(f"{where} (queue {queue.logical_id}): {'; '.join(problems)}")


def sqs_event_sources(template: Mapping[str, Any], *, parameters: Mapping[str, str] | None = None,
                      queues: Mapping[str, LocalQueue] | None = None) -> list[SqsEventSource]:
    """Every SQS event of every function (Enabled: false ones too), checked as Lambda checks a new event source
    mapping: InvalidEventSourceError when the queue's visibility timeout is below the function's Timeout, a
    batch size or window out of range, a batching window on a FIFO queue, an unknown response type.
    `queues` defaults to planned_queues (a queue's settings do not depend on where it is created)."""
    parameters = parameters or {}
    queues = queues if queues is not None else planned_queues(template, parameters=parameters)
    return [_sqs_event_source(template, function_id, event_id, event.get("Properties") or {}, queues, parameters)
            for function_id in _functions(template)
            for event_id, event in ((_function(template, function_id).get("Properties") or {}).get("Events")
                                    or {}).items()
            if event.get("Type") == "SQS"]
