"""The policy directory at load: config.yaml and catalog.yaml validated with errors naming the key,"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from ecs_admission.config import Settings
from ecs_admission.engines.embedded import EmbeddedEngine
from ecs_admission.engines.rego_tests import run_tests
from ecs_admission.policy.data import PolicyDataError, validate_catalog, validate_config
from ecs_admission.policy.loader import PolicyError, load_policy_set
from ecs_admission.web import create_app
from tests.conftest import EXAMPLES, POLICY_DIR

RULES = {"ECS-ISO-002", "ECS-HARD-002"}


def policy_copy(tmp_path):
    directory = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, directory)
    return directory


def test_shipped_config_loads_with_defaults():
    config = load_policy_set(POLICY_DIR).data["ecs"]["config"]
    assert config == {
        "enforcement": {},
        "family_enforcement": [],
        "allowed_registries": [],
        "trusted_accounts": [],
        "exemptions": [],
    }


def test_full_config_is_accepted_and_dates_become_strings():
    config = validate_config(
        {
            "enforcement": {"ECS-ISO-002": "warn"},
            "family_enforcement": [{"family": "batch-*", "enforcement": {"ECS-HARD-002": "off"}}],
            "allowed_registries": ["*.dkr.ecr.*.amazonaws.com"],
            "trusted_accounts": ["999988887777"],
            "exemptions": [
                {
                    "rule": "ECS-ISO-002",
                    "family": "agent-[ab]*",
                    "justification": "vetted",
                    "ticket": "SEC-1",
                    "expires": dt.date(2027, 1, 31),
                }
            ],
        },
        RULES,
    )
    assert config["exemptions"][0]["expires"] == "2027-01-31"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"enforcment": {}}, "config.yaml: enforcment: unknown key"),
        ({"enforcement": {"ECS-ISO-02": "off"}}, "config.yaml: enforcement.ECS-ISO-02: 'ECS-ISO-02' is not a rule"),
        ({"enforcement": {"ECS-ISO-002": "block"}}, "enforcement.ECS-ISO-002: 'block' must be one of deny, warn, off"),
        ({"enforcement": {"ECS-ISO-002": True}}, "enforcement.ECS-ISO-002: YAML reads a bare on/yes/true as true"),
        (
            {"family_enforcement": [{"family": "web-[", "enforcement": {}}]},
            "family_enforcement[0].family: 'web-[' is not a valid glob",
        ),
        ({"family_enforcement": [{"family": "web-*"}]}, "family_enforcement[0]: needs family and enforcement"),
        ({"allowed_registries": "docker.io"}, "allowed_registries: must be a list"),
        (
            {"trusted_accounts": [111122223333]},
            "trusted_accounts[0]: 111122223333 must be a quoted 12-digit account id",
        ),
        (
            {"exemptions": [{"rule": "ECS-ISO-002", "family": "x"}]},
            "exemptions[0]: missing justification, ticket, expires",
        ),
        (
            {
                "exemptions": [
                    {"rule": "ECS-ISO-002", "family": "x", "justification": "j", "ticket": "t", "expires": "31/12/2026"}
                ]
            },
            "exemptions[0].expires: '31/12/2026' is not a date (YYYY-MM-DD)",
        ),
        (
            {
                "exemptions": [
                    {"rule": "ECS-ISO-002", "family": "x", "justification": "j", "ticket": "t", "expires": "2026-02-30"}
                ]
            },
            "exemptions[0].expires: '2026-02-30' is not a real date",
        ),
        (
            {
                "exemptions": [
                    {"rule": "ECS-ISO-002", "family": "x", "justification": " ", "ticket": "t", "expires": "2026-02-03"}
                ]
            },
            "exemptions[0].justification: must be a non-empty string",
        ),
        (
            {
                "exemptions": [
                    {
                        "rule": "X",
                        "family": "x",
                        "justification": "j",
                        "ticket": "t",
                        "expires": "2026-02-03",
                        "owner": "me",
                    }
                ]
            },
            "exemptions[0].owner: unknown key",
        ),
    ],
)
def test_bad_config_names_the_key(config, message):
    with pytest.raises(PolicyDataError) as caught:
        validate_config(config, RULES)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"title": "t", "severity": "urgent", "enforcement": "deny", "remediation": "r", "docs": "d"},
            "X.severity: must be one of",
        ),
        (
            {"title": "t", "severity": "high", "enforcement": "deny", "remediation": "r"},
            "X.docs: must be a non-empty string",
        ),
        (
            {
                "title": "t",
                "severity": "high",
                "enforcement": "deny",
                "remediation": "r",
                "docs": "d",
                "anchors": "CKV",
            },
            "X.anchors: must be a list",
        ),
        (
            {"title": "t", "severity": "high", "enforcement": "deny", "remediation": "r", "docs": "d", "anchor": []},
            "X.anchor: unknown field",
        ),
    ],
)
def test_bad_catalog_entry_names_the_field(entry, message):
    with pytest.raises(PolicyDataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_catalog({"X": entry})


def test_bad_config_stops_the_gate_naming_file_and_key(tmp_path):
    directory = policy_copy(tmp_path)
    (directory / "config.yaml").write_text("exemptions:\n  - {rule: ECS-ISO-002, family: x, ticket: T}\n")
    with pytest.raises(PolicyError, match=r"rego/config.yaml: exemptions\[0\]: missing justification, expires"):
        load_policy_set(directory)
    # The webhook then fails closed (503) rather than running without the settings.
    client = create_app(Settings(auth="none", policy_dir=directory)).test_client()
    response = client.post(
        "/v1/admit", data=(EXAMPLES / "taskdef-clean.json").read_bytes(), content_type="application/json"
    )
    assert response.status_code == 503 and "exemptions[0]" in response.get_json()["detail"]


def test_unquoted_yaml_date_is_read_as_the_date(tmp_path):
    directory = policy_copy(tmp_path)
    (directory / "config.yaml").write_text(
        "exemptions:\n  - {rule: ECS-ISO-002, family: 'x*', justification: j, ticket: T, expires: 2027-01-31}\n"
    )
    assert load_policy_set(directory).data["ecs"]["config"]["exemptions"][0]["expires"] == "2027-01-31"


# Constructs the loader refuses: each silently changes a rule's meaning on one engine.


def test_a_catalogued_package_without_findings_fails_closed(tmp_path):
    directory = policy_copy(tmp_path)
    hardening = directory / "hardening.rego"
    hardening.write_text(
        hardening.read_text().replace("findings contains finding if", "findings_renamed contains finding if")
    )
    engine = EmbeddedEngine(load_policy_set(directory))
    decision = engine.evaluate(
        {"task_definition": {"containerDefinitions": [{"name": "a"}]}, "now": "2026-11-27T00:00:00Z"}
    )
    failures = [v for v in decision.violations if v.rule == "ECS-POLICY-001"]
    assert len(failures) == 1 and "ecs.checks.hardening produced no findings" in failures[0].message


def test_shipped_policies_have_no_silent_package():
    engine = EmbeddedEngine(load_policy_set(POLICY_DIR))
    decision = engine.evaluate(
        {"task_definition": {"containerDefinitions": [{"name": "a"}]}, "now": "2026-11-27T00:00:00Z"}
    )
    rules = {f.rule for f in (*decision.violations, *decision.warnings)}
    assert "ECS-POLICY-001" not in rules
    assert {"ECS-HARD-001", "ECS-ISO-009"} <= rules


def test_a_check_package_without_catalog_entries_is_still_collected(tmp_path):
    directory = policy_copy(tmp_path)
    (directory / "custom.rego").write_text(
        "package ecs.checks.custom\n\nimport rego.v1\n\n"
        'findings := {{"rule": "ACME-001", "path": "/", "message": "m"}}\n'
    )
    policy = load_policy_set(directory)
    decision = EmbeddedEngine(policy).evaluate({"task_definition": {"containerDefinitions": [{"name": "a"}]}})
    acme = [v for v in decision.violations if v.rule == "ACME-001"]
    assert acme and acme[0].severity == "high"  # no catalog entry: denies with default metadata


@pytest.mark.parametrize("spelling", ["off", '"off"', "false", "Off"])
def test_off_false_and_quoted_off_all_mean_off(tmp_path, spelling):
    directory = policy_copy(tmp_path)
    (directory / "config.yaml").write_text(
        f"enforcement:\n  ECS-HARD-007: {spelling}\n"
        f"family_enforcement:\n  - family: 'batch-*'\n    enforcement: {{ECS-HARD-001: {spelling}}}\n"
    )
    config = load_policy_set(directory).data["ecs"]["config"]
    assert config["enforcement"] == {"ECS-HARD-007": "off"}
    assert config["family_enforcement"][0]["enforcement"] == {"ECS-HARD-001": "off"}


def test_the_shipped_examples_work_when_uncommented(tmp_path):
    directory = policy_copy(tmp_path)
    shipped = (directory / "config.yaml").read_text()
    # The examples are the commented lines indented under their key: `#   ...`.
    uncommented = "\n".join(line[1:] if line.startswith("#  ") else line for line in shipped.splitlines())
    assert uncommented != shipped
    (directory / "config.yaml").write_text(uncommented)
    config = load_policy_set(directory).data["ecs"]["config"]
    assert config["enforcement"] == {"ECS-HARD-005": "deny", "ECS-HARD-007": "off"}
    assert config["family_enforcement"] == [{"family": "batch-*", "enforcement": {"ECS-HARD-007": "off"}}]
    assert config["allowed_registries"] == ["*.dkr.ecr.*.amazonaws.com", "public.ecr.aws"]
    assert config["trusted_accounts"] == ["111122223333"]
    assert config["exemptions"][0]["rule"] == "ECS-ISO-005" and config["exemptions"][0]["expires"] == "2027-03-31"
    engine = EmbeddedEngine(load_policy_set(directory))
    decision = engine.evaluate(
        {"task_definition": {"family": "web", "containerDefinitions": [{"name": "a", "image": "nginx"}]}}
    )
    rules = {f.rule for f in decision.violations} | {f.rule for f in decision.warnings}
    assert "ECS-HARD-007" not in rules and "ECS-HARD-005" in {f.rule for f in decision.violations}


def test_the_rego_tests_do_not_depend_on_the_deployed_settings(tmp_path):
    # The startup self-check runs the Rego tests with whatever config.yaml is deployed.
    directory = policy_copy(tmp_path)
    (directory / "config.yaml").write_text(
        "allowed_registries: ['*.example.com']\n"
        "trusted_accounts: ['999988887777', '444455556666', '777788889999', '111122223333']\n"
        "enforcement: {ECS-HARD-005: deny, ECS-TRUST-002: off}\n"
    )
    results = run_tests(load_policy_set(directory))
    assert results and [r.qualified_name for r in results if not r.passed] == []
