"""A small OPA REST server for tests, backed by OPA's own Go evaluator (opa-golib-python-bindings).

Used where no `opa` binary is available (no registry we reach ships one). It is not a Rego
evaluator: every evaluation is OPA's `github.com/open-policy-agent/opa/v1/rego` through the
wheel's c-shared library. What it adds is only the REST framing the engine uses, as OPA does it:

- `POST|GET /v1/data/<path>[?provenance=true]` -> `{"result": ..., "decision_id": ..., "provenance": ...}`;
  an undefined document answers 200 `{}` (no `result`), an evaluation error 500
  `{"code": "internal_error", "message": ...}`, a body that is not JSON 400;
- `GET /health[?bundles]` -> 200 `{}` once the bundle is active, else 500 `{"error": ...}`;
- `data.system.bundles[<name>].manifest` holds the bundle manifest, as OPA stores it.

It loads a bundle .tar.gz the way `opa run --bundle` does (manifest, roots, .rego modules,
data.json files placed by directory), so the bundle format is exercised. Faults can be injected
(`delay`, `fault`) for the failure tests, and requests are counted per path.

Run it by hand: `python -m tests.opa_standin --bundle bundle.tar.gz --port 8181`.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import socket
import tarfile
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from opa_bindings import OpaEngine, OpaError, OpaUndefinedError

PACKAGE_RE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
FAULTS = (None, "garbage", "500", "undefined", "malformed", "not_object", "close")


class BundleLoadError(ValueError):
    """The bundle would not be activated by OPA (bad manifest, outside roots, does not compile)."""


def read_bundle(path: Path) -> tuple[dict[str, Any], dict[str, str], list[tuple[str, Any]]]:
    """(manifest, modules by path, [(data path, value)]) from a bundle tarball."""
    manifest: dict[str, Any] = {}
    modules: dict[str, str] = {}
    data: list[tuple[str, Any]] = []
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(path.read_bytes())), mode="r:") as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            name = "/" + member.name.lstrip("/")
            extracted = archive.extractfile(member)
            assert extracted is not None
            content = extracted.read().decode()
            if name == "/.manifest":
                manifest = json.loads(content)
            elif name.endswith(".rego"):
                modules[name] = content
            elif name.rsplit("/", 1)[-1] == "data.json":
                directory = name.rsplit("/", 1)[0].strip("/")
                data.append((directory.replace("/", "."), json.loads(content)))
    return manifest, modules, data


def _within(path: str, roots: list[str]) -> bool:
    return any(root == "" or path == root or path.startswith(root + "/") for root in roots)


class OpaStandin:
    """One bundle, served on 127.0.0.1:<port> from a background thread."""

    def __init__(self, bundle: Path, port: int = 0, name: str | None = None):
        self.bundle_name = name or str(bundle)
        self.manifest, modules, data = read_bundle(bundle)
        roots = self.manifest.get("roots", [""])
        self.engine = OpaEngine()
        try:
            for module_path, source in sorted(modules.items()):
                package = PACKAGE_RE.search(source)
                package_path = package.group(1).replace(".", "/") if package else ""
                if not _within(package_path, roots):
                    raise BundleLoadError(f"{module_path}: package {package_path} outside manifest roots {roots}")
                self.engine.add_policy(module_path, source)
            for data_path, value in data:
                keys = [data_path.replace(".", "/") + "/" + k if data_path else k for k in value]
                outside = [k for k in keys if not _within(k, roots)]
                if outside:
                    raise BundleLoadError(f"data {outside} outside manifest roots {roots}")
                self.engine.add_data(value, data_path)
            system = {"bundles": {self.bundle_name: {"manifest": self.manifest, "etag": ""}}}
            self.engine.add_data(system, "system")
            # OPA compiles the bundle once, when it activates it. The binding compiles per distinct
            # query, so the documents the webhook asks for are prepared here, surfacing compile errors.
            for warm in ("ecs.admission.decision", "system.bundles"):
                try:
                    self.engine.eval_document(warm, {})
                except OpaError as exc:
                    if exc.code in ("parse_error", "prepare_error", "compile_error"):
                        raise
        except OpaError as exc:
            self.engine.close()
            raise BundleLoadError(f"bundle does not compile: {exc.message}") from None
        self.activated = True
        self.provenance = True  # answer ?provenance=true (OPA does; False mimics one that does not)
        self.delay = 0.0
        self.fault: str | None = None
        self.requests: Counter[str] = Counter()
        self.connections: set[tuple[str, int]] = set()
        self._sockets: set[Any] = set()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="opa-standin", daemon=True
        )

    @property
    def revision(self) -> str:
        return self.manifest.get("revision", "")

    def start(self) -> OpaStandin:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection, as a stopped OPA process would."""
        self.server.shutdown()
        self.server.server_close()
        with self._lock:
            for sock in list(self._sockets):
                try:
                    sock.shutdown(2)
                    sock.close()
                except OSError:
                    pass
            self._sockets.clear()

    def close(self) -> None:
        self.stop()
        self.engine.close()

    def reset(self) -> None:
        self.delay, self.fault, self.activated, self.provenance = 0.0, None, True, True
        self.requests.clear()
        self.connections.clear()

    def __enter__(self) -> OpaStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def evaluate(self, path: str, input_document: Any, with_input: bool) -> Any:
        dotted = ".".join(part for part in path.split("/") if part)
        return self.engine.eval_document(dotted, input_document if with_input else None)


def _handler_for(standin: OpaStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so the client's connection pool is exercised

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate writes: without this, Nagle plus delayed ACK
            # adds ~40 ms to every answer on a kept-alive connection.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with standin._lock:
                standin._sockets.add(self.connection)
                standin.connections.add(self.client_address)

        def finish(self) -> None:
            with standin._lock:
                standin._sockets.discard(self.connection)
            super().finish()

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any, raw: bytes | None = None) -> None:
            payload = raw if raw is not None else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (its read timeout): nothing to answer

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            standin.requests[f"{method} {parts.path}"] += 1
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if parts.path == "/health":
                if standin.fault == "close":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                wants_bundles = "bundles" in parse_qs(parts.query, keep_blank_values=True)
                if wants_bundles and not standin.activated:
                    self._send(500, {"error": "one or more bundles are not activated"})
                else:
                    self._send(200, {})
                return
            if parts.path.startswith("/v1/data"):
                self._data(method, parts.path.removeprefix("/v1/data"), parse_qs(parts.query), raw)
                return
            self._send(404, {"code": "resource_not_found", "message": f"{parts.path} not found"})

        def _data(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> None:
            if standin.delay:
                time.sleep(standin.delay)
            fault = standin.fault
            if fault == "close":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if fault == "garbage":
                self._send(200, None, raw=b"<html>upstream gateway says hello</html>")
                return
            if fault == "500":
                self._send(500, {"code": "internal_error", "message": "injected failure"})
                return
            if fault == "undefined":
                self._send(200, {})
                return
            if fault == "not_object":
                self._send(200, None, raw=b"[]")
                return
            with_input = False
            input_document = None
            if method == "POST" and raw:
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    self._send(400, {"code": "invalid_parameter", "message": f"body contains malformed input: {exc}"})
                    return
                if isinstance(body, dict) and "input" in body:
                    with_input, input_document = True, body["input"]
            response: dict[str, Any] = {"decision_id": str(uuid.uuid4())}
            try:
                response["result"] = standin.evaluate(path, input_document, with_input)
            except OpaUndefinedError:
                pass
            except OpaError as exc:
                self._send(500, {"code": "internal_error", "message": exc.message})
                return
            if fault == "malformed" and "result" in response:
                response["result"] = {"violations": "none", "warnings": []}
            if standin.provenance and query.get("provenance", [""])[0].lower() == "true":
                response["provenance"] = {
                    "version": "standin (opa-golib-python-bindings)",
                    "bundles": {standin.bundle_name: {"revision": standin.revision}},
                }
            self._send(200, response)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="OPA REST stand-in backed by OPA's Go evaluator")
    parser.add_argument("--bundle", required=True, type=Path)
    parser.add_argument("--port", type=int, default=8181)
    args = parser.parse_args(argv)
    standin = OpaStandin(args.bundle, port=args.port).start()
    print(f"serving {args.bundle} (revision {standin.revision}) on {standin.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        standin.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
