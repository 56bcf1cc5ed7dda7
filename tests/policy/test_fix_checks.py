"""Fixes are tested like rules: `policy test --fixes` applies every proposed fix to the inputs and decides
again (the shipped fixes over the shipped case files), and the catalogue says which rules fix (docs/fixes.md)."""

from __future__ import annotations

import io
import json
import shutil

from ecs_admission.cli.commands import main
from tests.conftest import POLICY_DIR, REPO

CASES = sorted(str(path) for path in (REPO / "tests" / "cases").glob("*.yaml") if path.name != "config.yaml")
FIXING_RULES = {"ECS-ISO-002", "ECS-ISO-003", "ECS-ISO-004", "ECS-ISO-006"}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, stdin=io.StringIO())
    return code, out.getvalue(), err.getvalue()


def test_every_shipped_fix_passes_on_the_shipped_cases():
    code, out, err = run("policy", "test", "--fixes", *CASES)
    assert code == 0, out + err
    summary = out.strip().splitlines()[-1]
    passed, total = summary.removeprefix("fixes: PASS: ").split("/")
    assert passed == total and int(total) >= 8, summary


def test_the_fix_checks_catch_a_fix_that_neither_clears_its_finding_nor_stays_safe(tmp_path):
    policies = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, policies)
    (policies / "acme.rego").write_text(
        """# METADATA
# title: Acme
package ecs.checks.acme

import rego.v1

# METADATA
# title: Family is upper case
# custom:
#   id: ACME-001
#   severity: low
#   enforcement: deny
#   fix: A bad fix, for the test
findings contains finding if {
	input.task_definition.family == "Upper"
	finding := {
		"rule": "ACME-001",
		"path": "/family",
		"message": "family is upper case",
		"fix": [{"op": "add", "path": "/containerDefinitions/0/privileged", "value": true}],
	}
}
"""
    )
    task = tmp_path / "upper.json"
    task.write_text(json.dumps({"family": "Upper", "containerDefinitions": [{"name": "a", "image": "nginx:1.27"}]}))
    code, out, _ = run("policy", "test", "--fixes", str(task), "--policy-dir", str(policies))
    assert code == 1
    assert "ACME-001 /family: family is upper case: FAIL" in out
    assert "the finding is still there after its fix" in out
    assert "FAIL: 2" in out.splitlines()[-1]


def test_fix_checks_refuse_unreadable_input(tmp_path):
    assert run("policy", "test", "--fixes", str(tmp_path / "missing.json"))[0] == 2


def test_the_catalogue_says_which_rules_propose_a_fix():
    _, out, _ = run("policy", "list", "--format", "json")
    rules = {rule["id"]: rule for rule in json.loads(out)["rules"]}
    assert {rule_id for rule_id, rule in rules.items() if rule["fix"]} == FIXING_RULES
    _, markdown, _ = run("policy", "list", "--format", "markdown")
    assert "| id | enforcement | severity | title | fix |" in markdown
    assert "| [ECS-ISO-002](#ecs-iso-002) | deny | critical | Container runs privileged | yes |" in markdown
    iso7 = "| [ECS-ISO-007](#ecs-iso-007) | deny | critical | Static AWS credentials in the container environment |  |"
    assert iso7 in markdown
    assert markdown == (REPO / "docs" / "rules.md").read_text()
