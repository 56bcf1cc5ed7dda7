#!/usr/bin/env python3
"""Benchmark the webhook under gunicorn on loopback (docs/performance.md).

    python bench/run.py                      # in-process engine, 1/8/32 clients, 5 s per point
    python bench/run.py --duration 3 --clients 1,8 --workers 2 --json results.json
    python bench/run.py --inputs corpus      # the corpus task definitions (ECS_ADMISSION_CORPUS)
    python bench/run.py --clients 8 --rounds 5 --facts inline --no-opa   # floor and webhook in turn, 5 times

For each engine placement it starts `ecs-admission serve` on 127.0.0.1 (authentication off,
decision records on and written to a file, as in production), drives POST /v1/admit with the
inputs, and prints requests/s and p50/p95/p99 latency per concurrency. The default input is
bench/hardened-fargate.json: a hardened Fargate task definition (two containers, secrets, awslogs)
in an envelope with both roles' IAM facts inline, which the gate allows; `--inputs corpus` uses
the corpus task definitions instead, each wrapped in an envelope with inline facts. In the same
run it measures the bare-Flask floor (bench/floor_app.py under the same gunicorn worker model)
and prints each point's ratio to it, and whether the target (>= 500 decisions/s and p99 <= 10 ms
at 8 clients) is met. The load generator is wrk when installed (Debian: `apt-get
install wrk`), else a keep-alive Python client (which competes with the server for the CPU, so
its numbers are lower bounds). It also times the embedded engine alone on the same inputs
(EmbeddedEngine.evaluate in a loop): the floor the webhook cannot beat, and the ratio to it.

The OPA sidecar is measured too when the OPA engine and the test stand-in for OPA
(tests/support/opa_standin.py, OPA's Go evaluator behind OPA's REST API) are present; otherwise skipped.

`--rounds N` measures the floor and each webhook in alternation, N times per level (bench/rounds.py),
and judges the median round: the ratio to read on a machine whose speed drifts within the run.

`--facts cache` measures the other way role facts arrive: the same task definitions, their roles
created in moto's IAM (ThreadedMotoServer on 127.0.0.1, never AWS) and looked up by the server
(ECS_ADMISSION_IAM_LOOKUP=on), with every worker's IAM cache warmed before the clock starts.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from checkout import REPO
from floor import floor_server, measure_floor, warm_floor
from iam_cache import ROLE_NAME_RE, iam_cache_misses, moto_iam, warm_iam_cache
from inputs import ACCOUNT, HARDENED, PERMISSIONS, build_inputs, corpus_dir, hardened_inputs, write_bodies
from latency_summary import summarise
from load_generators import WRK_SCRIPT, run_python, run_wrk
from machine_info import machine, worker_model
from opa_sidecar import opa_standin
from process_cpu import process_tree_cpu_seconds
from raw_engine import raw_engine
from report import TARGET, print_raw_engine, print_setup, print_table_header, print_targets, write_json
from rounds import measure_rounds, print_summary
from server_lifecycle import free_port, running, server, wait_ready
from webhook_measurement import Sweep, Variant, measure_webhook

# Everything here lived in this one module before it was split, and bench/memory.py and
# docs/capacity.md still import from it; these names stay importable from `run`.
__all__ = [
    "ACCOUNT",
    "HARDENED",
    "PERMISSIONS",
    "REPO",
    "ROLE_NAME_RE",
    "TARGET",
    "WRK_SCRIPT",
    "build_inputs",
    "corpus_dir",
    "floor_server",
    "free_port",
    "hardened_inputs",
    "iam_cache_misses",
    "machine",
    "main",
    "moto_iam",
    "opa_standin",
    "process_tree_cpu_seconds",
    "raw_engine",
    "run_python",
    "run_wrk",
    "running",
    "server",
    "summarise",
    "wait_ready",
    "warm_iam_cache",
    "worker_model",
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,8,32", help="comma-separated concurrency levels (default 1,8,32)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per point (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto", help="load generator")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--no-opa", action="store_true", help="skip the OPA sidecar even if available")
    parser.add_argument(
        "--inputs",
        choices=("hardened", "corpus"),
        default="hardened",
        help="bench/hardened-fargate.json (default) or the corpus task definitions (ECS_ADMISSION_CORPUS)",
    )
    parser.add_argument(
        "--facts",
        default="inline,cache",
        help="how role facts arrive, comma-separated: inline (in the envelope) and/or cache (IAM lookups "
        "against moto on 127.0.0.1, cache warmed first); default both",
    )
    parser.add_argument(
        "--rounds",
        type=positive_int,
        default=1,
        help="measure the floor and each webhook in turn, this many times per level, and judge the median "
        "round (default 1: the floor once, first)",
    )
    return parser.parse_args(argv)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fact_modes = [x.strip() for x in args.facts.split(",") if x.strip()]
    if not fact_modes or set(fact_modes) - {"inline", "cache"}:
        sys.exit("bench: --facts takes inline, cache or both")
    levels = [int(x) for x in args.clients.split(",") if x.strip()]
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    if args.client == "wrk" and not shutil.which("wrk"):
        sys.exit("bench: wrk is not installed (apt-get install wrk)")

    envelopes = hardened_inputs() if args.inputs == "hardened" else build_inputs(corpus_dir())
    workdir = Path(tempfile.mkdtemp(prefix="ecs-admission-bench-"))
    paths, bodies = write_bodies(workdir, "inline", envelopes)
    print_setup(args.workers, use_wrk, args.duration, args.inputs, envelopes, bodies)

    interleaved = args.rounds > 1
    floor = {} if interleaved else measure_floor(args.workers, workdir, levels, args.duration, use_wrk, paths, bodies)
    raw = raw_engine(envelopes, min(args.duration, 3.0))
    print_raw_engine(raw)
    print_table_header()
    sweep = Sweep(args.workers, workdir, levels, args.duration, use_wrk, raw, floor)
    results: list[dict[str, Any]] = []
    every_round: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        floor_run = (
            stack.enter_context(warm_floor(args.workers, workdir, use_wrk, paths, bodies)) if interleaved else None
        )

        def measure(variant: Variant) -> list[dict[str, Any]]:
            if floor_run is None:
                return measure_webhook(sweep, variant)
            points, summaries = measure_rounds(sweep, args.rounds, floor_run, variant)
            every_round.extend(points)
            for summary in summaries:
                print_summary(summary)
            return summaries

        variants: list[tuple[str, dict[str, str], list[Path], list[bytes]]] = []
        if "inline" in fact_modes:
            variants.append(("inline", {}, paths, bodies))
        if "cache" in fact_modes:
            aws_env, looked_up = stack.enter_context(moto_iam(envelopes))
            variants.append(("cache", aws_env, *write_bodies(workdir, "cache", looked_up)))
        for facts, env, variant_paths, variant_bodies in variants:
            results += measure(Variant("embedded", facts, env, variant_paths, variant_bodies))
        sidecar = None if args.no_opa else stack.enter_context(opa_standin(workdir))
        if sidecar is not None:
            opa_env, sidecar_pid = sidecar
            for facts, env, variant_paths, variant_bodies in variants:
                results += measure(
                    Variant("opa", facts, {**env, **opa_env}, variant_paths, variant_bodies, sidecar_pid)
                )
    print_targets(results)
    if args.json:
        write_json(args.json, floor, raw, results, every_round)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
