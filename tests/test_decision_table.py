"""data.ecs.decision_table and data.ecs.check_packages: pure data the loader works out once so the
embedded engine does not on every decision. The Rego fallback (a bundle without them) must give
exactly the same table and the same decisions."""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil

import pytest
from regopy import Interpreter

from ecs_admission.engines.embedded import EmbeddedEngine
from ecs_admission.policy import DECISION_TABLE_KEY, PolicyError, decision_table, load_policy_set

from .conftest import POLICY_DIR

CONFIGS = [
    {},
    {"enforcement": {"ECS-ISO-002": "warn", "ECS-HARD-002": "deny", "ECS-HARD-007": "off"}},
]


def rego_table(policy, config) -> dict:
    """admission.rego's own rule_table over the same catalog and config."""
    rego = Interpreter()
    for module in policy.modules:
        rego.add_module(module.name, module.source)
    data = copy.deepcopy(policy.data)
    data["ecs"]["config"] = config
    del data["ecs"][DECISION_TABLE_KEY]
    rego.add_data(data)
    query = "x := data.ecs.admission.rule_table(data.ecs.catalog, data.ecs.config)"
    return json.loads(str(rego.query(query)))["bindings"]["x"]


@pytest.mark.parametrize("config", CONFIGS, ids=["shipped", "overrides"])
def test_precomputed_table_equals_the_rego_one(config):
    policy = load_policy_set(POLICY_DIR)
    assert decision_table(policy.data["ecs"]["catalog"], config) == rego_table(policy, config)


def test_shipped_table_places_by_catalogue_default():
    document = load_policy_set(POLICY_DIR).data["ecs"][DECISION_TABLE_KEY]
    assert document["precomputed"] is True
    table = document["table"]
    assert table["ECS-ISO-002"]["bucket"] == "violations"
    assert table["ECS-HARD-002"]["bucket"] == "warnings"
    assert table["ECS-ISO-002"]["meta"]["title"] == "Container runs privileged"
    assert set(table["ECS-ISO-002"]["meta"]) == {"severity", "title", "remediation", "docs", "enforcement"}


def test_check_packages_include_catalogued_ones(tmp_path):
    directory = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, directory)
    (directory / "template.rego").unlink()
    (directory / "template_test.rego").unlink()
    policy = load_policy_set(directory)
    assert "template" in policy.data["ecs"]["check_packages"]
    decision = EmbeddedEngine(policy).evaluate({"task_definition": {"containerDefinitions": [{"name": "a"}]}})
    assert any(v.rule == "ECS-POLICY-001" and "ecs.checks.template" in v.message for v in decision.violations)


def test_decision_table_is_reserved(tmp_path):
    directory = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, directory)
    (directory / "decision_table.yaml").write_text("{}\n")
    with pytest.raises(PolicyError, match="may not be called decision_table"):
        load_policy_set(directory)


def test_a_bundle_without_the_precomputed_data_decides_the_same():
    policy = load_policy_set(POLICY_DIR)
    bare = copy.deepcopy(policy.data)
    del bare["ecs"][DECISION_TABLE_KEY]
    del bare["ecs"]["check_packages"]
    fast, slow = EmbeddedEngine(policy), EmbeddedEngine(dataclasses.replace(policy, data=bare))
    document = {
        "task_definition": {
            "family": "web",
            "networkMode": "host",
            "containerDefinitions": [{"name": "a", "image": "nginx", "privileged": True, "user": "root"}],
        },
        "now": "2026-11-27T00:00:00Z",
    }
    assert fast.query(document) == slow.query(document)
