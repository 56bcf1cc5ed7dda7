"""Bring-your-own policies: conftest's deny / warn / violation and Gatekeeper's violation, as written.

Each package below is what its tool's documentation writes, with only the input paths changed
(input.task_definition...). They must deny (or warn) through the webhook and `ecs-admission check`
with a readable rule id and their own message; a package that yields nothing readable is reported
with the reason.
"""

from __future__ import annotations

import json

import pytest

from ecs_admission.config import Settings
from ecs_admission.web import create_app
from tests.conftest import example
from tests.policy.test_policy_cli import policy_copy
from tests.policy.test_policy_cli import run as run_cli

CONFTEST = """package ecs.checks.no_latest

import rego.v1

deny contains msg if {
	some container in input.task_definition.containerDefinitions
	endswith(container.image, ":latest")
	msg := sprintf("container %q uses the :latest tag", [container.name])
}

warn contains msg if {
	not input.task_definition.tags
	msg := "task definition has no tags"
}
"""

GATEKEEPER = """package ecs.checks.requiredtags

import rego.v1

# METADATA
# title: Task definitions carry the required tags
# custom:
#   id: ACME-TAGS-001
#   severity: medium
#   remediation: Add the tags team and cost-center to the task definition.
violation contains {"msg": msg, "details": {"missing_tags": missing}} if {
	provided := {tag.key | some tag in input.task_definition.tags}
	required := {"team", "cost-center"}
	missing := required - provided
	count(missing) > 0
	msg := sprintf("you must provide tags: %v", [missing])
}
"""

TASK = {
    "family": "byo",
    "tags": [{"key": "team", "value": "payments"}],
    "containerDefinitions": [{"name": "web", "image": "nginx:latest"}],
}


@pytest.fixture
def byo_policies(tmp_path):
    directory = policy_copy(tmp_path)
    (directory / "no_latest.rego").write_text(CONFTEST)
    (directory / "requiredtags.rego").write_text(GATEKEEPER)
    return directory


def findings(body: dict, bucket: str) -> dict[str, dict]:
    return {f["rule"]: f for f in body[bucket] if not f["rule"].startswith("ECS-")}


def test_conftest_and_gatekeeper_packages_deny_through_the_webhook(byo_policies):
    client = create_app(Settings(auth="none", iam_lookup="off", policy_dir=byo_policies)).test_client()
    response = client.post("/v1/admit", json=TASK)
    assert response.status_code == 403
    body = response.get_json()
    denied = findings(body, "violations")
    assert denied["no_latest.deny"]["message"] == 'container "web" uses the :latest tag'
    assert denied["no_latest.deny"]["path"] == "/"
    assert denied["ACME-TAGS-001"]["message"] == 'you must provide tags: {"cost-center"}'
    assert denied["ACME-TAGS-001"]["severity"] == "medium"
    assert denied["ACME-TAGS-001"]["title"] == "Task definitions carry the required tags"
    untagged_task = {key: value for key, value in TASK.items() if key != "tags"}
    untagged = client.post("/v1/admit", json=untagged_task).get_json()
    assert findings(untagged, "warnings")["no_latest.warn"]["message"] == "task definition has no tags"

    rules = {rule["id"]: rule for rule in client.get("/v1/policies").get_json()["rules"]}
    assert rules["no_latest.deny"]["enforcement"] == "deny" and rules["no_latest.warn"]["enforcement"] == "warn"
    assert rules["ACME-TAGS-001"]["source"] == "requiredtags.rego:11"


def test_conftest_and_gatekeeper_packages_deny_through_check(byo_policies, tmp_path):
    path = tmp_path / "taskdef.json"
    path.write_text(json.dumps(TASK))
    code, out, _ = run_cli("check", "--format", "json", "--policy-dir", str(byo_policies), str(path))
    assert code == 1
    report = json.loads(out)
    decision = report["results"][0] if "results" in report else report
    messages = {f["rule"]: f["message"] for f in decision["violations"]}
    assert messages["no_latest.deny"] == 'container "web" uses the :latest tag'
    assert messages["ACME-TAGS-001"] == 'you must provide tags: {"cost-center"}'


def test_config_names_a_derived_id(byo_policies):
    (byo_policies / "config.yaml").write_text("enforcement:\n  no_latest.deny: warn\n")
    client = create_app(Settings(auth="none", iam_lookup="off", policy_dir=byo_policies)).test_client()
    body = client.post("/v1/admit", json=TASK).get_json()
    assert "no_latest.deny" in findings(body, "warnings") and "no_latest.deny" not in findings(body, "violations")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("helper := 1\n", "it defines none of findings, deny, violation, warn"),
        ('deny := "no"\n', "its deny is string, not a set of findings or messages"),
        ("deny contains 42 if true\n", "ecs.checks.silent.deny holds 42, which is neither a message"),
    ],
)
def test_a_package_that_yields_nothing_readable_says_why(tmp_path, source, reason):
    directory = policy_copy(tmp_path)
    (directory / "silent.rego").write_text(f"package ecs.checks.silent\n\nimport rego.v1\n\n{source}")
    client = create_app(Settings(auth="none", iam_lookup="off", policy_dir=directory)).test_client()
    body = client.post("/v1/admit", json=example("taskdef-clean.json")).get_json()
    failures = [v["message"] for v in body["violations"] if v["rule"] == "ECS-POLICY-001"]
    assert len(failures) == 1 and reason in failures[0], failures
