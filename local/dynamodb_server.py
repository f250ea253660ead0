"""moto's DynamoDB server for the local stack, with two workarounds.

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
import logging
import os
import sys
import types
from typing import Any

from moto.dynamodb import models
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _back_up_each_table_once()
    with contextlib.suppress(KeyboardInterrupt):
        run_simple(args.host, args.port, DomainDispatcherApplication(create_backend_app), threaded=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
