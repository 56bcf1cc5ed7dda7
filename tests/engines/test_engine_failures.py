"""Fail closed: a policy that does not compile, an undefined or malformed decision, answers 503."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecs_admission.cli.commands import main
from ecs_admission.config import Settings
from ecs_admission.decision import RawDecision
from ecs_admission.engines.embedded import EmbeddedEngine
from ecs_admission.errors import EngineError
from ecs_admission.policy.loader import load_policy_set
from ecs_admission.web import create_app
from tests.conftest import EXAMPLES, POLICY_DIR, example

CLEAN = example("taskdef-clean.json")


def policy_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, target)
    return target


def admit(client, body=CLEAN, **kwargs):
    return client.post("/v1/admit", data=json.dumps(body), content_type="application/json", **kwargs)


def assert_fails_closed(client, reason_fragment: str, policies_loaded: bool = False) -> None:
    for kwargs in ({}, {"query_string": {"dry_run": "true"}}):
        response = admit(client, **kwargs)
        assert response.status_code == 503
        body = response.get_json()
        assert body["allowed"] is False and body["error"] == "engine_unavailable"
        assert reason_fragment in body["detail"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and reason_fragment in ready.get_json()["reason"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1/policies").status_code == (200 if policies_loaded else 503)


def test_policy_that_does_not_compile(tmp_path):
    directory = policy_copy(tmp_path)
    (directory / "broken.rego").write_text("package ecs.checks.broken\n\nimport rego.v1\n\nfindings := {x |\n")
    client = create_app(Settings(policy_dir=directory, auth="none")).test_client()
    assert_fails_closed(client, "do not compile")


def test_undefined_decision(tmp_path):
    directory = policy_copy(tmp_path)
    source = (directory / "admission.rego").read_text()
    entry_point = "\ndecision := "
    assert source.count(entry_point) == 1
    renamed = source.replace(entry_point, "\ndecision_renamed := ")
    # Its Rego tests would refuse the set first; the canary is for a set whose tests miss it.
    (directory / "admission_test.rego").unlink()
    (directory / "admission.rego").write_text(renamed)
    client = create_app(Settings(policy_dir=directory, auth="none")).test_client()
    # The start-up canary refuses the set (issue 21): it never serves, so its catalogue is not served either.
    assert_fails_closed(client, "startup canary failed: data.ecs.admission.decision is undefined")


def test_conflicting_rule_values_are_an_engine_error(tmp_path):
    """The evaluation itself fails closed on a conflict, whether or not the start-up self-check
    caught it (a conflict that only some inputs reach passes every Rego unit test)."""
    directory = policy_copy(tmp_path)
    (directory / "conflict.rego").write_text(
        "package ecs.checks.conflict\n\nimport rego.v1\n\nfindings := {}\n\nfindings := {1}\n"
    )
    engine = EmbeddedEngine(load_policy_set(directory))
    with pytest.raises(EngineError, match="eval_conflict_error"):
        engine.evaluate({"task_definition": {}})
    client = create_app(Settings(policy_dir=directory, auth="none"), engine=engine).test_client()
    response = admit(client)
    assert response.status_code == 503 and response.get_json()["allowed"] is False
    assert "eval_conflict_error" in response.get_json()["detail"]


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ([], "not an object"),
        ({"warnings": []}, "'violations' is not a list"),
        ({"violations": [{"rule": "X"}], "warnings": []}, "lacks string field"),
        (
            {
                "violations": [
                    {
                        "rule": "X",
                        "severity": "urgent",
                        "title": "t",
                        "message": "m",
                        "path": "/",
                        "remediation": "r",
                        "docs": "d",
                    }
                ],
                "warnings": [],
            },
            "unknown severity",
        ),
        ({"violations": ["deny"], "warnings": []}, "not an object"),
    ],
)
def test_malformed_decision_documents_are_engine_errors(document, fragment):
    with pytest.raises(EngineError, match=fragment):
        RawDecision.from_document(document, engine="embedded", revision="r")


def test_malformed_decision_from_policy_is_503(tmp_path):
    directory = policy_copy(tmp_path)
    source = (directory / "admission.rego").read_text()
    entry_point = "\ndecision := "
    assert source.count(entry_point) == 1
    (directory / "admission.rego").write_text(source.replace(entry_point, "\ndecision_shipped := "))
    malformed = 'package ecs.admission\n\nimport rego.v1\n\ndecision := {"violations": "none"}\n'
    (directory / "malformed.rego").write_text(malformed)
    (directory / "admission_test.rego").unlink()  # its tests would refuse the set before the canary
    client = create_app(Settings(policy_dir=directory, auth="none")).test_client()
    assert_fails_closed(client, "startup canary failed: decision document's 'violations' is not a list")


def test_missing_policy_directory(tmp_path):
    client = create_app(Settings(policy_dir=tmp_path / "absent", auth="none")).test_client()
    assert_fails_closed(client, "does not exist")


def test_cli_exit_3_when_engine_cannot_decide(tmp_path, capsys):
    directory = policy_copy(tmp_path)
    (directory / "broken.rego").write_text("package ecs.checks.broken\nfindings := {x |\n")
    code = main(["check", "--policy-dir", str(directory), str(EXAMPLES / "taskdef-clean.json")])
    assert code == 3
    assert "policy engine could not decide" in capsys.readouterr().err


def test_engine_compiles_once_and_decides_many_inputs():
    engine = EmbeddedEngine(load_policy_set(POLICY_DIR))
    document = {"task_definition": {"containerDefinitions": [{"name": "a", "privileged": True}]}}
    first = engine.evaluate(document)
    second = engine.evaluate({"task_definition": {"containerDefinitions": [{"name": "a"}]}})
    assert [v.rule for v in first.violations] == ["ECS-ISO-002"]
    assert second.violations == ()


def test_compile_errors_stay_off_stdout(tmp_path):
    """A compile error is reported on stderr; --format json output must stay parseable."""
    directory = policy_copy(tmp_path)
    (directory / "broken.rego").write_text("package ecs.checks.broken\nfindings := {x |\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ecs_admission.cli.commands",
            "check",
            "--format",
            "json",
            "--policy-dir",
            str(directory),
            str(EXAMPLES / "taskdef.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert result.stdout == ""
    assert "do not compile" in result.stderr
