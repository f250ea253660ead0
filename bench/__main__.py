"""`make bench`: what each function costs, as ratios measured in one run.

1. Cold import: for every function of template.yaml, the wall time of
   importing its handler module in a fresh interpreter (median of RUNS), as a
   ratio to `import boto3; boto3.client("dynamodb")` measured in the same run,
   interleaved so machine noise hits both alike. A second column adds the
   clients the first request creates (DynamoDB, and Stripe where used), so
   lazy creation cannot flatter the figure.
2. Calls per route: the DynamoDB and Stripe requests one request makes, with
   moto in-process and the Stripe emulator, counted at the HTTP client.
3. Tenant writes: the DynamoDB write units each tenant change costs, on the base
   table and on each index (bench/tenants.py, local/dynamodb_costs.py).
4. Tenant list at 10,000 tenants: calls and rows read by the list's first and a
   middle page for each sort, filter, search and a combination, against their
   bounds; calls of statistics and details.

It prints figures; it never passes or fails on time.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

from bench.calls import counting_calls
from bench.metering import metering_costs
from bench.stripe_events import stripe_event_costs
from bench.tenants import tenant_list_at_scale, tenant_writes
from local.template import Route, api_routes, load_template

RUNS = 9
BASELINE = 'import boto3; boto3.client("dynamodb")'
STRIPE_TARGET_RATIO = 2.0
PLAIN_TARGET_RATIO = 1.5
BENCH_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
    "JWT_ISSUER": "bench", "JWT_AUDIENCE": "bench", "JWT_SECRET": "bench-secret-of-a-decent-length-0000",
    "ADMIN_API_KEY": "bench-admin-key", "STRIPE_LIVE_SECRET_KEY": "sk_live_bench",
    "STRIPE_TEST_SECRET_KEY": "sk_test_bench", "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "SaasBillingBench",
}


def _module(route: Route) -> str:
    return route.handler.rsplit(".", 1)[0]


def _first_clients_statement(route: Route, uses_stripe: bool) -> str:
    statement = f"import {_module(route)}; from saas_core.repositories import dynamo; dynamo.client()"
    if uses_stripe:
        statement += "; from saas_core import stripe_gateway; stripe_gateway.client('live')"
    return statement


def timed(statement: str) -> float:
    code = f"import time\nstarted = time.perf_counter()\n{statement}\nprint(time.perf_counter() - started)"
    env = {**os.environ, **BENCH_ENV}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def compile_project_bytecode() -> None:
    """Lambda layers ship pip-compiled bytecode; give the project's code the
    same, so neither side of a ratio pays for compiling source."""
    import compileall

    for folder in ("layers/common", "functions"):
        compileall.compile_dir(folder, quiet=1)


def cold_imports(routes: list[Route]) -> None:
    compile_project_bytecode()
    stripe_users = {route.function_id: _stripe_user(route) for route in routes}
    statements = {"baseline": BASELINE}
    for route in routes:
        statements[route.function_id] = f"import {_module(route)}"
        statements[route.function_id + "+clients"] = _first_clients_statement(route, stripe_users[route.function_id])
    samples: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(RUNS):
        for name, statement in statements.items():
            samples[name].append(timed(statement))
    baseline = statistics.median(samples["baseline"])
    print(f"\nCold import, median of {RUNS} fresh interpreters; baseline `{BASELINE}` = {baseline * 1000:.0f} ms\n")
    print(f"{'function':34} {'stripe':>6} {'import ms':>10} {'ratio':>6} {'+clients':>9} {'target':>7}")
    for route in routes:
        uses_stripe = stripe_users[route.function_id]
        alone = statistics.median(samples[route.function_id])
        with_clients = statistics.median(samples[route.function_id + "+clients"])
        target = STRIPE_TARGET_RATIO if uses_stripe else PLAIN_TARGET_RATIO
        print(f"{route.function_id:34} {'yes' if uses_stripe else 'no':>6} {alone * 1000:>10.0f} "
              f"{alone / baseline:>6.2f} {with_clients / baseline:>9.2f} {target:>7.1f}")


def _stripe_user(route: Route) -> bool:
    code = f"import sys, {_module(route)}; print('stripe' in sys.modules)"
    env = {**os.environ, **BENCH_ENV}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return result.stdout.strip().endswith("True")


# ------------------------------------------------------------ calls per route

def calls_per_route(routes: list[Route]) -> None:
    os.environ.update(BENCH_ENV)
    import boto3
    from moto import mock_aws

    from local.default_catalog import seed_catalog
    from local.invoke import cold_start, handler_module, invoke
    from local.sample_events import SAMPLE_TENANT_ID, concrete_path, sample_for
    from local.stack import TABLE_NAMES
    from local.stripe_emulator import start_in_thread
    from local.template import create_tables
    from local.tokens import issue_token
    from saas_core.access import Access

    emulator = start_in_thread()
    os.environ["STRIPE_API_BASE"] = emulator.url
    os.environ.update({"STRIPE_LIVE_SECRET_KEY": "sk_live_bench", "STRIPE_TEST_SECRET_KEY": "sk_test_bench"})
    print("\nCalls one request makes (moto in-process, Stripe emulator)\n")
    print(f"{'route':42} {'dynamodb':>8} {'stripe':>6}  operations")
    try:
        for route in routes:
            emulator.state.reset()
            with mock_aws():
                cold_start()
                create_tables(boto3.client("dynamodb", region_name="us-east-1"), TABLE_NAMES)
                seed_catalog()
                tenant_id = _a_tenant()
                sample = sample_for(route)
                params = {**sample.path_parameters}
                if params.get("tenant_id") == SAMPLE_TENANT_ID:
                    params["tenant_id"] = tenant_id
                access = handler_module(route).app.spec.access
                if access is Access.STRIPE:
                    print(f"{route.method + ' ' + route.path:42} {'':>15}  (signed by Stripe: see Stripe events)")
                    continue
                token = issue_token(BENCH_ENV["JWT_SECRET"], "user-bench" if access in (
                    Access.MEMBER, Access.OWNER) else "admin", admin=access not in (Access.MEMBER, Access.OWNER),
                    issuer="bench", audience="bench")
                with counting_calls() as counts:
                    reply = invoke(route.method, concrete_path(route, params), body=sample.body,
                                   query=sample.query, token=token)
                dynamodb = sum(n for name, n in counts.items() if name.startswith("dynamodb:"))
                operations = ", ".join(f"{name.split(':')[1]}×{n}" for name, n in sorted(counts.items())
                                       if name.startswith("dynamodb:"))
                print(f"{route.method + ' ' + route.path:42} {dynamodb:>8} {counts['stripe']:>6}  "
                      f"{operations}  [{reply.status}]")
    finally:
        emulator.stop()


def _a_tenant() -> str:
    from local.default_catalog import SEEDER
    from saas_core.models.tenants import TenantIn
    from saas_core.services import tenants_admin

    return tenants_admin.create_tenant(TenantIn.model_validate({
        "name": "Bench", "email": "bench@bench.example", "type": "organization", "plan_id": "pln_pro",
        "billing_cycle": "monthly", "owner_user_id": "user-bench"}), SEEDER, None).id


def main() -> int:
    routes = api_routes(load_template())
    cold_imports(routes)
    calls_per_route(routes)
    tenant_writes(BENCH_ENV)
    tenant_list_at_scale(BENCH_ENV)
    stripe_event_costs(BENCH_ENV)
    metering_costs(BENCH_ENV)
    return 0


if __name__ == "__main__":
    sys.exit(main())
