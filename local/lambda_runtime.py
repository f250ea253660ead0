"""Lambda's execution model, locally: one process per execution environment.

Lambda runs each concurrent invocation of a function in its own execution
environment, one invocation at a time, and keeps an environment warm for the
next one: module state survives between the invocations of one environment
and is never shared between two. So each function gets a pool of worker
processes (`python -m local.lambda_runtime <handler>`), spawned on demand up
to a cap (beyond it invocations queue), each importing its handler once (the
cold start) and then serving invocations over a pipe: one JSON line in (the
event), one JSON line out (the result or the error).

A worker's stdout is the protocol, so the function's prints and logs are sent
to stderr, where Lambda would have them go to CloudWatch. The environment is
what Lambda gives a function: the template's variables, the reserved AWS_*
ones, and the local stack's extras; not the gateway's own. An invocation that
runs past the function's Timeout gets its environment killed, as Lambda does.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import json
import os
import select
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from local.template import LOCAL_REGION

# Lambda gives a function's initialisation (its imports) 10 s on a cold start, and when that is not enough
# retries it within the invocation, under the function's Timeout.
INIT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_ENVIRONMENTS = 10
# Variables of the gateway's own process a worker needs to run at all.
_INHERITED_VARIABLES = ("PATH", "TMPDIR", "SYSTEMROOT")


@dataclass(frozen=True)
class FunctionConfig:
    """What Lambda knows of a function: where its code is, its handler, limits and environment."""

    function_id: str
    handler: str
    code_dir: Path
    timeout_seconds: float
    memory_mb: int = 128
    environment: Mapping[str, str] = field(default_factory=dict)

    def process_environment(self) -> dict[str, str]:
        """The worker's environment: the function's variables over Lambda's reserved ones."""
        inherited = {name: os.environ[name] for name in _INHERITED_VARIABLES if name in os.environ}
        reserved = {
            "AWS_LAMBDA_FUNCTION_NAME": self.function_id,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_id}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
            "AWS_REGION": LOCAL_REGION,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_SAM_LOCAL": "true",  # what `sam local` sets: tools that check it (Powertools' tracer) stay local
            "LAMBDA_TASK_ROOT": str(self.code_dir),
            "_HANDLER": self.handler,
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",  # logs reach the console as they are written
        }
        return {**inherited, **reserved, **self.environment}


class Outcome(enum.Enum):
    SUCCEEDED = "succeeded"
    FUNCTION_ERROR = "function error"  # raised, failed to initialise, exited, or returned no JSON
    FUNCTION_TIMEOUT = "function timeout"  # ran past its Timeout: its environment was killed


@dataclass(frozen=True)
class InvocationResult:
    outcome: Outcome
    payload: Any = None  # what the handler returned, as Lambda serialises it (JSON)
    error: str = ""  # for the console: "RuntimeError: the function crashed", "Task timed out after 1.00 seconds"


class PoolClosed(RuntimeError):
    """The gateway is shutting down."""


# ------------------------------------------------------------ the gateway's side

class _EnvironmentGone(Exception):
    """The worker process exited (sys.exit, a crash, or killed)."""


class ExecutionEnvironment:
    """One worker process: a warm execution environment of one function."""

    def __init__(self, config: FunctionConfig) -> None:
        self.config = config
        # A session of its own: Ctrl-C on the console reaches the gateway, which stops its workers itself.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.lambda_runtime", config.handler], cwd=config.code_dir,
            env=config.process_environment(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            start_new_session=True)
        self._stdin, self._stdout = _piped(self.process.stdin), _piped(self.process.stdout)
        self._pending = bytearray()

    def wait_until_ready(self, timeout_seconds: float) -> dict[str, Any] | None:
        """None once the handler is imported, else Lambda's error for a failed initialisation."""
        try:
            ready = self._receive(time.monotonic() + timeout_seconds)
        except TimeoutError:
            return {"errorType": "Runtime.InitTimeout",
                    "errorMessage": f"Init timed out after {timeout_seconds:.2f} seconds"}
        except (_EnvironmentGone, ValueError):
            return {"errorType": "Runtime.ExitError", "errorMessage": "The runtime exited while initialising"}
        init_error: dict[str, Any] | None = ready.get("init_error")
        return init_error

    def invoke(self, event: Any, request_id: str) -> dict[str, Any]:
        """The worker's answer: {"result": ...} or {"error": ...}. TimeoutError past the function's Timeout,
        _EnvironmentGone if the process exits."""
        timeout = self.config.timeout_seconds
        self._send({"request_id": request_id, "event": event, "timeout_ms": int(timeout * 1000)})
        return self._receive(time.monotonic() + timeout)

    def stop(self) -> None:
        """Kill the process; the thread using the environment sees it gone and cleans up (kill)."""
        if self.process.poll() is None:
            self.process.kill()

    def kill(self) -> None:
        """Kill the process and close its pipes: only by the thread using it, or for an idle one."""
        self.stop()
        self.process.wait()
        for stream in (self._stdin, self._stdout):
            with contextlib.suppress(OSError):  # a write the dead process never read cannot be flushed
                stream.close()

    def _send(self, message: Mapping[str, Any]) -> None:
        try:
            self._stdin.write(json.dumps(message).encode() + b"\n")
            self._stdin.flush()
        except (BrokenPipeError, ValueError):  # ValueError: the pipe was closed by kill()
            raise _EnvironmentGone from None

    def _receive(self, deadline: float) -> dict[str, Any]:
        """One protocol line, read straight from the pipe so that the wait can stop at the deadline."""
        scanned = 0
        while (end := self._pending.find(b"\n", scanned)) < 0:
            scanned = len(self._pending)
            self._pending += self._read_chunk(deadline)
        line = bytes(self._pending[:end])
        del self._pending[:end + 1]
        message: dict[str, Any] = json.loads(line)
        return message

    def _read_chunk(self, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        try:
            poller = select.poll()  # not select(): a busy gateway's descriptors may number over 1024
            poller.register(self._stdout.fileno(), select.POLLIN)
            ready = poller.poll(max(1, int(remaining * 1000)))
            chunk = os.read(self._stdout.fileno(), 1 << 16) if ready else None
        except (OSError, ValueError):  # the pipe was closed by kill()
            raise _EnvironmentGone from None
        if chunk is None:
            raise TimeoutError
        if not chunk:
            raise _EnvironmentGone
        return chunk


def _piped(stream: IO[bytes] | None) -> IO[bytes]:
    if stream is None:
        raise RuntimeError("the worker was started without its pipes")
    return stream


class FunctionPool:
    """The execution environments of one function: warm ones are reused (the most recent first), new ones are
    spawned while fewer than `max_environments` exist, and beyond that invocations wait their turn."""

    def __init__(self, config: FunctionConfig, max_environments: int = DEFAULT_MAX_ENVIRONMENTS) -> None:
        self.config = config
        self.max_environments = max_environments
        self._idle: list[ExecutionEnvironment] = []
        self._all: set[ExecutionEnvironment] = set()
        self._slots_taken = 0
        self._closed = False
        self._condition = threading.Condition()

    def submit(self, event: Any, request_id: str) -> Future[InvocationResult]:
        """Start an invocation. Cancelling the future before an environment takes it means it never runs."""
        future: Future[InvocationResult] = Future()
        threading.Thread(target=self._serve, args=(future, event, request_id), daemon=True,
                         name=f"invoke-{self.config.function_id}").start()
        return future

    def close(self) -> None:
        with self._condition:
            self._closed = True
            idle, busy = list(self._idle), [env for env in self._all if env not in self._idle]
            self._all.clear()
            self._idle.clear()
            self._condition.notify_all()
        for environment in idle:
            environment.kill()
        for environment in busy:  # their invocations end as the process goes, and clean up then
            environment.stop()

    # -- one invocation

    def _serve(self, future: Future[InvocationResult], event: Any, request_id: str) -> None:
        try:
            environment = self._acquire()
        except PoolClosed as closed:
            if future.set_running_or_notify_cancel():
                future.set_exception(closed)
            return
        if not future.set_running_or_notify_cancel():  # API Gateway gave up while it queued
            self._give_back(environment)
            return
        try:
            future.set_result(self._run(environment, event, request_id))
        except BaseException as error:  # the gateway thread must learn of it, not wait forever
            future.set_exception(error)

    def _run(self, environment: ExecutionEnvironment | None, event: Any, request_id: str) -> InvocationResult:
        if environment is None:
            environment, init_error = self._cold_start()
            if init_error is not None:
                return _failure(init_error)
        try:
            answer = environment.invoke(event, request_id)
        except TimeoutError:
            self._discard(environment)
            return InvocationResult(Outcome.FUNCTION_TIMEOUT,
                                    error=f"Task timed out after {self.config.timeout_seconds:.2f} seconds")
        except (_EnvironmentGone, ValueError):  # ValueError: a line that is not the protocol's
            self._discard(environment)
            return _failure({"errorType": "Runtime.ExitError", "errorMessage": "The runtime exited"})
        self._give_back(environment)
        if "error" in answer:
            return _failure(answer["error"])
        return InvocationResult(Outcome.SUCCEEDED, payload=answer["result"])

    def _cold_start(self) -> tuple[ExecutionEnvironment, dict[str, Any] | None]:
        try:
            environment = ExecutionEnvironment(self.config)
        except OSError:
            self._give_back(None)  # the slot it was to take
            raise
        with self._condition:
            self._all.add(environment)
        init_error = environment.wait_until_ready(max(INIT_TIMEOUT_SECONDS, self.config.timeout_seconds))
        if init_error is not None:
            # As Lambda does, a failed initialisation is retried by the next invocation in a new environment.
            self._discard(environment)
        return environment, init_error

    # -- the pool

    def _acquire(self) -> ExecutionEnvironment | None:
        """A warm environment, or None for a free slot to cold-start one in."""
        with self._condition:
            while True:
                if self._closed:
                    raise PoolClosed(f"{self.config.function_id} is shutting down")
                if self._idle:
                    return self._idle.pop()
                if self._slots_taken < self.max_environments:
                    self._slots_taken += 1
                    return None
                self._condition.wait()

    def _give_back(self, environment: ExecutionEnvironment | None) -> None:
        with self._condition:
            if environment is None:
                self._slots_taken -= 1
            elif self._closed:
                environment.kill()
            else:
                self._idle.append(environment)
            self._condition.notify()

    def _discard(self, environment: ExecutionEnvironment) -> None:
        environment.kill()
        with self._condition:
            if environment in self._all:
                self._all.discard(environment)
                self._slots_taken -= 1
            self._condition.notify()


def _failure(error: Mapping[str, Any]) -> InvocationResult:
    # The worker has already written the traceback to the console, as the runtime logs it.
    return InvocationResult(Outcome.FUNCTION_ERROR,
                            error=f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}")


class LambdaService:
    """Every function of the template, each with its pool of execution environments."""

    def __init__(self, configs: Mapping[str, FunctionConfig], max_environments: int = DEFAULT_MAX_ENVIRONMENTS):
        self._pools = {function_id: FunctionPool(config, max_environments) for function_id, config in configs.items()}

    def submit(self, function_id: str, event: Any, request_id: str) -> Future[InvocationResult]:
        return self._pools[function_id].submit(event, request_id)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()


# ------------------------------------------------------------- the worker's side

def _claim_stdout() -> IO[bytes]:
    """The protocol's stream; fd 1 (print, logging, C extensions) now writes to stderr."""
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    return protocol


def _send_line(stream: IO[bytes], message: Mapping[str, Any]) -> None:
    stream.write(json.dumps(message).encode() + b"\n")
    stream.flush()


def _error_payload(error: BaseException) -> dict[str, Any]:
    # Lambda's shape for a function error.
    return {"errorType": type(error).__name__, "errorMessage": str(error),
            "stackTrace": traceback.format_exception(error)}


def _report(error: BaseException, request_id: str | None = None) -> None:
    # As the Python runtime logs an unhandled error.
    where = f" {request_id}" if request_id else ""
    print(f"[ERROR]{where} {type(error).__name__}: {error}", file=sys.stderr)
    traceback.print_exception(error, file=sys.stderr)
    sys.stderr.flush()


def _load_handler(handler: str) -> Any:
    module_name, _, function_name = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), function_name)


def _invoke(handler: Any, request: Mapping[str, Any]) -> str:
    """The answer line to one invocation request."""
    from local.apigw import LambdaContext

    context = LambdaContext(function_name=os.environ["AWS_LAMBDA_FUNCTION_NAME"],
                            timeout_seconds=request["timeout_ms"] / 1000,
                            memory_limit_in_mb=int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]),
                            aws_request_id=request["request_id"])
    try:
        result = handler(request["event"], context)
    except Exception as error:
        _report(error, request["request_id"])
        return json.dumps({"error": _error_payload(error)})
    finally:
        sys.stdout.flush()
    try:
        return json.dumps({"result": result})
    except (TypeError, ValueError) as error:  # Lambda returns the result as JSON, or fails the invocation
        _report(error, request["request_id"])
        return json.dumps({"error": {**_error_payload(error), "errorType": "Runtime.MarshalError"}})


def serve(handler_name: str) -> int:
    """The worker: import the handler, then answer one invocation per line of stdin until it closes.
    `python -m` has put the working directory, the function's code, first on sys.path, as /var/task is."""
    protocol = _claim_stdout()
    try:
        handler = _load_handler(handler_name)
    except Exception as error:
        _report(error)
        _send_line(protocol, {"init_error": {**_error_payload(error), "errorType": "Runtime.ImportModuleError"}})
        return 1
    _send_line(protocol, {"ready": True})
    for line in sys.stdin.buffer:
        protocol.write(_invoke(handler, json.loads(line)).encode() + b"\n")
        protocol.flush()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1]))
