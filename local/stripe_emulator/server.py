"""The HTTP layer: a stdlib ThreadingHTTPServer, one thread per request (so a
hung request holds only its own), handing API requests to api.py and
/_emulator/... to control.py."""

from __future__ import annotations

import json
import sys
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.stripe_emulator import control
from local.stripe_emulator.api import ApiRequest
from local.stripe_emulator.emulator import Emulator
from local.stripe_emulator.store import new_id

CONTROL_PREFIX = "/_emulator/"


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        super().__init__(address, _RequestHandler)
        self.emulator = emulator

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def stop(self) -> None:
        """Stop serving (call from another thread than serve_forever's) and release everything held."""
        self.emulator.stop()
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout on a hung request) is expected, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    # Headers and body go out in separate writes: without this, Nagle and delayed ACKs
    # add 40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server: EmulatorServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        body = self._body()
        request_id = new_id("req", 14)
        if url.path.startswith(CONTROL_PREFIX):
            status, reply = self._control(url, body)
            self._send(status, json.dumps(reply, indent=2), {"Request-Id": request_id})
            return
        response = self.server.emulator.api.serve(ApiRequest(
            method=self.command, path=url.path, query=url.query, body=body,
            authorization=self.headers.get("Authorization"), idempotency_key=self.headers.get("Idempotency-Key"),
            request_id=request_id))
        if response.lost is not None:
            # The request ran; its answer is lost on the way: hang, then close without a word.
            response.lost.hang()
            self.close_connection = True
            return
        self._send(response.status, response.payload, response.headers)

    def _control(self, url: urllib.parse.SplitResult, body: str) -> control.Reply:
        try:
            return control.handle(self.server.emulator, self.command, url.path, url.query, body)
        except Exception as bug:  # answer, and show the bug where the emulator runs
            traceback.print_exc(file=sys.stderr)
            return 500, {"error": {"type": "api_error", "message": f"Emulator error: {bug!r}"}}

    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode() if length else ""

    def _send(self, status: int, payload: str, headers: dict[str, str]) -> None:
        data = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
