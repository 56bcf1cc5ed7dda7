"""What the benchmark prints and writes: the set-up, each point as measured, the target verdicts, JSON."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from machine_info import machine, worker_model

TARGET = {"clients": 8, "rps": 500.0, "p99_ms": 10.0}
# CPU ms: the webhook's (gunicorn master and workers); +OPA ms: the sidecar's own, when there is one.
COLUMNS = (
    "clients", "req/s", "p50 ms", "p95 ms", "p99 ms", "p99/p50", "errors", "p50/raw", "CPU ms", "+OPA ms", "rps/floor",
)  # fmt: skip
# Throughput as a share of the bare-Flask floor's in the same run, and the tail: what docs/performance.md
# judges a change by on a shared machine, where absolute numbers move by tens of percent.
RATIO_TARGETS = {"rps_to_floor": 0.12, "p99_to_p50": 3.0}


def print_setup(
    workers: int, use_wrk: bool, duration: float, inputs: str, envelopes: list[dict[str, Any]], bodies: list[bytes]
) -> None:
    size = statistics.fmean(len(b) for b in bodies)
    roles = sum(len(e["roles"]) for e in envelopes)
    print(f"machine: {machine()}")
    print(
        f"server: gunicorn, {workers} worker(s) ({worker_model()}), auth off, decision records on; load: "
        f"{'wrk' if use_wrk else 'Python keep-alive threads'}, {duration:g} s per point"
    )
    what = "the hardened Fargate task definition" if inputs == "hardened" else "corpus task definitions"
    print(f"inputs: {len(envelopes)} x {what} as envelopes, {roles} inline role(s), {size:.0f} B mean")


def print_floor_point(clients: int, point: dict[str, Any]) -> None:
    print(
        f"bare Flask floor, {clients} client(s): {point['rps']:.0f} req/s, p50 {point['p50_ms']:.2f} ms, "
        f"p99 {point['p99_ms']:.2f} ms"
    )


def print_raw_engine(raw: dict[str, float]) -> None:
    print(
        f"raw engine (EmbeddedEngine.evaluate, in-process): mean {raw['mean_ms']:.3f} ms, "
        f"p50 {raw['p50_ms']:.3f} ms, p99 {raw['p99_ms']:.3f} ms"
    )


def print_table_header() -> None:
    print(f"{'engine':9} {'facts':>7} " + " ".join(f"{c:>8}" for c in COLUMNS))


def print_point(point: dict[str, Any]) -> None:
    print(
        f"{point['engine']:9} {point['facts']:>7} {point['clients']:>8} {point['rps']:>8.0f} {point['p50_ms']:>8.2f} "
        f"{point['p95_ms']:>8.2f} {point['p99_ms']:>8.2f} {point['ratio_p99_to_p50']:>7.1f}x {point['errors']:>8} "
        f"{point['ratio_p50_to_raw']:>7.1f}x {point['cpu_ms']:>8.2f} {point['sidecar_cpu_ms']:>8.2f} "
        f"{point['ratio_rps_to_floor']:>9.3f}"
    )


def print_targets(results: list[dict[str, Any]]) -> None:
    """The target is judged at its own concurrency only, so a run without that level prints no verdict."""
    for point in results:
        if point["clients"] == TARGET["clients"]:
            met = point["rps"] >= TARGET["rps"] and point["p99_ms"] <= TARGET["p99_ms"]
            print(
                f"target ({TARGET['rps']:.0f}/s, p99 <= {TARGET['p99_ms']:.0f} ms at {TARGET['clients']} clients), "
                f"{point['engine']}/{point['facts']}: {'met' if met else 'NOT met'} "
                f"({point['rps']:.0f}/s, p99 {point['p99_ms']:.2f} ms; floor {point['floor_rps']:.0f}/s)"
            )
            share, tail = point["ratio_rps_to_floor"], point["ratio_p99_to_p50"]
            ok = share >= RATIO_TARGETS["rps_to_floor"] and tail <= RATIO_TARGETS["p99_to_p50"] and not point["errors"]
            print(
                f"ratios, {point['engine']}/{point['facts']}: {share:.3f} of the floor's throughput "
                f"(target >= {RATIO_TARGETS['rps_to_floor']}), p99/p50 {tail:.1f} "
                f"(target <= {RATIO_TARGETS['p99_to_p50']:g}), {point['errors']} error(s): "
                f"{'met' if ok else 'NOT met'}"
            )


def write_json(
    path: Path,
    floor: dict[int, dict[str, Any]],
    raw: dict[str, float],
    results: list[dict[str, Any]],
    rounds: list[dict[str, Any]] | None = None,
) -> None:
    """`points` are what the verdicts judge: with --rounds, each level's median round; `rounds` then
    holds every round, each with the floor point it was set against (and `floor` is empty)."""
    summary = {"machine": machine(), "floor": floor, "raw_engine": raw, "points": results}
    if rounds:
        summary["rounds"] = rounds
    path.write_text(json.dumps(summary, indent=2))
