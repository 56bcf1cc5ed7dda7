"""Engine time of the shipped policy catalogue: how long data.ecs.admission.decision takes.

    python bench/policies.py [--corpus DIR] [--iterations N]

Measures EmbeddedEngine.evaluate (Input conversion + the precompiled plan + reading the result)
on the example files and on every task definition of the corpus (ECS_ADMISSION_CORPUS, default
tests/fixtures/corpus), either with every role fact known (trust policies and evaluator verdicts,
so every rule runs) or with none. Not a test: numbers, not assertions (measure with a script, never timed assertions).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from ecs_admission.engines.embedded import EmbeddedEngine
from ecs_admission.errors import InputError
from ecs_admission.gate import CallerSuppliedFacts, Gate, utc_now
from ecs_admission.inputs import normalise, parse_file_bytes
from ecs_admission.policy.loader import load_policy_set

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "111122223333"
TRUST = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ]
}
PERMISSIONS = {
    "admin_equivalent": False,
    "escalation_paths": [],
    "passrole_any": False,
    "assumerole_any": False,
    "wildcard_data_access": [],
    "beyond_execution_baseline": [],
}


class KnownFacts:
    def gather(self, request, context, timings=None):
        roles = CallerSuppliedFacts().gather(request, context, timings)
        for entry in roles.values():
            entry.update(
                status="known", source="iam", trust_policy=normalise_trust(), permissions=PERMISSIONS, access=[]
            )
        return roles


def normalise_trust():
    from ecs_admission.iam.documents import normalise_policy_document

    return normalise_policy_document(TRUST)


def documents(corpus: Path | None, known: bool) -> dict[str, dict]:
    facts = KnownFacts() if known else CallerSuppliedFacts()
    gate = Gate(engine=None, facts=facts, default_context={"account": ACCOUNT})  # type: ignore[arg-type]
    paths = [
        REPO / "examples" / "taskdef-clean.json",
        REPO / "examples" / "taskdef.json",
        REPO / "examples" / "envelope.json",
    ]
    if corpus:
        paths += sorted(
            p for folder in ("register", "describe", "codedeploy") for p in (corpus / folder).glob("*") if p.is_file()
        )
    found = {}
    for path in paths:
        try:
            request = normalise(parse_file_bytes(path.read_bytes(), path.name))
        except InputError:
            continue
        found[path.name] = gate.input_document(request, utc_now())
    return found


def measure(engine: EmbeddedEngine, document: dict, iterations: int) -> list[float]:
    engine.evaluate(document)  # warm
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        engine.evaluate(document)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    corpus = os.environ.get("ECS_ADMISSION_CORPUS") or REPO / "tests" / "fixtures" / "corpus"
    parser.add_argument("--corpus", type=Path, default=Path(corpus))
    parser.add_argument("--iterations", type=int, default=200, help="evaluations per document (default 200)")
    parser.add_argument(
        "--facts",
        choices=("none", "known"),
        default="known",
        help="role facts: none (no IAM lookups, as with ECS_ADMISSION_IAM_LOOKUP off) or known (every rule runs)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    engine = EmbeddedEngine(load_policy_set())
    compile_ms = (time.perf_counter() - started) * 1000
    docs = documents(args.corpus if args.corpus.is_dir() else None, args.facts == "known")
    per_doc = {}
    for name, document in docs.items():
        samples = measure(engine, document, args.iterations)
        per_doc[name] = (
            statistics.median(samples),
            sorted(samples)[int(len(samples) * 0.99) - 1],
            len(json.dumps(document)),
            min(samples),
        )
    print(
        f"policies compiled in {compile_ms:.0f} ms; {len(docs)} documents x {args.iterations} evaluations, "
        f"role facts {args.facts}"
    )
    for name in ("taskdef-clean.json", "taskdef.json", "envelope.json"):
        p50, p99, size, best = per_doc[name]
        print(f"  {name:24} {size:6d} B input  min {best:.3f} ms  p50 {p50:.3f} ms  p99 {p99:.3f} ms")
    medians = sorted(v[0] for v in per_doc.values())
    # The per-file minimum moves least when other jobs share the CPU: compare edits by it.
    minimums = sorted(v[3] for v in per_doc.values())
    worst = max(per_doc.items(), key=lambda item: item[1][0])
    print(
        f"  corpus: median of per-file minimums {statistics.median(minimums):.3f} ms, "
        f"median of medians {statistics.median(medians):.3f} ms, "
        f"largest median {worst[1][0]:.3f} ms ({worst[0][:60]}, {worst[1][2]} B)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
