"""Real HTTP servers on 127.0.0.1 for the pipeline tests: the webhook itself, and misbehaving stubs."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from werkzeug.serving import make_server

from ecs_admission.config import Settings
from ecs_admission.web import create_app


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class GateServer:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    # When set, requests without "Authorization: Bearer <token>" get 401, as an auth proxy would answer.
    token: str | None = None


class _Recorder:
    """WSGI middleware: records each request, and plays the auth proxy in front of the gate."""

    def __init__(self, app: Callable[..., Any], server: GateServer):
        self.app = app
        self.server = server

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        self.server.requests.append(
            Recorded(environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("QUERY_STRING", ""), headers, body)
        )
        if self.server.token and headers.get("authorization") != f"Bearer {self.server.token}":
            start_response("401 Unauthorized", [("Content-Type", "application/json")])
            return [b'{"message": "Unauthorized"}']
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)


@contextlib.contextmanager
def gate_server(settings: Settings | None = None) -> Iterator[GateServer]:
    """The real Flask webhook served by werkzeug on a free loopback port."""
    app = create_app(dataclasses.replace(settings or Settings(), auth="none", iam_lookup="off"))
    holder = GateServer(url="")
    server = make_server("127.0.0.1", 0, _Recorder(app, holder), threaded=True)
    holder.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield holder
    finally:
        server.shutdown()
        thread.join(timeout=5)


class _StubHandler(BaseHTTPRequestHandler):
    """Behaviour chosen by the first path segment: the client appends /v1/admit to the base URL."""

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.seen.append((self.path, dict(self.headers)))  # type: ignore[attr-defined]
        mode = self.path.split("/")[1]
        if mode == "slow":
            time.sleep(2)
            self._send(200, b"{}")
        elif mode == "500":
            self._send(500, b"<html><body>Internal Server Error</body></html>", "text/html")
        elif mode == "502":
            self._send(502, b"<html>Bad Gateway</html>", "text/html")
        elif mode == "503":
            body = {"error": "engine_unavailable", "detail": "policies not loaded: x.rego:3", "allowed": False}
            self._send(503, json.dumps(body).encode())
        elif mode == "redirect":
            self._send(307, b"", Location="http://127.0.0.1:9/v1/admit")
        elif mode == "html":
            self._send(200, b"<html>Sign in to the corporate proxy</html>", "text/html")
        elif mode == "contradiction":
            body = {
                "decision_id": "x",
                "allowed": True,
                "enforced": True,
                "violations": [
                    {
                        "rule": "R",
                        "severity": "high",
                        "title": "t",
                        "message": "m",
                        "path": "/p",
                        "remediation": "r",
                        "docs": "d",
                    }
                ],
                "warnings": [],
            }
            self._send(200, json.dumps(body).encode())
        elif mode == "notfound":
            self._send(404, b'{"error": "not_found", "detail": "no route", "field": null}')
        else:
            self._send(500, b"unknown stub mode", "text/plain")

    do_GET = do_POST


@contextlib.contextmanager
def stub_server() -> Iterator[tuple[str, list[tuple[str, dict[str, str]]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubHandler)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
