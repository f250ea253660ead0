"""The API's OpenAPI document, generated from the functions' own models.

Each function has its own resolver; this imports every handler template.yaml
routes to, asks each for its schema and merges them. `openapi.json` at the
repo root is this document, committed; `python -m local.openapi --check`
fails when the committed copy drifts from the code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import APIKey, HTTPBearer

from local.template import api_routes, load_template

REPO_ROOT = Path(__file__).resolve().parent.parent
OPENAPI_PATH = REPO_ROOT / "openapi.json"
TITLE = "SaaS admin and billing API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Tenants, plans, Stripe billing and usage limits. Every response uses the envelope "
    "`{success, message, data | error, errors, trace_id, timestamp}`; money is exact with two decimals."
)


def _security_schemes() -> dict[str, Any]:
    return {
        "bearerAuth": HTTPBearer(bearerFormat="JWT"),
        "apiKeyAuth": APIKey(**{"in": "header"}, name="X-Api-Key"),
    }


def _function_schema(handler: str) -> dict[str, Any]:
    module = importlib.import_module(handler.rsplit(".", 1)[0])
    schema = module.app.get_openapi_schema(title=TITLE, version=VERSION, security_schemes=_security_schemes())
    document: dict[str, Any] = schema.model_dump(mode="json", by_alias=True, exclude_none=True)
    return document


def _merge_components(into: dict[str, dict[str, Any]], components: dict[str, dict[str, Any]]) -> None:
    for kind, entries in components.items():
        known = into.setdefault(kind, {})
        for name, definition in entries.items():
            if name in known and known[name] != definition:
                raise ValueError(f"Two functions define the OpenAPI {kind} '{name}' differently")
            known[name] = definition


def build_openapi(template: dict[str, Any] | None = None) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, dict[str, Any]] = {}
    for route in api_routes(template or load_template()):
        document = _function_schema(route.handler)
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                if method in paths.get(path, {}):
                    raise ValueError(f"{method.upper()} {path} is served by two functions")
                paths.setdefault(path, {})[method] = operation
        _merge_components(components, document.get("components", {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": {kind: dict(sorted(entries.items())) for kind, entries in sorted(components.items())},
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if openapi.json is out of date")
    args = parser.parse_args(argv)
    text = render(build_openapi())
    if args.check:
        if not OPENAPI_PATH.exists() or OPENAPI_PATH.read_text() != text:
            print("openapi.json is out of date: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    OPENAPI_PATH.write_text(text)
    print(f"wrote {OPENAPI_PATH.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
