"""Do stalled clients starve the others? Measure it against a running gate.

    python bench/stalled_clients.py --port 8080 [--stalled 16] [--seconds 10] [--token-env TOKEN]

Opens --stalled connections that each send a request with `Content-Length: 1000` and then only
10 bytes, and keeps them open (re-opening any the server drops, so the pressure stays on for the
whole run). Meanwhile it probes, one after the other, GET /healthz and POST /v1/admit with a clean
task definition, each with a 1 s timeout, and prints per probe kind: how many were answered,
how many failed (timeout, refused, reset), and the median and worst answer time.

docs/hardening.md quotes its numbers for the old sync workers and for the gthread worker with
a read deadline. Loopback only; no assertions.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import time
from pathlib import Path

CLEAN = Path(__file__).resolve().parents[1] / "examples" / "taskdef-clean.json"
STALL = b"POST /v1/admit HTTP/1.1\r\nHost: gate\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"


def stall(port: int, token: str | None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
    sock.sendall(STALL.replace(b"\r\n\r\n", b"\r\n" + auth + b"\r\n", 1) + b"0123456789")
    sock.setblocking(False)
    return sock


def alive(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True  # nothing to read yet: still stalled, still held
    except OSError:
        return False


def probe(port: int, method: str, path: str, body: bytes | None, token: str | None) -> float | None:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return time.perf_counter() - started if response.status < 500 else None
    except OSError:
        return None
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--stalled", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--token-env", help="environment variable holding a bearer token for /v1/admit")
    args = parser.parse_args()
    token = os.environ.get(args.token_env) if args.token_env else None
    body = json.dumps(json.loads(CLEAN.read_text())).encode()
    stalled = [stall(args.port, token) for _ in range(args.stalled)]
    results: dict[str, list[float | None]] = {"GET /healthz": [], "POST /v1/admit": []}
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        stalled = [sock if alive(sock) else stall(args.port, token) for sock in stalled]
        results["GET /healthz"].append(probe(args.port, "GET", "/healthz", None, token))
        results["POST /v1/admit"].append(probe(args.port, "POST", "/v1/admit", body, token))
    for sock in stalled:
        sock.close()
    print(f"{args.stalled} stalled clients, {args.seconds:g} s")
    print("| probe | answered | failed | median (s) | worst (s) |")
    print("|---|---:|---:|---:|---:|")
    for name, times in results.items():
        answered = [t for t in times if t is not None]
        median = f"{statistics.median(answered):.3f}" if answered else "-"
        worst = f"{max(answered):.3f}" if answered else "-"
        print(f"| {name} | {len(answered)} | {len(times) - len(answered)} | {median} | {worst} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
