"""Request count, rate and latency percentiles from raw per-request samples."""

from __future__ import annotations

import statistics


def summarise(samples_ms: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    return {
        "requests": len(ordered),
        "rps": len(ordered) / seconds,
        "mean_ms": statistics.fmean(ordered),
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "errors": 0,
    }
