"""Issue 22's acceptance: Terraform plans through the gate, the same verdict at every door.

- A plan whose task role trust also lets ec2.amazonaws.com assume it, with a privileged container,
  is denied with ECS-TRUST-002 and ECS-ISO-002, naming the task definition's address.
- The same task definition in a child module, hardened, with correct roles from the plan, is
  allowed without any IAM lookup (lookups on, AWS behind the recording proxy: no IAM call).
- Same verdicts on the CLI (local and --url), over HTTP and in the GitHub Action.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ecs_admission.cli.commands import main
from ecs_admission.config import Settings
from ecs_admission.gate import build_gate
from ecs_admission.gate.terraform import decide_plan
from ecs_admission.inputs.terraform import load_plan
from ecs_admission.web import create_app
from tests.conftest import REPO
from tests.integrations.test_github_action import run_step, step
from tests.support.moto_proxy import aws_proxy, fresh_account
from tests.support.pipeline_servers import gate_server
from tests.support.sarif_schema import assert_code_scanning_accepts

FIXTURES = REPO / "tests" / "fixtures" / "terraform"
ROOT_DENIED = FIXTURES / "root-trust-ec2-privileged.plan.json"
MODULE_DENIED = FIXTURES / "module-trust-ec2-privileged.plan.json"
MODULE_HARDENED = FIXTURES / "module-hardened.plan.json"
AGENT = "aws_ecs_task_definition.agent"
BLUE = 'module.api.aws_ecs_task_definition.this["blue"]'
GREEN = 'module.api.aws_ecs_task_definition.this["green"]'
DENY = {"ECS-TRUST-002", "ECS-ISO-002"}


def violations(result: dict) -> set[tuple[str, str]]:
    return {(v["rule"], v["terraform_address"]) for v in result["violations"]}


@pytest.fixture(scope="module")
def client():
    return create_app(Settings(auth="none", iam_lookup="off")).test_client()


def post(client, path: Path, query: str = ""):
    return client.post(f"/v1/admit{query}", data=path.read_bytes(), content_type="application/json")


# -- over HTTP ----------------------------------------------------------------------------------------


def test_http_denies_the_plan_naming_the_address(client):
    response = post(client, ROOT_DENIED)
    assert response.status_code == 403
    body = response.get_json()
    assert body["allowed"] is False and body["plan"]["task_definitions"] == 1
    assert body["plan"]["skipped"] == [
        {"logical_id": "aws_ecs_task_definition.legacy", "reason": "deleted by this plan"}
    ]
    (result,) = body["results"]
    assert result["address"] == result["logical_id"] == AGENT
    assert violations(result) == {(rule, AGENT) for rule in DENY}
    paths = {v["rule"]: v["path"] for v in result["violations"]}
    assert paths == {
        "ECS-ISO-002": f"{AGENT}.container_definitions[0].privileged",
        "ECS-TRUST-002": f"{AGENT}.task_role_arn",
    }
    assert {v["attribute_path"] for v in result["violations"]} == {
        "container_definitions[0].privileged",
        "task_role_arn",
    }
    # Dry-run: the same verdict and reasons, not blocking.
    dry = post(client, ROOT_DENIED, "?dry_run=true")
    assert dry.status_code == 200 and violations(dry.get_json()["results"][0]) == violations(result)


def test_http_same_task_definition_in_a_child_module(client):
    denied = post(client, MODULE_DENIED)
    assert denied.status_code == 403
    results = {r["address"]: r for r in denied.get_json()["results"]}
    assert set(results) == {BLUE, GREEN}
    assert violations(results[BLUE]) == {(rule, BLUE) for rule in DENY}
    allowed = post(client, MODULE_HARDENED)
    assert allowed.status_code == 200
    body = allowed.get_json()
    assert body["allowed"] is True
    for result in body["results"]:
        assert result["allowed"] is True and result["violations"] == [] and result["warnings"] == []
        assert result["task_definition"]["source"] == "terraform"


# -- without any IAM lookup ------------------------------------------------------------------------


def test_hardened_module_is_allowed_with_no_iam_call(monkeypatch):
    with aws_proxy() as proxy:
        fresh_account(proxy, monkeypatch)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        gate = build_gate(Settings(auth="none", iam_lookup="on", iam_read_timeout=5, iam_budget_seconds=10))
        assert gate.facts.lookup is not None  # lookups are on: the plan's roles make them unnecessary
        decision = decide_plan(gate, load_plan(json.loads(MODULE_HARDENED.read_text())))
        assert decision.allowed and [a for a, _ in decision.results] == [BLUE, GREEN]
        for _, task_decision in decision.results:
            assert task_decision.violations == [] and task_decision.warnings == []
        assert [c for c in proxy.calls if c.service in ("iam", "sts")] == []
        denied = decide_plan(gate, load_plan(json.loads(MODULE_DENIED.read_text())))
        assert not denied.allowed
        assert [c for c in proxy.calls if c.service in ("iam", "sts")] == []


# -- the CLI, local and remote -----------------------------------------------------------------------


def check(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", *args], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_check_plan_json(tmp_path):
    plan = tmp_path / "plan.json"
    shutil.copy(ROOT_DENIED, plan)
    code, out, err = check(str(plan))
    assert code == 1
    assert f"{plan}#{AGENT}: DENIED" in out
    assert f"ECS-ISO-002   critical {AGENT}.container_definitions[0].privileged" in out
    assert f"ECS-TRUST-002 critical {AGENT}.task_role_arn" in out
    assert f"{plan}#aws_ecs_task_definition.legacy skipped: deleted by this plan" in err
    code, out, _ = check(str(MODULE_HARDENED))
    assert code == 0 and out.count("ALLOWED") == 2 and BLUE in out
    code, out, _ = check("--format", "json", str(MODULE_DENIED))
    assert code == 1
    decisions = json.loads(out)
    assert [d["task_definition"]["logical_id"] for d in decisions] == [BLUE, GREEN]
    assert {v["rule"] for v in decisions[0]["violations"]} == DENY


def test_cli_formats_carry_the_address_as_the_logical_location(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    shutil.copy(ROOT_DENIED, tmp_path / "plan.json")
    code, _, _ = check(
        "plan.json", "--report", "sarif=out.sarif", "--report", "junit=out.xml", "--report", "github=out.github"
    )
    assert code == 1
    sarif = json.loads((tmp_path / "out.sarif").read_text())
    assert_code_scanning_accepts(sarif)
    located = {
        r["ruleId"]: r["locations"][0]["logicalLocations"][0]
        for r in sarif["runs"][0]["results"]
        if r["ruleId"] in DENY
    }
    assert located["ECS-ISO-002"] == {
        "name": AGENT,
        "fullyQualifiedName": f"{AGENT}.container_definitions[0].privileged",
        "kind": "resource",
    }
    assert located["ECS-TRUST-002"]["name"] == AGENT
    suites = ET.parse(tmp_path / "out.xml").getroot()
    classnames = {case.get("classname") for case in suites.iter("testcase")}
    assert classnames == {f"ecs-admission.{AGENT}"}
    github = (tmp_path / "out.github").read_text()
    assert re.search(rf"::error .*title=ECS-ISO-002 {re.escape(AGENT)}::", github)


def test_cli_against_a_gate_gives_the_same_verdicts():
    with gate_server() as server:
        code, out, _ = check("--url", server.url, str(ROOT_DENIED))
        assert code == 1 and f"#{AGENT}: DENIED" in out and "ECS-TRUST-002" in out and "ECS-ISO-002" in out
        code, out, _ = check("--url", server.url, str(MODULE_HARDENED))
        assert code == 0 and out.count("ALLOWED") == 2


# -- the GitHub Action --------------------------------------------------------------------------------


def test_the_action_gates_a_plan(tmp_path):
    workspace = tmp_path / "workspace"
    (workspace / ".git").mkdir(parents=True)
    shutil.copy(ROOT_DENIED, workspace / "denied.plan.json")
    shutil.copy(MODULE_HARDENED, workspace / "hardened.plan.json")
    denied = run_step(step("gate"), {"task-definition": "denied.plan.json", "report": "sarif=out.sarif"}, workspace)
    assert denied.code == 1 and denied.outputs["allowed"] == "false"
    rows = json.loads(denied.outputs["decisions"])
    assert [(r["name"], r["allowed"]) for r in rows] == [(f"denied.plan.json#{AGENT}", False)]
    assert f"title=ECS-TRUST-002 {AGENT}::" in denied.stdout and f"title=ECS-ISO-002 {AGENT}::" in denied.stdout
    allowed = run_step(step("gate"), {"task-definition": "hardened.plan.json"}, workspace)
    assert allowed.code == 0 and allowed.outputs["allowed"] == "true"
    assert [r["name"] for r in json.loads(allowed.outputs["decisions"])] == [
        f"hardened.plan.json#{BLUE}",
        f"hardened.plan.json#{GREEN}",
    ]
