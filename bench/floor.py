"""The bare-Flask floor: bench/floor_app.py under the webhook's worker model, measured at each level."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from checkout import BENCH, REPO
from load_generators import LoadRunner, load_runner
from report import print_floor_point
from server_lifecycle import free_port, running


@contextlib.contextmanager
def floor_server(workers: int, workdir: Path) -> Iterator[tuple[int, int]]:
    """bench/floor_app.py under gunicorn with the webhook's own worker model (ecs_admission.web.server)."""
    from ecs_admission.config import Settings
    from ecs_admission.web.server import gunicorn_options

    options = gunicorn_options(Settings(workers=workers))
    worker_class = options["worker_class"]
    if not isinstance(worker_class, str):  # the webhook's gthread worker with a read deadline (web/worker.py)
        worker_class = "gthread"
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--chdir", str(BENCH),
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", worker_class,
        "--keep-alive", str(options["keepalive"]), "--log-level", "warning",
    ]  # fmt: skip
    if options.get("threads"):
        command += ["--threads", str(options["threads"])]
    with open(workdir / "floor.log", "ab") as log:
        process = subprocess.Popen([*command, "floor_app:app"], cwd=REPO, stdout=log, stderr=log)
    with running(process, port):
        yield port, process.pid


@contextlib.contextmanager
def warm_floor(
    workers: int, workdir: Path, use_wrk: bool, paths: list[Path], bodies: list[bytes]
) -> Iterator[LoadRunner]:
    """The floor serving and warmed up: the load runner against it (bench/rounds.py keeps it up)."""
    with floor_server(workers, workdir) as (port, _pid):
        run_floor = load_runner(use_wrk, workdir, port, paths, bodies)
        run_floor(2, 1.0)
        yield run_floor


def measure_floor(
    workers: int,
    workdir: Path,
    levels: list[int],
    duration: float,
    use_wrk: bool,
    paths: list[Path],
    bodies: list[bytes],
) -> dict[int, dict[str, Any]]:
    """The floor's point at each concurrency level, printed as it is measured."""
    floor: dict[int, dict[str, Any]] = {}
    with warm_floor(workers, workdir, use_wrk, paths, bodies) as run_floor:
        for clients in levels:
            floor[clients] = run_floor(clients, duration)
            print_floor_point(clients, floor[clients])
    return floor
