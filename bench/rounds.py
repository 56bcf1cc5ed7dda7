"""Interleaved rounds (bench/run.py --rounds N): the floor and the webhook measured turn about.

One floor point and one webhook point, minutes apart, make a ratio that moves with this machine's
speed, which drifts by tens of percent within the hour (docs/performance.md). Here the floor and
each webhook stay up together and are measured in alternation, N times per concurrency level, the
order reversed every other round, so each round's ratio sets two neighbouring measurements against
each other. The verdict is judged on the median round; every round is printed and written.
"""

from __future__ import annotations

import statistics
from typing import Any

from load_generators import LoadRunner
from report import print_floor_point, print_point
from webhook_measurement import Sweep, Variant, complete_point, measure_point, warm_webhook

# The point fields a summary takes the median of; errors are summed, never averaged away.
MEDIAN_FIELDS = (
    "rps", "p50_ms", "p95_ms", "p99_ms", "cpu_ms", "sidecar_cpu_ms", "floor_rps",
    "ratio_rps_to_floor", "ratio_p99_to_p50", "ratio_p50_to_raw", "ratio_floor_to_rps",
)  # fmt: skip


def measure_rounds(
    sweep: Sweep, rounds: int, floor_run: LoadRunner, variant: Variant
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(every round's webhook point, one summary point per level); each round is printed as measured."""
    points: list[dict[str, Any]] = []
    with warm_webhook(sweep, variant) as (run, pid):
        for index in range(rounds):
            floor_first = index % 2 == 0
            for clients in sweep.levels:
                if floor_first:
                    floor_point = floor_run(clients, sweep.duration)
                point = measure_point(run, pid, variant.sidecar, clients, sweep.duration)
                if not floor_first:
                    floor_point = floor_run(clients, sweep.duration)
                print_floor_point(clients, floor_point)
                complete_point(point, variant, sweep.raw, floor_point)
                point["round"] = index + 1
                point["floor"] = floor_point
                print_point(point)
                points.append(point)
    return points, [summarise_rounds([p for p in points if p["clients"] == clients]) for clients in sweep.levels]


def summarise_rounds(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The median round at one level, shaped as a single run's point, with the spread beside it."""
    first = points[0]
    summary: dict[str, Any] = {key: first[key] for key in ("engine", "facts", "clients")}
    for key in MEDIAN_FIELDS:
        summary[key] = statistics.median(p[key] for p in points)
    summary["requests"] = sum(p["requests"] for p in points)
    summary["errors"] = sum(p["errors"] for p in points)
    summary["rounds"] = len(points)
    summary["round_ratios_rps_to_floor"] = [round(p["ratio_rps_to_floor"], 4) for p in points]
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    ratios = summary["round_ratios_rps_to_floor"]
    print(
        f"median of {summary['rounds']} rounds, {summary['engine']}/{summary['facts']}, "
        f"{summary['clients']} client(s): "
        f"{summary['rps']:.0f} req/s against a floor of {summary['floor_rps']:.0f}; share of the floor "
        f"{summary['ratio_rps_to_floor']:.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f}), "
        f"p99/p50 {summary['ratio_p99_to_p50']:.1f}, CPU {summary['cpu_ms']:.2f} ms per request"
    )
