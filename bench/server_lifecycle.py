"""Servers on loopback for the length of a block: started, waited for until ready, then stopped."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from checkout import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(port: int, process: subprocess.Popen, path: str = "/readyz", timeout: float = 60) -> None:
    """Until GET path answers 200 on 127.0.0.1:port; exit the bench if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"bench: the process meant to serve port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        time.sleep(0.2)
    sys.exit(f"bench: nothing answered GET {path} on port {port} within {timeout:g}s")


@contextlib.contextmanager
def running(process: subprocess.Popen, port: int) -> Iterator[None]:
    """Until the block ends: ready first, then stopped (killed if it will not stop)."""
    try:
        wait_ready(port, process)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def server(workers: int, workdir: Path, extra_env: dict[str, str]) -> Iterator[tuple[int, int]]:
    port = free_port()
    env = {
        **os.environ,
        **extra_env,
        "ECS_ADMISSION_AUTH": "none",
        "ECS_ADMISSION_HOST": "127.0.0.1",
        "ECS_ADMISSION_PORT": str(port),
        "ECS_ADMISSION_WORKERS": str(workers),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with open(workdir / "records.jsonl", "ab") as records, open(workdir / "server.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ecs_admission.cli", "serve"], cwd=REPO, env=env, stdout=records, stderr=log
        )
    with running(process, port):
        yield port, process.pid
