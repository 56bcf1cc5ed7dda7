"""The webhook measured at each concurrency level, for one engine placement and one way facts arrive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iam_cache import warm_iam_cache
from load_generators import LoadRunner, load_runner
from process_cpu import process_tree_cpu_seconds
from report import print_point
from server_lifecycle import server


@dataclass(frozen=True)
class Sweep:
    """What every engine and facts variant of one run shares, so that their points compare: the same
    server size, levels, duration and load generator, judged against the same raw engine and floor."""

    workers: int
    workdir: Path
    levels: list[int]
    duration: float
    use_wrk: bool
    raw: dict[str, float]
    floor: dict[int, dict[str, Any]]


@dataclass(frozen=True)
class Variant:
    """One webhook to measure: its engine placement, how role facts arrive, the server's extra
    environment, the bodies (as files for wrk and as bytes), and the OPA stand-in's pid, if any."""

    engine: str
    facts: str
    env: dict[str, str]
    paths: list[Path]
    bodies: list[bytes]
    sidecar: int | None = None


def measure_webhook(sweep: Sweep, variant: Variant) -> list[dict[str, Any]]:
    """One point per level, each printed as it is measured."""
    points: list[dict[str, Any]] = []
    with warm_webhook(sweep, variant) as (run, pid):
        for clients in sweep.levels:
            point = measure_point(run, pid, variant.sidecar, clients, sweep.duration)
            complete_point(point, variant, sweep.raw, sweep.floor[clients])
            points.append(point)
            print_point(point)
    return points


@contextmanager
def warm_webhook(sweep: Sweep, variant: Variant) -> Iterator[tuple[LoadRunner, int]]:
    """The webhook serving, its IAM cache warm when facts come from it, every worker warmed up:
    (the load runner against it, its pid)."""
    with server(sweep.workers, sweep.workdir, variant.env) as (port, pid):
        run = load_runner(sweep.use_wrk, sweep.workdir, port, variant.paths, variant.bodies)
        if variant.facts == "cache":
            warm_iam_cache(port, variant.bodies)
        run(2, 1.0)  # warm up: every worker compiles and touches its code paths
        yield run, pid


def measure_point(run: LoadRunner, pid: int, sidecar: int | None, clients: int, duration: float) -> dict[str, Any]:
    """One load point against a running webhook, with the CPU its process tree (and the sidecar's) spent."""
    cpu_before = process_tree_cpu_seconds(pid)
    sidecar_before = process_tree_cpu_seconds(sidecar) if sidecar else 0.0
    point = run(clients, duration)
    requests = max(1, point["requests"])
    point["clients"] = clients
    point["cpu_ms"] = (process_tree_cpu_seconds(pid) - cpu_before) * 1000 / requests
    point["sidecar_cpu_ms"] = (process_tree_cpu_seconds(sidecar) - sidecar_before) * 1000 / requests if sidecar else 0.0
    return point


def complete_point(point: dict[str, Any], variant: Variant, raw: dict[str, float], floor_point: dict[str, Any]) -> None:
    """The point's labels and its ratios to the raw engine and to the floor it is judged against."""
    point.update(
        engine=variant.engine,
        facts=variant.facts,
        ratio_p50_to_raw=point["p50_ms"] / raw["mean_ms"],
        floor_rps=floor_point["rps"],
        ratio_floor_to_rps=floor_point["rps"] / max(point["rps"], 1e-9),
        # The issue-26 targets: throughput as a share of the floor's, and the tail against the median.
        ratio_rps_to_floor=point["rps"] / max(floor_point["rps"], 1e-9),
        ratio_p99_to_p50=point["p99_ms"] / max(point["p50_ms"], 1e-9),
    )
