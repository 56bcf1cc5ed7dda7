#!/usr/bin/env python3
"""The instructions one decision costs, counted by valgrind, where the wall clock's drift does not
reach (docs/performance.md, "Counted in instructions").

    python bench/instructions.py                          # the decision, 300 evaluations, GOGC as serve
    python bench/instructions.py --gogc off --evaluations 100
    python bench/instructions.py --path ecs.checks.trust.findings   # one package's findings

It builds the gate as `serve` does (embedded engine, IAM lookups off) and evaluates the hardened
Fargate input (bench/hardened-fargate.json, made into the policy input as a request makes it) N
times, under valgrind's cachegrind (`apt-get install valgrind`), once with N evaluations and once
with none: the difference over N is what one evaluation costs, Go's collector goroutines included.
Two runs agree to about 0.2%. `--path` counts another document than the decision (its result's
JSON included), e.g. one check package's findings less the cost of a document that reads nothing
(`ecs.admission.config`) is what that package costs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INPUT = Path(__file__).resolve().parent / "hardened-fargate.json"
DECISION = "ecs.admission.decision"
# cachegrind's summary line: "==123== I   refs:      5,066,291,590" (older releases: "I refs:").
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def evaluate(evaluations: int, path: str, policy_dir: str | None) -> None:
    """The measured process: build the gate, warm the document, then evaluate it `evaluations` times."""
    from ecs_admission.config import Settings
    from ecs_admission.engines.embedded import EmbeddedEngine
    from ecs_admission.gate import build_gate, utc_now
    from ecs_admission.inputs import normalise

    settings = Settings(auth="none", iam_lookup="off", policy_dir=Path(policy_dir) if policy_dir else None)
    gate = build_gate(settings)
    document = gate.input_document(normalise(json.loads(INPUT.read_text())), utc_now())
    engine = gate.engine
    # The engine is wrapped (the evaluation deadline): the count is of OPA's evaluation itself.
    while not isinstance(engine, EmbeddedEngine):
        engine = engine.inner
    for _ in range(3):
        engine.query(document, path)
    for _ in range(evaluations):
        engine.query(document, path)


def instructions(output: str) -> int:
    """The total instruction count from valgrind's output."""
    match = _REFS.search(output)
    if match is None:
        raise ValueError("valgrind printed no instruction count (I refs)")
    return int(match.group(1).replace(",", ""))


def count(evaluations: int, args: argparse.Namespace) -> int:
    command = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, __file__, "--measured", str(evaluations),
    ]  # fmt: skip
    command += ["--path", args.path]
    if args.policy_dir:
        command += ["--policy-dir", args.policy_dir]
    env = {**os.environ, "GOGC": args.gogc, "PYTHONPATH": str(REPO / "service")}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the measured process failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return instructions(done.stderr)


def per_evaluation(with_evaluations: int, without: int, evaluations: int) -> float:
    return (with_evaluations - without) / evaluations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluations", type=int, default=300, help="evaluations counted (default 300)")
    parser.add_argument("--gogc", default=os.environ.get("ECS_ADMISSION_GOGC", "800"), help="GOGC (default 800)")
    parser.add_argument("--path", default=DECISION, help=f"the document under data to evaluate (default {DECISION})")
    parser.add_argument("--policy-dir", help="the policy directory (default: the shipped rego/)")
    parser.add_argument("--measured", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measured is not None:
        evaluate(args.measured, args.path, args.policy_dir)
        return 0
    if args.evaluations < 1:
        parser.error("--evaluations must be at least 1")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    without = count(0, args)
    total = count(args.evaluations, args)
    cost = per_evaluation(total, without, args.evaluations) / 1e6
    print(f"data.{args.path}, GOGC={args.gogc}: {cost:.2f}M instructions per evaluation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
