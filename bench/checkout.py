"""Where the checkout the benchmarks run from lives: servers start with it as their working directory."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
