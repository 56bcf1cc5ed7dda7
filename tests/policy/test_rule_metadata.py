"""One place per rule: the catalogue is generated from the METADATA annotations beside the rules."""

from __future__ import annotations

import json

import pytest

from ecs_admission.config import Settings
from ecs_admission.engines.embedded import EmbeddedEngine
from ecs_admission.policy.loader import PolicyError, load_policy_set
from ecs_admission.policy.metadata import annotations, build_catalog
from ecs_admission.web import create_app
from tests.conftest import POLICY_DIR
from tests.policy.test_policy_cli import policy_copy
from tests.policy.test_policy_cli import run as run_cli

RULE = """package ecs.checks.acme

import rego.v1

# METADATA
# title: Family names carry the team prefix
# description: Every task family starts with acme-, so costs and pages reach the right team.
# custom:
#   id: ACME-001
#   severity: low
#   remediation: Rename the family to acme-<service>.
findings contains finding if {
	family := input.task_definition.family
	not startswith(family, "acme-")
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": "/family",
		"message": sprintf("family %q does not start with acme-", [family]),
	}
}
"""


def policy_with(tmp_path, name: str, source: str):
    directory = policy_copy(tmp_path)
    (directory / name).write_text(source)
    return directory


def test_every_shipped_rule_is_declared_beside_its_rule():
    policy = load_policy_set(POLICY_DIR)
    assert not (POLICY_DIR / "catalog.yaml").exists()
    for rule_id, entry in policy.catalog.items():
        file, line = entry["source"].split(":")
        source = (POLICY_DIR / file).read_text().splitlines()
        assert [n for n in annotations(file, "\n".join(source)) if n.fields.get("custom", {}).get("id") == rule_id]
        assert int(line) <= len(source), rule_id


def test_a_new_annotated_rule_is_listed_served_and_decided(tmp_path, capsys):
    directory = policy_with(tmp_path, "acme.rego", RULE)
    code, out, _ = run_cli("policy", "list", "--format", "json", "--policy-dir", str(directory))
    rules = {rule["id"]: rule for rule in json.loads(out)["rules"]}
    assert code == 0 and rules["ACME-001"]["title"] == "Family names carry the team prefix"
    assert rules["ACME-001"]["enforcement"] == "deny" and rules["ACME-001"]["source"] == "acme.rego:12"
    assert rules["ACME-001"]["package"] == "acme"

    client = create_app(Settings(auth="none", iam_lookup="off", policy_dir=directory)).test_client()
    assert "ACME-001" in {rule["id"] for rule in client.get("/v1/policies").get_json()["rules"]}
    body = {"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx:1.27"}]}
    decision = client.post("/v1/admit", json=body).get_json()
    found = [v for v in decision["violations"] if v["rule"] == "ACME-001"]
    assert found == [
        {
            **found[0],
            "message": 'family "web" does not start with acme-',
            "path": "/family",
            "severity": "low",
            "remediation": "Rename the family to acme-<service>.",
        }
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: s.replace("# title: Family names carry the team prefix\n", ""),
            "acme.rego:5: the annotation of rule findings needs a title",
        ),
        (lambda s: s.replace("# title: Family", "# title: [Family"), "acme.rego:5: METADATA is not valid YAML"),
        (lambda s: s.replace("#   severity: low", "#   severty: low"), "acme.rego:5: unknown key custom.severty"),
        (lambda s: s.replace("severity: low", "severity: urgent"), "custom.severity 'urgent' must be one of"),
        (lambda s: s.replace("ACME-001", "ECS-HARD-001"), "rule id ECS-HARD-001 is already declared"),
        (lambda s: s.replace("#   severity: low", "#   severity: low\n#   enforcement: block"), "'block' must be"),
        (lambda s: s.replace("package ecs.checks.acme", "package ecs.checks.acme.team"), "acme.rego:1: package"),
    ],
)
def test_a_bad_annotation_stops_the_policies_naming_file_and_line(tmp_path, change, message):
    directory = policy_with(tmp_path, "acme.rego", change(RULE))
    with pytest.raises(PolicyError) as raised:
        load_policy_set(directory)
    assert message in str(raised.value)
    code, _, err = run_cli("policy", "list", "--policy-dir", str(directory))
    assert code == 2 and "policies do not load" in err and message in err
    response = create_app(Settings(auth="none", iam_lookup="off", policy_dir=directory)).test_client()
    assert response.get("/readyz").status_code == 503


def test_a_hand_written_catalog_is_refused_with_the_way_forward(tmp_path):
    directory = policy_with(tmp_path, "catalog.yaml", "ECS-X-001: {title: x}\n")
    with pytest.raises(PolicyError, match=r"catalog\.yaml: rule metadata lives in a METADATA annotation"):
        load_policy_set(directory)


def test_an_id_on_two_definitions_of_deny_is_ambiguous():
    source = (
        "package ecs.checks.two\n\nimport rego.v1\n\n"
        "# METADATA\n# title: a\n# custom: {id: A-1, severity: low, remediation: r}\ndeny contains 'a' if true\n\n"
        "# METADATA\n# title: b\n# custom: {id: B-1, severity: low, remediation: r}\ndeny contains 'b' if true\n"
    )
    with pytest.raises(ValueError, match=r"two.rego:10: ecs.checks.two.deny is annotated with A-1, B-1"):
        build_catalog([("two.rego", source)])


def test_the_engine_sees_the_generated_catalogue(tmp_path):
    engine = EmbeddedEngine(load_policy_set(policy_with(tmp_path, "acme.rego", RULE)))
    assert engine.policy_data()["catalog"]["ACME-001"]["severity"] == "low"
    assert engine.query({}, "ecs.catalog")["ACME-001"]["title"] == "Family names carry the team prefix"


def test_a_minimal_annotation_gets_the_defaults(tmp_path):
    minimal = RULE.replace("#   severity: low\n", "").replace(
        "#   remediation: Rename the family to acme-<service>.\n", ""
    )
    entry = load_policy_set(policy_with(tmp_path, "acme.rego", minimal)).catalog["ACME-001"]
    assert entry["severity"] == "high" and entry["enforcement"] == "deny"
    assert entry["remediation"] == "No remediation is given for this rule: see acme.rego:10 (custom.remediation)."
