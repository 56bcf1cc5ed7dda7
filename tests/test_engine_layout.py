"""The embedded engine's per-package plans (engines/layout.py): the same decision as one plan for
the whole set (which is how OPA evaluates it), and one plan whenever the split could differ."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import zlib

import pytest

from ecs_admission.admission import Gate
from ecs_admission.engines.embedded import EmbeddedEngine
from ecs_admission.engines.layout import SplitLayout, rule_texts, split_layout
from ecs_admission.errors import EngineError, InputError
from ecs_admission.inputs import normalise, parse_file_bytes
from ecs_admission.policy import CHECK_PACKAGES_KEY, RegoFile, check_packages, load_policy_set

from .conftest import EXAMPLES, POLICY_DIR
from .test_corpus_rules import TASK_FILES, TRUST_FILES, EverythingKnown, envelope, trust_policy

SHIPPED = load_policy_set(POLICY_DIR)
SHIPPED_ADMISSION = next(m.source for m in SHIPPED.modules if m.name == "admission.rego")


def with_modules(*extra: RegoFile, replace: dict[str, str] | None = None):
    """The shipped set plus `extra` modules, with module sources swapped per `replace`."""
    modules = tuple(RegoFile(m.name, (replace or {}).get(m.name, m.source)) for m in SHIPPED.modules) + tuple(extra)
    data = {"ecs": {**SHIPPED.data["ecs"], CHECK_PACKAGES_KEY: check_packages(list(modules), SHIPPED.catalog)}}
    return dataclasses.replace(SHIPPED, modules=modules, data=data)


def canonical(decision: dict) -> dict:
    return {key: sorted(json.dumps(item, sort_keys=True) for item in decision[key]) for key in sorted(decision)}


@pytest.fixture(scope="module")
def engines():
    return EmbeddedEngine(SHIPPED), EmbeddedEngine(SHIPPED, split=False)


def test_shipped_set_is_one_plan_per_check_package():
    layout = split_layout(SHIPPED)
    assert isinstance(layout, SplitLayout)
    assert [plan.concern for plan in layout.checks] == SHIPPED.data["ecs"]["check_packages"]
    trust = next(plan for plan in layout.checks if plan.concern == "trust")
    assert [m.name for m in trust.modules] == ["trust.rego", "lib.rego"]
    assert [m.name for m in layout.decision.modules] == ["admission.rego"]
    assert layout.decision.entrypoint == "ecs/admission/findings_decision"
    assert EmbeddedEngine(SHIPPED).layout.startswith("7 check package plans")


def corpus_documents() -> list[tuple[str, dict]]:
    gate = Gate(engine=None, facts=EverythingKnown())  # type: ignore[arg-type]
    found = []
    for path in [*sorted(EXAMPLES.glob("*.json")), *TASK_FILES]:
        try:
            request = normalise(parse_file_bytes(path.read_bytes(), path.name))
        except InputError:
            continue
        trust = trust_policy(TRUST_FILES[zlib.crc32(path.name.encode()) % len(TRUST_FILES)])
        request = normalise(envelope(request.task_definition, trust))
        found.append((path.name, gate.input_document(request, dt.datetime(2026, 11, 27, tzinfo=dt.UTC))))
    return found


def test_split_and_single_plan_decide_the_same_on_the_corpus(engines):
    split, single = engines
    documents = corpus_documents()
    assert len(documents) > 50
    differing = [name for name, doc in documents if canonical(split.query(doc)) != canonical(single.query(doc))]
    assert differing == []
    # Not vacuous: the corpus with these facts fires rules from every package.
    found = [split.query(doc) for _, doc in documents]
    prefixes = {f["rule"].rsplit("-", 1)[0] for d in found for f in (*d["violations"], *d["warnings"])}
    assert {"ECS-TRUST", "ECS-EXEC", "ECS-HARD", "ECS-ISO", "ECS-PERM"} <= prefixes


AGENT = {
    "family": "datadog-agent",
    "networkMode": "host",
    "containerDefinitions": [{"name": "agent", "image": "nginx", "privileged": True, "essential": True}],
}
CONFIG = {
    "family_enforcement": [{"family": "datadog-*", "enforcement": {"ECS-ISO-002": "warn"}}],
    "exemptions": [
        {
            "rule": "ECS-ISO-001",
            "family": "datadog-*",
            "justification": "agent",
            "ticket": "T-1",
            "expires": "2027-03-31",
        }
    ],
}


@pytest.mark.parametrize("now", ["2027-03-31T23:59:59Z", "2027-04-01T00:00:00Z", "garbage"])
@pytest.mark.parametrize("family", ["datadog-agent", "web", None])
def test_family_overrides_and_exemptions_reach_the_split_decision(now, family):
    # decide() reads the family and the date from the document the engine hands it separately.
    data = copy.deepcopy(SHIPPED.data)
    data["ecs"]["config"] = CONFIG
    policy = dataclasses.replace(SHIPPED, data=data)
    task = {**AGENT, "family": family} if family else {k: v for k, v in AGENT.items() if k != "family"}
    document = {"task_definition": task, "task_roles": {}, "context": {}, "now": now}
    split = EmbeddedEngine(policy).query(document)
    assert canonical(split) == canonical(EmbeddedEngine(policy, split=False).query(document))
    exempted = {e["rule"] for e in split["exempted"]}
    warned = {w["rule"] for w in split["warnings"]}
    if family == "datadog-agent":
        assert "ECS-ISO-002" in warned
        assert ("ECS-ISO-001" in exempted) == now.startswith("2027-03-31")
    else:
        assert "ECS-ISO-002" in {v["rule"] for v in split["violations"]} and not exempted


READS_OTHER_PACKAGE = """package ecs.checks.echo

import rego.v1

findings := {f |
	some found in data.ecs.checks.isolation.findings
	f := {"rule": "ECS-ECHO-001", "path": found.path, "message": found.message}
}
"""


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (
            lambda: with_modules(
                replace={
                    "admission.rego": SHIPPED_ADMISSION.replace(
                        "decision := decision_for(package_findings, input)",
                        'decision := {"violations": [], "warnings": [], "exempted": []}',
                    )
                }
            ),
            "ecs.admission.decision is not admission.rego's own definition",
        ),
        (
            lambda: with_modules(RegoFile("echo.rego", READS_OTHER_PACKAGE)),
            "echo.rego reads data beyond its own package",
        ),
        (
            lambda: with_modules(RegoFile("all.rego", "package ecs.helpers\n\nimport data.ecs\n\nx := ecs.checks\n")),
            "all.rego reads data beyond its own package",
        ),
        (
            lambda: dataclasses.replace(
                SHIPPED, data={"ecs": {k: v for k, v in SHIPPED.data["ecs"].items() if k != CHECK_PACKAGES_KEY}}
            ),
            "data.ecs.check_packages is missing",
        ),
    ],
    ids=["own-decision", "reads-another-package", "imports-all-of-ecs", "no-package-list"],
)
def test_anything_the_split_could_change_gets_one_plan(policy, reason):
    policy = policy()
    layout = split_layout(policy)
    assert isinstance(layout, str) and reason in layout
    assert EmbeddedEngine(policy).layout == f"one plan ({layout})"


def test_a_package_reading_another_is_still_decided_correctly():
    policy = with_modules(RegoFile("echo.rego", READS_OTHER_PACKAGE))
    document = {"task_definition": AGENT, "task_roles": {}, "context": {}, "now": "2026-11-27T00:00:00Z"}
    rules = {v["rule"] for v in EmbeddedEngine(policy).query(document)["violations"]}
    assert {"ECS-ISO-002", "ECS-ECHO-001"} <= rules


@pytest.mark.parametrize("findings", ["x if x := input.absent", "null", '"none"', "{}"])
@pytest.mark.parametrize("split", [True, False], ids=["split", "one-plan"])
def test_a_silent_package_is_reported(findings, split):
    source = f"package ecs.checks.quiet\n\nimport rego.v1\n\nfindings := {findings}\n"
    document = {"task_definition": AGENT, "task_roles": {}, "context": {}, "now": "2026-11-27T00:00:00Z"}
    violations = EmbeddedEngine(with_modules(RegoFile("quiet.rego", source)), split=split).query(document)["violations"]
    failures = [v["message"] for v in violations if v["rule"] == "ECS-POLICY-001"]
    assert failures == ["the check package ecs.checks.quiet produced no findings: its rules were not evaluated"]
    assert "ECS-ISO-002" in {v["rule"] for v in violations}


def test_a_failing_package_fails_closed():
    document = {"task_definition": AGENT, "task_roles": {}, "context": {}, "now": "2026-11-27T00:00:00Z"}
    failing = with_modules(
        RegoFile(
            "loud.rego",
            "package ecs.checks.loud\n\nimport rego.v1\n\n"
            'findings := {"a": 1} if input.now\n\nfindings := {"a": 2} if input.now\n',
        )
    )
    with pytest.raises(EngineError, match=r"ecs\.checks\.loud"):
        EmbeddedEngine(failing).query(document)


def test_rule_texts_normalise_whitespace_and_skip_comments():
    module = RegoFile(
        "m.rego",
        "package p\n\n# decision := nothing\n"
        "decision :=   decision_for(package_findings,\n\tinput)  # why\n\nother := 1\n",
    )
    assert rule_texts(module) == {
        "decision": ["decision := decision_for(package_findings, input)"],
        "other": ["other := 1"],
    }
