#!/usr/bin/env python3
"""How many decisions the gate's own work allows on this machine, with no HTTP at all
(docs/performance.md, "Where the throughput target stands").

    python bench/ceiling.py                      # 2 processes, 8 s, both stages
    python bench/ceiling.py --processes 4 --seconds 20 --json ceiling.json

Each process builds the gate as `serve` does (embedded engine, IAM lookups off) and repeats, as
fast as it can, one of two stages on the hardened Fargate input (bench/hardened-fargate.json):

- `engine`: only the engine's evaluation of the prepared input document (the binding's JSON in
  and out, OPA's evaluation, the evaluation deadline's hand-off);
- `decide`: the whole decision without HTTP (parse the body, normalise, role facts, the engine,
  the decision).

Run it beside `python bench/run.py` (whose floor it is compared with): a server can answer no more
than `decide` allows, and no gate can answer more than `engine` allows. GOGC is set for the
processes as `serve` sets it (ECS_ADMISSION_GOGC, default 800), since Go reads it only at start.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
INPUT = Path(__file__).resolve().parent / "hardened-fargate.json"
STAGES = ("engine", "decide")


def repeat(stages: list[str], seconds: float, start: Any, results: Any) -> None:
    """One process: build the gate and warm it, then, each stage in step with the other processes
    (`start`, a barrier), count repetitions of it for `seconds`."""
    from ecs_admission.config import Settings
    from ecs_admission.gate import build_gate, utc_now
    from ecs_admission.inputs import normalise
    from ecs_admission.inputs.parse import parse_body

    body = INPUT.read_bytes()
    gate = build_gate(Settings(auth="none", iam_lookup="off"))
    document = gate.input_document(normalise(parse_body(body, "application/json")), utc_now())

    def engine() -> None:
        gate.engine.evaluate(document)

    def decide() -> None:
        gate.decide(normalise(parse_body(body, "application/json")))

    for stage in stages:
        step = engine if stage == "engine" else decide
        for _ in range(30):
            step()
        start.wait()
        count, deadline = 0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            step()
            count += 1
        results.put((stage, count))


def measure(stages: list[str], processes: int, seconds: float) -> dict[str, float]:
    """Repetitions per second of each stage, all processes together."""
    context = multiprocessing.get_context("spawn")  # the Go runtime must not be forked
    results, start = context.Queue(), context.Barrier(processes)
    workers = [context.Process(target=repeat, args=(stages, seconds, start, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    totals = dict.fromkeys(stages, 0)
    for _ in range(processes * len(stages)):
        stage, count = results.get(timeout=seconds * len(stages) + 180)
        totals[stage] += count
    for worker in workers:
        worker.join()
    return {stage: total / seconds for stage, total in totals.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2, help="processes at once (default: CPUs)")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per stage (default 8)")
    parser.add_argument("--stages", default=",".join(STAGES), help="engine and/or decide (default both)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    stages = [stage.strip() for stage in args.stages.split(",") if stage.strip()]
    if not stages or any(stage not in STAGES for stage in stages):
        parser.error(f"--stages takes {' and/or '.join(STAGES)}")
    if args.processes < 1 or args.seconds <= 0:
        parser.error("--processes and --seconds must be positive")
    # Go reads GOGC when the runtime starts: the spawned processes inherit it from here.
    os.environ.setdefault("GOGC", os.environ.get("ECS_ADMISSION_GOGC", "800"))
    os.environ.setdefault("ECS_ADMISSION_IAM_LOOKUP", "off")
    results = measure(stages, args.processes, args.seconds)
    for stage, per_second in results.items():
        print(f"{stage}: {per_second:.0f} per second with {args.processes} process(es), {args.seconds:g} s")
    if args.json:
        args.json.write_text(json.dumps({"processes": args.processes, "seconds": args.seconds, "per_second": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
