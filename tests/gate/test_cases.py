"""End-to-end rule cases (gator verify / kyverno test style), run through the real webhook.

Each tests/cases/*.yaml holds `cases:`, each with:
  name      what the case shows
  input     anything POST /v1/admit accepts (task definition, describe output, envelope,
            AdmissionReview), posted as JSON so input normalisation is covered too
  now       optional RFC 3339 time of the decision (exemption expiry)
  config    optional config.yaml for this case (the shipped policies with these settings)
  facts     optional role facts the IAM provider would have produced, per role field, laid over
            what the gate gathered (status, source, permissions, access...): the IAM lookups
            themselves are tested against moto elsewhere
  expect    verdict (allow|deny), violations / warnings / exempted (rule ids that must be there),
            absent (rule ids that must not appear at all), messages ({rule id: regex} matched
            against that rule's messages), hidden (strings that must appear nowhere in the response)
A rule a case names must fire in one case and be proven absent in another (case files are
optional for a new rule; its Rego tests are not).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecs_admission import gate as admission
from ecs_admission.config import Settings
from ecs_admission.policy.catalogue import INPUT_RULES
from ecs_admission.policy.loader import load_policy_set
from ecs_admission.web import EXTENSION, create_app
from tests.conftest import POLICY_DIR

CASES_DIR = Path(__file__).parents[1] / "cases"
EXPECT_KEYS = {"verdict", "violations", "warnings", "exempted", "absent", "messages", "hidden"}
CASE_KEYS = {"name", "input", "now", "config", "facts", "expect"}


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        # libyaml's safe loader (the same YAML as yaml.safe_load, parsed in C): this runs at collection in every worker.
        document = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        for index, case in enumerate(document["cases"]):
            cases.append((f"{path.stem}[{index}] {case['name']}", case))
    return cases


CASES = load_cases()


class InjectedFacts:
    """The gate's own facts provider, with what an IAM lookup would have added laid over it."""

    def __init__(self, inner: admission.FactsProvider, overrides: dict[str, dict[str, Any]]):
        self.inner = inner
        self.overrides = overrides

    def gather(
        self, request: Any, context: dict[str, str], timings: dict[str, float] | None = None
    ) -> dict[str, dict[str, Any]]:
        roles = self.inner.gather(request, context, timings)
        for field, extra in self.overrides.items():
            roles[field] = {**roles.get(field, {}), **extra}
        return roles


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    """One app per distinct config (compiling the policies once each)."""
    built: dict[str, Any] = {}

    def get(config: dict[str, Any] | None):
        key = json.dumps(config, sort_keys=True)
        if key not in built:
            if config is None:
                built[key] = create_app(Settings(auth="none", iam_lookup="off"))
            else:
                directory = tmp_path_factory.mktemp("policy") / "rego"
                shutil.copytree(POLICY_DIR, directory)
                (directory / "config.yaml").write_text(yaml.safe_dump(config))
                built[key] = create_app(Settings(auth="none", iam_lookup="off", policy_dir=directory))
        return built[key]

    return get


def decision_of(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("kind") == "AdmissionReview":
        return body["response"]["decision"]
    if isinstance(body.get("results"), list):  # a CloudFormation template: one task definition per case
        (decision,) = body["results"]
        return decision
    return body


@pytest.mark.parametrize(("name", "case"), CASES, ids=[name for name, _ in CASES])
def test_case(name, case, apps, monkeypatch):
    assert set(case) <= CASE_KEYS, f"unknown case keys {set(case) - CASE_KEYS}"
    expect = case["expect"]
    assert set(expect) <= EXPECT_KEYS, f"unknown expect keys {set(expect) - EXPECT_KEYS}"
    app = apps(case.get("config"))
    if "now" in case:
        now = dt.datetime.fromisoformat(str(case["now"]).replace("Z", "+00:00"))
        monkeypatch.setattr(admission, "utc_now", lambda: now)
    gate = app.extensions[EXTENSION]["gate"]
    if "facts" in case:
        monkeypatch.setattr(gate, "facts", InjectedFacts(gate.facts, case["facts"]))

    response = app.test_client().post("/v1/admit", data=json.dumps(case["input"]), content_type="application/json")
    body = response.get_json()
    assert response.status_code in (200, 403), body
    decision = decision_of(body)
    found = {key: {f["rule"] for f in decision[key]} for key in ("violations", "warnings", "exempted")}
    summary = json.dumps({k: sorted(v) for k, v in found.items()})

    assert decision["allowed"] is (expect["verdict"] == "allow"), summary
    for key in ("violations", "warnings", "exempted"):
        missing = set(expect.get(key, [])) - found[key]
        assert not missing, f"expected {sorted(missing)} among {key}; got {summary}"
    everywhere = found["violations"] | found["warnings"] | found["exempted"]
    unexpected = set(expect.get("absent", [])) & everywhere
    assert not unexpected, f"{sorted(unexpected)} must not fire; got {summary}"
    for rule_id, pattern in (expect.get("messages") or {}).items():
        messages = [f["message"] for key in found for f in decision[key] if f["rule"] == rule_id]
        assert any(re.search(pattern, m) for m in messages), f"{rule_id}: no message matches {pattern!r}: {messages}"
    text = json.dumps(body)
    for secret in expect.get("hidden", []):
        assert secret not in text, f"{secret!r} leaked into the response"


def test_every_rule_has_tests_and_a_case_names_both_sides():
    """Adding a rule is its annotation and its Rego tests; a case file is optional, but a rule a case
    names must be shown both firing and not firing."""
    policy = load_policy_set(POLICY_DIR)
    tests = "\n".join(test.source for test in policy.tests)
    assert sorted(rule for rule in policy.catalog if rule not in tests) == [], "rules no Rego test names"
    fires: set[str] = set()
    passes: set[str] = set()
    for _, case in CASES:
        expect = case["expect"]
        fires |= set(expect.get("violations", [])) | set(expect.get("warnings", [])) | set(expect.get("exempted", []))
        passes |= set(expect.get("absent", []))
    assert sorted(passes - fires) == [], "rules shown absent but never firing"
    assert sorted(fires - passes) == [], "rules shown firing but never absent"


def test_case_ids_are_unique_and_name_known_rules():
    rules = set(load_policy_set(POLICY_DIR).catalog) | set(INPUT_RULES)
    names = [name for name, _ in CASES]
    assert len(names) == len(set(names))
    for name, case in CASES:
        expect = case["expect"]
        named = set().union(*(set(expect.get(k, [])) for k in ("violations", "warnings", "exempted", "absent")))
        named |= set(expect.get("messages") or {})
        assert named <= rules, f"{name}: unknown rule ids {named - rules}"
