"""python -m local.stripe_emulator --port 12111 [--webhook-url URL --webhook-secret whsec_...]"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from local.stripe_emulator import build_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Stripe API emulator for the local stack and the tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-secret")
    args = parser.parse_args(argv)
    server = build_server(args.host, args.port, webhook_url=args.webhook_url, webhook_secret=args.webhook_secret)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"stripe emulator listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.control.released.set()
        server.deliverer.stop()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
