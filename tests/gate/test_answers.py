"""Bounded answers (issue 21 row 5): findings per rule and per answer, message sizes, and linear rules.

600 volumes all named `v` with 650 mount points made a 104 MB answer and a 1 GB worker; 700 x 700
distinct volumes and mounts cost 1.5 s of engine time (ECS-ISO-005's message walked every mount
point for every volume).
"""

from __future__ import annotations

import json
import time

import pytest

from ecs_admission.config import Settings
from ecs_admission.decision import Finding
from ecs_admission.gate import build_gate
from ecs_admission.gate.answers import MAX_FINDINGS, MAX_MESSAGE_CHARS, MAX_PER_RULE, bound_findings
from ecs_admission.inputs import normalise
from tests.support.volumes import volumes_and_mounts


def finding(rule: str, index: int, severity: str = "high", message: str = "m") -> Finding:
    return Finding(rule, severity, "t", f"{message} {index}", f"/volumes/{index}", "fix", "https://docs")


def test_each_rule_keeps_its_first_findings_and_says_how_many_more():
    many = [finding("ECS-ISO-005", i) for i in range(600)]
    violations, warnings, exempted = bound_findings(many, [], [])
    assert len(violations) == MAX_PER_RULE and warnings == exempted == []
    assert violations == sorted(violations, key=Finding.sort_key)
    assert violations[-1].extra["omitted"] == 600 - MAX_PER_RULE
    assert f"and {600 - MAX_PER_RULE} more finding(s) of ECS-ISO-005" in violations[-1].message
    assert all("omitted" not in f.extra for f in violations[:-1])


def test_the_answer_keeps_at_most_max_findings_and_every_rule_that_fired():
    violations = [finding(f"ECS-V-{r:03d}", i) for r in range(30) for i in range(10)]
    warnings = [finding(f"ECS-W-{r:03d}", i, "low") for r in range(10) for i in range(10)]
    kept_v, kept_w, _ = bound_findings(violations, warnings, [])
    assert len(kept_v) + len(kept_w) <= MAX_FINDINGS
    assert {f.rule for f in kept_v} == {f.rule for f in violations}
    assert {f.rule for f in kept_w} == {f.rule for f in warnings}


def test_a_few_findings_pass_unchanged_and_long_messages_are_cut():
    few = [finding("ECS-ISO-002", 0), finding("ECS-ISO-005", 1)]
    assert bound_findings(few, [], []) == (few, [], [])
    (long,), _, _ = bound_findings([finding("ECS-ISO-005", 0, message="x" * 100_000)], [], [])
    assert len(long.message) <= MAX_MESSAGE_CHARS + 40 and "more characters" in long.message


@pytest.fixture(scope="module")
def gate():
    return build_gate(Settings(iam_lookup="off", auth="none"))


@pytest.mark.parametrize(("volumes", "mounts", "same_name"), [(600, 650, True), (700, 700, False)])
def test_volumes_and_mounts_make_a_small_answer_in_linear_time(gate, volumes, mounts, same_name):
    request = normalise(volumes_and_mounts(volumes, mounts, same_name))
    gate.decide(request)  # the engine's first query of a shape compiles; time the second
    started = time.process_time()  # CPU time (the Go evaluator's threads too), not the shared machine's load
    decision = gate.decide(request)
    cpu = time.process_time() - started
    answer = json.dumps(decision.to_dict())
    listed = [f for f in decision.violations if f.rule == "ECS-ISO-005"]
    assert not decision.allowed and len(listed) == MAX_PER_RULE
    assert listed[-1].extra["omitted"] == volumes - MAX_PER_RULE
    assert all(f.message.count("container a") == 1 for f in listed), listed[0].message[:300]
    assert len(answer) < 100 * 1024, len(answer)
    assert cpu < 0.6, cpu  # 700 x 700 took 1.5 s (6.8 s on a busy machine) before the rule was made linear
