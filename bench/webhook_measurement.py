"""The webhook measured at each concurrency level, for one engine placement and one way facts arrive."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iam_cache import warm_iam_cache
from load_generators import load_runner
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


def measure_webhook(
    sweep: Sweep,
    engine: str,
    facts: str,
    env: dict[str, str],
    paths: list[Path],
    bodies: list[bytes],
    sidecar: int | None = None,
) -> list[dict[str, Any]]:
    """One point per level, each printed as it is measured; sidecar is the OPA stand-in's pid, if any."""
    points: list[dict[str, Any]] = []
    with server(sweep.workers, sweep.workdir, env) as (port, pid):
        run = load_runner(sweep.use_wrk, sweep.workdir, port, paths, bodies)
        if facts == "cache":
            warm_iam_cache(port, bodies)
        run(2, 1.0)  # warm up: every worker compiles and touches its code paths
        for clients in sweep.levels:
            cpu_before = process_tree_cpu_seconds(pid)
            sidecar_before = process_tree_cpu_seconds(sidecar) if sidecar else 0.0
            point = run(clients, sweep.duration)
            cpu_ms = (process_tree_cpu_seconds(pid) - cpu_before) * 1000 / max(1, point["requests"])
            sidecar_ms = (
                (process_tree_cpu_seconds(sidecar) - sidecar_before) * 1000 / max(1, point["requests"])
                if sidecar
                else 0.0
            )
            point.update(
                engine=engine,
                facts=facts,
                clients=clients,
                cpu_ms=cpu_ms,
                sidecar_cpu_ms=sidecar_ms,
                ratio_p50_to_raw=point["p50_ms"] / sweep.raw["mean_ms"],
                floor_rps=sweep.floor[clients]["rps"],
                ratio_floor_to_rps=sweep.floor[clients]["rps"] / max(point["rps"], 1e-9),
                # The issue-26 targets: throughput as a share of the floor's, and the tail against the median.
                ratio_rps_to_floor=point["rps"] / max(sweep.floor[clients]["rps"], 1e-9),
                ratio_p99_to_p50=point["p99_ms"] / max(point["p50_ms"], 1e-9),
            )
            points.append(point)
            print_point(point)
    return points
