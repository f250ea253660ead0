"""moto's DynamoDB server for the local stack: as strict as DynamoDB, with two workarounds.

- Strict: every DynamoDB request first goes through `local.strict_dynamodb`, the
  same check the in-process tests use, and what DynamoDB refuses is answered as
  DynamoDB answers it (reserved words, unused placeholders, limits, item and
  number sizes, client request tokens), before moto sees it.

- One request at a time: `moto_server` serves on many threads, but moto's
  backend is not thread-safe (concurrent TransactWriteItems fail with
  "dictionary changed size during iteration"). Real DynamoDB serializes
  conflicting writes anyway.
- moto backs up a table for rollback once per *item* of a transaction, a
  deep copy each time, so a 15-item transaction on a table of a few
  thousand items takes seconds. The backup is made once per table instead,
  which is what it is for.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import logging
import os
import re
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

from moto.dynamodb import models
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

from local import strict_dynamodb

DYNAMODB_TARGET_PREFIX = "DynamoDB_20120810."
MOTO_RESET_PATH = "/moto-api/reset"
_CREDENTIAL_REGION = re.compile(r"Credential=[^/,]+/[^/,]+/([^/,]+)/")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _back_up_each_table_once() -> None:
    transact_write_items = models.DynamoDBBackend.transact_write_items

    def patched(self: models.DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        copies: dict[int, Any] = {}

        def deepcopy_once(value: Any) -> Any:
            if not isinstance(value, Table):
                return copy.deepcopy(value)
            if id(value) not in copies:
                copies[id(value)] = copy.deepcopy(value)
            return copies[id(value)]

        setattr(models, "copy", types.SimpleNamespace(deepcopy=deepcopy_once))  # noqa: B010 - not a typed attribute
        try:
            transact_write_items(self, transact_items)
        finally:
            setattr(models, "copy", copy)  # noqa: B010

    models.DynamoDBBackend.transact_write_items = patched  # type: ignore[method-assign]


class StrictDynamoDBMiddleware:
    """Runs `strict_dynamodb` in front of moto's server app: a refusal is answered as
    DynamoDB answers it (HTTP 400, DynamoDB's JSON error), so botocore raises the same
    ClientError as against AWS; anything else reaches moto, and its answer is learnt
    from (client request tokens)."""

    def __init__(self, app: WsgiApp, checker: strict_dynamodb.StrictDynamoDB = strict_dynamodb.checker) -> None:
        self.app = app
        self.checker = checker

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == MOTO_RESET_PATH:
            self.checker.reset()  # moto forgets its tables: tokens go with them
        operation = _dynamodb_operation(environ)
        request = _json_body(environ) if operation else None
        if operation is None or request is None:
            return self.app(environ, start_response)
        answer = self.checker.before(operation, request, strict_dynamodb.MotoTables(_region(environ)))
        if answer is None:
            status, headers, body = _call(self.app, environ)
            answer_code = _error_code(body) if status >= 300 else None
        else:
            status, headers, body = answer.status, _headers(answer.encoded()), answer.encoded()
            answer_code = answer.error_code
        self.checker.after(operation, request, status, answer_code)
        start_response(_status_line(status), headers)
        return [body]


def _dynamodb_operation(environ: dict[str, Any]) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return target.removeprefix(DYNAMODB_TARGET_PREFIX) if target.startswith(DYNAMODB_TARGET_PREFIX) else None


def _json_body(environ: dict[str, Any]) -> dict[str, Any] | None:
    """The decoded body, put back for moto to read; None if it is not a JSON object."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return None
    return request if isinstance(request, dict) else None


def _region(environ: dict[str, Any]) -> str | None:
    match = _CREDENTIAL_REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else None


def _call(app: WsgiApp, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
        started.update(status=int(status.split(" ", 1)[0]), headers=headers)
        return lambda data: None  # the write() callable: moto never uses it

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    return started["status"], started["headers"], body


def _error_code(body: bytes) -> str | None:
    try:
        error_type = json.loads(body).get("__type")
    except (ValueError, AttributeError):
        return None
    return str(error_type).rsplit("#", 1)[-1] if error_type else None


def _headers(body: bytes) -> list[tuple[str, str]]:
    return [("Content-Type", strict_dynamodb.CONTENT_TYPE), ("Content-Length", str(len(body)))]


def _status_line(status: int) -> str:
    from http import HTTPStatus

    return f"{status} {HTTPStatus(status).phrase}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _back_up_each_table_once()
    with contextlib.suppress(KeyboardInterrupt):
        app = StrictDynamoDBMiddleware(DomainDispatcherApplication(create_backend_app))
        run_simple(args.host, args.port, app, threaded=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
