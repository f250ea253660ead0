"""python -m local.stripe_emulator --port 12111 [--host 127.0.0.1] [--webhook-url URL --webhook-secret whsec_...]

    --webhook-url URL             every event of both accounts, signed, is POSTed here
    --webhook-secret whsec_...    the secret both accounts sign with
    --webhook-secret-test whsec_  the test account's own secret (as on Stripe, each account's
    --webhook-secret-live whsec_  endpoint has its own); each overrides --webhook-secret for its account

--webhook-url needs a secret for each account: --webhook-secret, or both per-account ones.

Serves until SIGINT or SIGTERM, then exits with status 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from local.stripe_emulator import SHUTDOWN_POLL_SECONDS, build_server


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.stripe_emulator",
                                     description="Stripe API emulator for the local stack and the tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", help="send every event, signed, to this URL")
    parser.add_argument("--webhook-secret", help="the whsec_... secret both accounts sign with")
    parser.add_argument("--webhook-secret-test", help="the whsec_... secret the test account signs with")
    parser.add_argument("--webhook-secret-live", help="the whsec_... secret the live account signs with")
    args = parser.parse_args(argv)
    per_account = args.webhook_secret_test or args.webhook_secret_live
    if (per_account or args.webhook_secret) and not args.webhook_url:
        parser.error("webhook secrets need --webhook-url")
    if args.webhook_url and not (args.webhook_secret or (args.webhook_secret_test and args.webhook_secret_live)):
        parser.error("--webhook-url needs a secret for each account (the receiver must know them): "
                     "--webhook-secret, or --webhook-secret-test and --webhook-secret-live")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    per_account = {"test": args.webhook_secret_test, "live": args.webhook_secret_live}
    server, _ = build_server(args.host, args.port, webhook_url=args.webhook_url, webhook_secret=args.webhook_secret,
                             webhook_secrets=per_account if any(per_account.values()) else None)
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return, so it must not run on serve_forever's thread.
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.stop, name="stripe-emulator-stop").start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"stripe emulator listening on http://{args.host}:{server.port}", flush=True)
    server.serve_forever(poll_interval=SHUTDOWN_POLL_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
