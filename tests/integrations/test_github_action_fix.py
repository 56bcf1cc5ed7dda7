"""The action's `fix: true`: the fixed copy is gated and its path is an output for the deploy step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli.test_fix_cli import DANGEROUS
from tests.conftest import EXAMPLES
from tests.integrations.test_github_action import ACTION, gate


@pytest.fixture()
def checkout(tmp_path: Path) -> Path:
    workspace = tmp_path / "workspace"
    (workspace / ".aws").mkdir(parents=True)
    (workspace / ".git").mkdir()
    (workspace / ".aws" / "agent.json").write_text(json.dumps(DANGEROUS, indent=2))
    shutil.copy(EXAMPLES / "taskdef.json", workspace / ".aws" / "denied.json")
    return workspace


def test_fix_gates_the_fixed_copy_and_names_it(checkout):
    assert ACTION["inputs"]["fix"]["default"] == "false"
    result = gate({"task-definition": ".aws/agent.json", "fix": "true"}, checkout)
    assert result.code == 0, result.stdout + result.stderr
    fixed = Path(result.outputs["fixed-task-definition"])
    assert fixed.is_file() and fixed.parent != checkout / ".aws"
    document = json.loads(fixed.read_text())
    assert document["pidMode"] == "task" and "privileged" not in document["containerDefinitions"][0]
    assert result.outputs["allowed"] == "true" and result.outputs["exit-code"] == "0"
    assert "ecs-admission: fixed ECS-ISO-002" in result.stderr
    # The original is left as it was.
    assert json.loads((checkout / ".aws" / "agent.json").read_text()) == DANGEROUS


def test_fix_with_denials_no_fix_covers_still_fails_the_step(checkout):
    result = gate({"task-definition": ".aws/denied.json", "fix": "true"}, checkout)
    assert result.code == 1 and result.outputs["allowed"] == "false"
    fixed = json.loads(Path(result.outputs["fixed-task-definition"]).read_text())
    assert "privileged" not in fixed["containerDefinitions"][0]
    assert "ECS-EXEC-001" in result.stdout and "ECS-ISO-002" not in result.stdout


def test_without_fix_the_output_is_empty_and_fix_is_validated(checkout):
    result = gate({"task-definition": ".aws/agent.json"}, checkout)
    assert result.code == 1 and result.outputs["fixed-task-definition"] == ""
    result = gate({"task-definition": ".aws/agent.json", "fix": "yes"}, checkout)
    assert result.code == 2 and "input fix must be 'true' or 'false'" in result.stdout
