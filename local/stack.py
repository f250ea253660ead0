"""`make dev`: the whole product on one machine, with no AWS, Docker or Stripe account.

Starts moto's server (DynamoDB, and SQS at the same URL) and the Stripe
emulator as child processes, creates the tables and queues from
template.yaml, loads the default catalog and demo tenants through the
product's own services, then serves every function of template.yaml through
the local API Gateway on PORT, and runs the functions' SQS events as Lambda
does (local.sqs; GET /_local/queues shows each queue's depth). Ctrl-C stops
it all.

Environment: PORT (3000), JWT_SECRET (HS256 secret of local tokens),
ADMIN_API_KEY, STRIPE_SECRET_KEY (a real sk_test_ key switches to Stripe
test mode instead of the emulator), STRIPE_WEBHOOK_SECRET (the whsec_ that
`stripe listen` prints: the test account's signing secret; with a real key the
live account has none, so live events are refused), DEMO_TENANTS (300), PARAMETER_OVERRIDES
(template parameters as `Key=Value Key=Value`, as `sam deploy
--parameter-overrides` takes them; `--parameter-overrides` does the same).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType

from local.gateway import Gateway
from local.template import (
    LOCAL_REGION,
    LocalQueue,
    api_routes,
    create_queues,
    create_tables,
    function_environment,
    load_template,
    sqs_event_sources,
)
from local.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER, issue_token

HOST = "127.0.0.1"
TABLE_NAMES = {"TenantsTable": "tenants", "PlansTable": "plans", "UsageTable": "usage",
               "IdempotencyTable": "idempotency"}
DEFAULT_JWT_SECRET = "local-dev-jwt-secret-not-for-production"  # noqa: S105 - local only
DEFAULT_ADMIN_API_KEY = "local-admin-key"
EMULATOR_LIVE_KEY = "sk_live_emulator"
EMULATOR_TEST_KEY = "sk_test_emulator"
# Each account signs with its own secret, as on Stripe: a test secret never verifies a live event.
EMULATOR_WEBHOOK_SECRETS = {"live": "whsec_local_live_emulator", "test": "whsec_local_test_emulator"}
STARTUP_TIMEOUT_SECONDS = 30
WEBHOOK_PATH = "/v1/webhooks/stripe"


@dataclass
class StackInfo:
    """What a person (or the HTTP tests) needs to use the running stack."""

    base_url: str
    dynamodb_url: str
    stripe_url: str | None
    admin_api_key: str
    admin_token: str
    owner_token: str
    owner_tenant_id: str | None
    jwt_secret: str
    sqs_url: str = ""  # moto's SQS endpoint (the same server as DynamoDB)
    queue_urls: dict[str, str] = field(default_factory=dict)  # by the queue's logical id in template.yaml
    webhook_secrets: dict[str, str] = field(default_factory=dict)  # the signing secret of each account


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within {STARTUP_TIMEOUT_SECONDS} s ({url})")


def parse_parameter_overrides(overrides: list[str]) -> dict[str, str]:
    """`Key=Value` pairs (as sam deploy --parameter-overrides takes them) as a mapping."""
    parsed = {}
    for override in overrides:
        key, separator, value = override.partition("=")
        if not separator or not key:
            raise ValueError(f"a parameter override is Key=Value, not {override!r}")
        parsed[key] = value
    return parsed


class LocalStack:
    def __init__(self, *, port: int, demo_tenants: int, quiet: bool = False,
                 parameters: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.demo_tenants = demo_tenants
        self.quiet = quiet
        self.parameters = parameters or {}
        self.children: list[subprocess.Popen[bytes]] = []
        self.gateway: Gateway | None = None
        self.jwt_secret = os.environ.get("JWT_SECRET") or DEFAULT_JWT_SECRET
        self.admin_api_key = os.environ.get("ADMIN_API_KEY") or DEFAULT_ADMIN_API_KEY
        real_key = os.environ.get("STRIPE_SECRET_KEY", "")
        self.real_stripe_key = real_key if real_key.startswith("sk_test_") else ""
        self.webhook_secrets = webhook_secrets(self.real_stripe_key, os.environ.get("STRIPE_WEBHOOK_SECRET", ""))
        # The emulator delivers events only once a function serves the webhook route.
        self.has_webhook_route = any(route.path == WEBHOOK_PATH for route in api_routes(load_template()))

    # -- child processes

    def _spawn(self, *command: str) -> None:
        output = subprocess.DEVNULL if self.quiet else None
        self.children.append(subprocess.Popen(command, stdout=output, stderr=output))

    def _start_dynamodb(self) -> str:
        port = free_port()
        self._spawn(sys.executable, "-m", "local.dynamodb_server", "--host", HOST, "--port", str(port))
        url = f"http://{HOST}:{port}"
        wait_until_up(url, "moto DynamoDB server")
        return url

    def _start_stripe_emulator(self) -> str:
        port = free_port()
        command = [sys.executable, "-m", "local.stripe_emulator", "--host", HOST, "--port", str(port)]
        if self.has_webhook_route:
            command += ["--webhook-url", f"http://{HOST}:{self.port}{WEBHOOK_PATH}",
                        "--webhook-secret-live", self.webhook_secrets["live"],
                        "--webhook-secret-test", self.webhook_secrets["test"]]
        self._spawn(*command)
        url = f"http://{HOST}:{port}"
        wait_until_up(url + "/_emulator/clock", "Stripe emulator")
        return url

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.close()  # the functions' execution environments too
            self.gateway = None
        for child in self.children:
            child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
        self.children.clear()

    # -- environment shared by the seeding code and every function

    def _environment(self, dynamodb_url: str, stripe_url: str | None) -> dict[str, str]:
        env = {
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
            "AWS_ENDPOINT_URL_SQS": dynamodb_url,  # one moto server serves both
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "JWT_ISSUER": LOCAL_ISSUER, "JWT_AUDIENCE": LOCAL_AUDIENCE, "JWT_SECRET": self.jwt_secret,
            "ADMIN_API_KEY": self.admin_api_key,
            "STRIPE_LIVE_WEBHOOK_SECRET": self.webhook_secrets["live"],
            "STRIPE_TEST_WEBHOOK_SECRET": self.webhook_secrets["test"],
            "POWERTOOLS_METRICS_NAMESPACE": "SaasBillingLocal",
            # No CloudWatch here to read EMF lines: keep the console for requests.
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        if self.real_stripe_key:
            env["STRIPE_SECRET_KEY"] = self.real_stripe_key
        else:
            env |= {"STRIPE_API_BASE": stripe_url or "", "STRIPE_LIVE_SECRET_KEY": EMULATOR_LIVE_KEY,
                    "STRIPE_TEST_SECRET_KEY": EMULATOR_TEST_KEY}
        return env

    def start(self) -> tuple[StackInfo, Gateway]:
        template = load_template()
        # What Lambda would refuse (an SQS event whose queue's visibility timeout is below the function's
        # Timeout...) stops the stack before anything starts.
        sqs_event_sources(template, parameters=self.parameters)
        dynamodb_url = self._start_dynamodb()
        stripe_url = None if self.real_stripe_key else self._start_stripe_emulator()
        extra_env = self._environment(dynamodb_url, stripe_url)
        os.environ.update(extra_env)

        import boto3

        create_tables(boto3.client("dynamodb", endpoint_url=dynamodb_url), TABLE_NAMES)
        sqs_client = boto3.client("sqs", endpoint_url=dynamodb_url, region_name=LOCAL_REGION)
        queues = create_queues(sqs_client, template, self.parameters)
        first_function = next(name for name, resource in template["Resources"].items()
                              if resource["Type"] == "AWS::Serverless::Function")
        os.environ.update(function_environment(template, first_function, table_names=TABLE_NAMES,
                                               parameters=self.parameters, queues=queues))
        os.environ.update(extra_env)
        owner_tenant_id = self._seed()

        gateway = self.gateway = Gateway(template, host=HOST, port=self.port, table_names=TABLE_NAMES,
                                         parameters=self.parameters, extra_env=extra_env,
                                         log_requests=not self.quiet, sqs_client=sqs_client, queues=queues)
        info = StackInfo(
            base_url=f"http://{HOST}:{self.port}", dynamodb_url=dynamodb_url, stripe_url=stripe_url,
            admin_api_key=self.admin_api_key,
            admin_token=issue_token(self.jwt_secret, "local-admin", email="admin@example.com", admin=True),
            owner_token=self._owner_token(owner_tenant_id),
            owner_tenant_id=owner_tenant_id, jwt_secret=self.jwt_secret,
            sqs_url=dynamodb_url, queue_urls=_queue_urls(queues), webhook_secrets=dict(self.webhook_secrets),
        )
        return info, gateway

    def _seed(self) -> str | None:
        from local.default_catalog import seed_catalog
        from local.demo import seed_demo_tenants

        started = time.monotonic()
        seed_catalog()
        tenants = seed_demo_tenants(self.demo_tenants) if self.demo_tenants else []
        if not self.quiet:
            print(f"loaded the default catalog and {len(tenants)} demo tenants "
                  f"in {time.monotonic() - started:.1f} s", flush=True)
        return tenants[0].id if tenants else None

    def _owner_token(self, tenant_id: str | None) -> str:
        if tenant_id is None:
            return ""
        from saas_core.repositories import tenants

        owner = next(member for member in tenants.members(tenant_id) if member.role == "owner")
        return issue_token(self.jwt_secret, owner.user_id or owner.email, email=owner.email)


def webhook_secrets(real_stripe_key: str, forwarded_secret: str) -> dict[str, str]:
    """The signing secret of each account's endpoint: the emulator's own two, or, on real Stripe test
    mode, the one `stripe listen` prints for the test account and none for live (nothing live is signed
    for a local stack, so every live event is refused)."""
    if real_stripe_key:
        return {"live": "", "test": forwarded_secret}
    return {**EMULATOR_WEBHOOK_SECRETS, **({"test": forwarded_secret} if forwarded_secret else {})}


def _queue_urls(queues: dict[str, LocalQueue]) -> dict[str, str]:
    return {logical_id: queue.url for logical_id, queue in queues.items()}


def _webhooks_line(info: StackInfo) -> str:
    if info.stripe_url:
        return f"the emulator signs each event and POSTs it to {info.base_url}{WEBHOOK_PATH}"
    if info.webhook_secrets.get("test"):
        return f"forward them: stripe listen --forward-to {info.base_url}{WEBHOOK_PATH}"
    return "refused until STRIPE_WEBHOOK_SECRET is set (the whsec_ that `stripe listen` prints)"


def print_banner(info: StackInfo) -> None:
    stripe = info.stripe_url or "real Stripe (test mode)"
    print(f"""
SaaS billing backend running on the local stack
  API          {info.base_url}
  OpenAPI      {info.base_url}/openapi.json   (docs page: {info.base_url}/docs)
  DynamoDB     {info.dynamodb_url} (moto)
  SQS          {info.sqs_url} (moto; queue depths: {info.base_url}/_local/queues)
  Stripe       {stripe}
  webhooks     {_webhooks_line(info)}

  admin key    X-Api-Key: {info.admin_api_key}
  admin token  {info.admin_token}
  owner token  {info.owner_token}
  (owner of tenant {info.owner_tenant_id})

  try:  curl {info.base_url}/v1/plans
Ctrl-C stops everything.
""", flush=True)


@contextlib.contextmanager
def _stop_on_signals(stack: LocalStack) -> Iterator[None]:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell starts background jobs with SIGINT ignored, and
    # Ctrl-C must stop the stack however it was started.
    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the product on the local stack.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--demo-tenants", type=int, default=int(os.environ.get("DEMO_TENANTS", "300")))
    parser.add_argument("--info-file", help="write the stack's URLs and tokens as JSON here once it serves")
    parser.add_argument("--quiet", action="store_true", help="no banner and no child process output")
    parser.add_argument("--parameter-overrides", nargs="*", metavar="KEY=VALUE",
                        default=shlex.split(os.environ.get("PARAMETER_OVERRIDES", "")),
                        help="template parameters, e.g. ThrottlingRateLimit=1000 (default: $PARAMETER_OVERRIDES)")
    args = parser.parse_args(argv)
    try:
        parameters = parse_parameter_overrides(args.parameter_overrides)
    except ValueError as error:
        parser.error(str(error))
    stack = LocalStack(port=args.port, demo_tenants=args.demo_tenants, quiet=args.quiet, parameters=parameters)
    with _stop_on_signals(stack):
        try:
            info, gateway = stack.start()
            if args.info_file:
                Path(args.info_file).write_text(json.dumps(asdict(info)))
            if not args.quiet:
                print_banner(info)
            gateway.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
