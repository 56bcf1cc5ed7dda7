"""The hostile-input suite's server and its tools (tests/web/test_hostile*.py): one gunicorn server per
test module, configured as a hardened production gate would be except that it fails open
(ECS_ADMISSION_FAILURE_POLICY=ignore), the oracle of what is sound, and the senders that time and
count every answer. The module docstring of test_hostile.py says what each request asserts.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

from tests.conftest import example, serving

# Seconds per answer (issue 12). The environment variable is for a development machine shared with
# other heavy work (load average 8 on 2 cores makes everything 3-4 times slower); CI keeps 1 s.
BUDGET = float(os.environ.get("ECS_ADMISSION_HOSTILE_BUDGET", "1.0"))
TOKEN = "hostile-suite-token-5d1c"
SIGNING_SECRET = "hostile-signing-secret-77"
CLEAN = example("taskdef-clean.json")
SERVER_SETTINGS = {
    "ECS_ADMISSION_AUTH": "required",
    "ECS_ADMISSION_TOKEN_SHA256": f"suite={hashlib.sha256(TOKEN.encode()).hexdigest()}",
    "ECS_ADMISSION_SIGNING_SECRETS": f"pipeline={SIGNING_SECRET}",
    "ECS_ADMISSION_FAILURE_POLICY": "ignore",
    "ECS_ADMISSION_READ_TIMEOUT": "1",
    "ECS_ADMISSION_DECISION_LOG": "false",
    "ECS_ADMISSION_WORKERS": "1",
}
EXAMPLES = int(os.environ.get("ECS_ADMISSION_HOSTILE_EXAMPLES", "40"))
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)

# The task a gate exists to stop: privileged, host network, SYS_ADMIN.
DANGEROUS = {
    "family": "escape",
    "networkMode": "host",
    "containerDefinitions": [
        {
            "name": "root",
            "image": "public.ecr.aws/docker/library/alpine:3.20",
            "privileged": True,
            "linuxParameters": {"capabilities": {"add": ["SYS_ADMIN"]}},
        }
    ],
}


# A role every test can name, trusted by ECS tasks only.
TRUST = json.dumps(
    {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    }
)
ROLE = "arn:aws:iam::111122223333:role/payments-api-task"


class Stats:
    """Requests and worst answer time per class, for the closing table."""

    def __init__(self) -> None:
        self.count: dict[str, int] = defaultdict(int)
        self.worst: dict[str, float] = defaultdict(float)
        self.statuses: dict[str, set[int]] = defaultdict(set)
        self.memory: dict[str, float] = {}  # the worker's peak RSS (MB) after the class, where measured

    def add(self, kind: str, elapsed: float, status: int) -> None:
        self.count[kind] += 1
        self.worst[kind] = max(self.worst[kind], elapsed)
        self.statuses[kind].add(status)

    def table(self) -> str:
        lines = ["| class | requests | worst (s) | statuses | worker peak RSS (MB) |", "|---|---:|---:|---|---:|"]
        for kind in sorted(self.count):
            statuses = ", ".join(str(s) for s in sorted(self.statuses[kind]))
            memory = f"{self.memory[kind]:.0f}" if kind in self.memory else ""
            lines.append(f"| {kind} | {self.count[kind]} | {self.worst[kind]:.3f} | {statuses} | {memory} |")
        return "\n".join(lines)


STATS = Stats()


def serve(tmp_path_factory, request):
    """The module's server (tests/web/conftest.py makes it the `gate` fixture), checked when it stops."""
    stderr_path = tmp_path_factory.mktemp("hostile") / "stderr.log"
    with open(stderr_path, "w") as stderr, serving(SERVER_SETTINGS, stderr=stderr) as served:
        yield served
    log = stderr_path.read_text()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # teardown output is captured otherwise
            module = request.module.__name__.rsplit(".", 1)[-1]
            reporter.write_line(f"\nhostile input, per class (this process, up to {module}.py):\n" + STATS.table())
    report = os.environ.get("ECS_ADMISSION_HOSTILE_REPORT")
    if report:
        Path(report).write_text(
            json.dumps({k: {"requests": STATS.count[k], "worst_s": round(STATS.worst[k], 3)} for k in STATS.count})
        )
    # The same worker answered everything: no timeout, no crash, no restart.
    assert log.count("Booting worker") == 1, log[-3000:]
    assert "WORKER TIMEOUT" not in log and "Worker exited" not in log, log[-3000:]
    # Nothing the suite sent as a credential reached stderr (gunicorn's own lines included).
    for secret in (TOKEN, "AKIAIOSFODNN7EXAMPLE", "hostileBearerSecret123"):
        assert secret not in log, secret
    # ...because it was masked, not because nothing was written: the access line is there, its User-Agent
    # *** (in the module that sends credentials in headers, test_hostile.py).
    if getattr(request.module, "SENDS_CREDENTIALS_IN_HEADERS", False):
        assert '"GET /healthz HTTP/1.1" 200' in log and '"***"' in log, log[-3000:]


# --- the oracle ------------------------------------------------------------------------------------


def sound(document: Any) -> bool:
    """A task definition ECS would register, sent in a shape the gate reads (bare or in an envelope)."""
    if isinstance(document, dict) and "taskDefinition" in document and "containerDefinitions" not in document:
        document = document["taskDefinition"]
    if not isinstance(document, dict) or not isinstance(document.get("family"), str) or not document["family"]:
        return False
    containers = document.get("containerDefinitions")
    if not isinstance(containers, list) or not 1 <= len(containers) <= 10:
        return False
    return all(isinstance(c, dict) and c.get("name") and c.get("image") for c in containers)


# --- talking to the server -------------------------------------------------------------------------


def send(gate, kind: str, body: bytes, content_type: str = "application/json", path: str = "/v1/admit", **headers):
    """POST a body, time the answer, check the invariants every answer must keep; return (status, json)."""
    connection = http.client.HTTPConnection("127.0.0.1", gate.port, timeout=10)
    all_headers = {"Content-Type": content_type, "Authorization": f"Bearer {TOKEN}", **headers}
    started = time.perf_counter()
    connection.request("POST", path, body=body, headers=all_headers)
    response = connection.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    STATS.add(kind, elapsed, response.status)
    answer = json.loads(payload) if payload.startswith(b"{") else {}
    assert response.status < 500 or (response.status == 503 and answer.get("allowed") is False), (
        response.status,
        payload[:300],
    )
    assert elapsed < BUDGET, (kind, elapsed, body[:200])
    return response.status, answer


def raw(gate, kind: str, data: bytes, wait: float = 5.0) -> tuple[int, bytes]:
    """Write raw bytes (bad framing), read the status line; the connection is closed by either side."""
    with socket.create_connection(("127.0.0.1", gate.port), timeout=wait) as sock:
        started = time.perf_counter()
        sock.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
        elapsed = time.perf_counter() - started
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/") else 0
    STATS.add(kind, elapsed, status)
    return status, received


def allowed(status: int, answer: dict) -> bool:
    return status == 200 and answer.get("allowed") is True


def admit(gate, kind: str, document: Any, raw_body: bytes | None = None) -> tuple[int, dict]:
    body = raw_body if raw_body is not None else json.dumps(document).encode()
    status, answer = send(gate, kind, body)
    if allowed(status, answer):
        assert sound(document), (kind, body[:300])
    return status, answer
