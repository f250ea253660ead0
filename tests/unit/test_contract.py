"""The contract stays one contract: template.yaml, openapi.json, docs/routes.md,
events/ and the layer's pinned requirements agree with the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

from local.openapi import build_openapi, render
from local.sample_events import event_path, scheduled_event_path, scheduled_sample
from local.template import load_template, schedule_functions
from tests.support import access_of, routes

REPO_ROOT = Path(__file__).resolve().parents[2]
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def documented_routes() -> dict[tuple[str, str], str]:
    rows = re.findall(r"^\| (GET|POST|PUT|PATCH|DELETE) \| (\S+) \| (\w+) \|$",
                      (REPO_ROOT / "docs" / "routes.md").read_text(), flags=re.MULTILINE)
    return {(method, path): level for method, path, level in rows}


def openapi_routes(document: dict[str, object]) -> set[tuple[str, str]]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return {(method.upper(), path) for path, operations in paths.items() for method in operations
            if method in HTTP_METHODS}


def test_the_committed_openapi_json_matches_the_code() -> None:
    committed = (REPO_ROOT / "openapi.json").read_text()
    assert committed == render(build_openapi()), "openapi.json is stale: run `make openapi`"


def test_template_openapi_and_the_documented_routes_are_the_same_set() -> None:
    in_template = {(route.method, route.path) for route in routes()}
    in_openapi = openapi_routes(json.loads((REPO_ROOT / "openapi.json").read_text()))
    in_docs = set(documented_routes())
    assert in_template == in_openapi
    assert in_template == in_docs


def test_each_function_declares_the_documented_access_level() -> None:
    documented = documented_routes()
    for route in routes():
        assert access_of(route).value == documented[(route.method, route.path)], route


def test_every_function_has_a_sample_event_for_sam_local_invoke() -> None:
    for route in routes():
        event = json.loads(event_path(route).read_text())
        assert event["httpMethod"] == route.method
        assert event["resource"] == route.path
        assert set(event["requestContext"]) >= {"requestId", "resourcePath", "httpMethod", "stage"}


def test_every_scheduled_function_has_a_sample_event() -> None:
    for function_id, _ in schedule_functions(load_template()):
        event = json.loads(scheduled_event_path(function_id).read_text())
        assert event == scheduled_sample(function_id), "events/ is stale: run `make events`"


def test_the_layer_requirements_are_pinned_from_the_lock() -> None:
    def pins(path: Path) -> dict[str, str]:
        found = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", path.read_text(), flags=re.MULTILINE)
        return {name.lower(): version for name, version in found}

    layer = pins(REPO_ROOT / "layers" / "common" / "requirements.txt")
    lock = pins(REPO_ROOT / "requirements" / "dev.lock")
    assert layer, "the layer pins nothing"
    assert {name: lock.get(name) for name in layer} == layer
