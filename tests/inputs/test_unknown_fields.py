"""Unknown task definition keys: a warning naming the key and the closest ECS field (ECS-INPUT-001, issue 16)."""

from __future__ import annotations

import io
import json

import pytest
import yaml

from ecs_admission.cli.commands import main
from ecs_admission.config import Settings
from ecs_admission.gate import build_gate
from ecs_admission.inputs import fields, normalise
from ecs_admission.web import create_app
from tests.conftest import REPO

TASK = {
    "family": "agent",
    "containerDefinitions": [
        {"name": "agent", "image": "public.ecr.aws/nginx/nginx:1.27", "essential": True, "privilege": True}
    ],
}


@pytest.fixture(scope="module")
def gate():
    return build_gate(Settings(iam_lookup="off"))


def input_findings(findings):
    return [f for f in findings if f.rule == "ECS-INPUT-001"]


def test_misspelt_key_is_named_with_the_field_ecs_knows(gate):
    decision = gate.decide(normalise(TASK), dry_run=False)
    (warning,) = input_findings(decision.warnings)
    assert warning.path == "/containerDefinitions/0/privilege"
    assert "did you mean privileged?" in warning.message
    assert (warning.severity, warning.title) == ("low", "Unknown task definition field")
    assert input_findings(decision.violations) == []


def test_dry_run_and_enforce_report_the_same(gate):
    enforce = gate.decide(normalise(TASK), dry_run=False)
    dry_run = gate.decide(normalise(TASK), dry_run=True)
    assert input_findings(enforce.warnings) == input_findings(dry_run.warnings)
    assert enforce.allowed == dry_run.allowed


def test_a_field_ecs_adds_later_is_a_warning_never_a_400():
    client = create_app(Settings(auth="none", iam_lookup="off")).test_client()
    task = {**TASK, "containerDefinitions": [{**TASK["containerDefinitions"][0], "quantumShielding": {"on": True}}]}
    response = client.post("/v1/admit?dryRun=true", json=task)
    assert response.status_code == 200
    warnings = {w["path"]: w for w in response.get_json()["warnings"] if w["rule"] == "ECS-INPUT-001"}
    assert "did you mean" not in warnings["/containerDefinitions/0/quantumShielding"]["message"]
    assert "/containerDefinitions/0/privilege" in warnings


def test_nested_keys_and_data_maps():
    task = {
        "family": "x",
        "containerDefinitions": [
            {
                "name": "a",
                "linuxParameters": {"capabilites": {"add": ["NET_ADMIN"]}},
                "dockerLabels": {"AnyLabel": "is data"},
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}},
            }
        ],
        "volumes": [{"name": "v", "host": {"sourcepath": "/"}}],
        "Family": "case matters",
    }
    found = {(u.path, u.suggestion) for u in fields.unknown_keys(task)}
    assert found == {
        ("/containerDefinitions/0/linuxParameters/capabilites", "capabilities"),
        ("/volumes/0/host/sourcepath", "sourcePath"),
        ("/Family", "family"),
    }


def test_template_key_points_into_the_template(gate):
    from ecs_admission.gate.templates import decide_template
    from ecs_admission.inputs.cloudformation import load_template

    template = {
        "Resources": {
            "T": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {"ContainerDefinitions": [{"Name": "a", "Image": "nginx", "Privilege": True}]},
            }
        }
    }
    ((_, decision),) = decide_template(gate, load_template(template), dry_run=True).results
    (warning,) = input_findings(decision.warnings)
    assert warning.path == "/Resources/T/Properties/ContainerDefinitions/0/Privilege"


def test_switched_off_in_config(tmp_path):
    for module in (REPO / "rego").glob("*.rego"):
        (tmp_path / module.name).write_text(module.read_text())
    config = yaml.safe_load((REPO / "rego" / "config.yaml").read_text()) or {}
    config["enforcement"] = {**(config.get("enforcement") or {}), "ECS-INPUT-001": "off"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    gate = build_gate(Settings(iam_lookup="off", policy_dir=tmp_path))
    assert input_findings(gate.decide(normalise(TASK), dry_run=False).warnings) == []


def test_listed_with_the_rules():
    from ecs_admission.policy.catalogue import rule_catalogue

    (entry,) = [r for r in rule_catalogue({"catalog": {}, "config": {}}) if r["id"] == fields.RULE]
    assert (entry["title"], entry["severity"], entry["enforcement"]) == (fields.TITLE, fields.SEVERITY, "warn")
    assert (entry["remediation"], entry["docs"]) == (fields.REMEDIATION, fields.DOCS)
    code = main(["policy", "list"], stdout=(out := io.StringIO()), stderr=io.StringIO(), stdin=io.StringIO(""))
    assert code == 0 and fields.RULE in out.getvalue()
    assert fields.RULE in (REPO / "docs" / "rules.md").read_text()


@pytest.mark.parametrize("face", ["json", "text", "sarif", "junit", "github"])
def test_every_face_shows_it(tmp_path, face):
    path = tmp_path / "task.json"
    path.write_text(json.dumps(TASK))
    out, err = io.StringIO(), io.StringIO()
    main(["check", str(path), "--format", face], stdout=out, stderr=err, stdin=io.StringIO(""))
    assert "ECS-INPUT-001" in out.getvalue(), err.getvalue()
    assert "privileged" in out.getvalue()
