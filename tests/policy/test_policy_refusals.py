"""`policy list`/`policy test` exit 2 on sets that do not compile; network builtins are refused;
a refused SIGHUP counts as a failed reload; rule_findings labels stay bounded (issue 21)."""

from __future__ import annotations

import shutil

import pytest

from ecs_admission import metrics
from ecs_admission.cli.commands import main as cli_main
from ecs_admission.config import Settings
from ecs_admission.engines import UnavailableEngine
from ecs_admission.engines.factory import build_engine
from ecs_admission.web import create_app
from ecs_admission.web.reload import MasterSnapshots
from tests.conftest import REPO, example

BROKEN = "package ecs.checks.broken\nimport rego.v1\nfindings := {x | x := \n"
HTTP_SEND = """package ecs.checks.phone_home
import rego.v1

findings contains finding if {
\tresponse := http.send({"method": "GET", "url": "http://127.0.0.1:9/", "raise_error": false})
\tresponse.status_code == 418
\tfinding := {"rule": "X-1", "path": "", "message": "teapot"}
}
"""
DYNAMIC_IDS = """package ecs.checks.dynamic
import rego.v1

findings contains finding if {
\tfinding := {"rule": sprintf("DYN-%s", [input.task_definition.family]), "path": "/family", "message": "x"}
}
"""


@pytest.fixture()
def policy_dir(tmp_path):
    directory = tmp_path / "rego"
    shutil.copytree(REPO / "rego", directory)
    return directory


@pytest.mark.parametrize("command", ["list", "test"])
def test_policy_commands_exit_2_when_the_set_does_not_compile(policy_dir, command, capsys):
    (policy_dir / "broken.rego").write_text(BROKEN)
    assert cli_main(["policy", command, "--policy-dir", str(policy_dir)]) == 2
    assert "broken.rego" in capsys.readouterr().err


def test_network_builtins_are_refused_unless_allowed(policy_dir, monkeypatch):
    (policy_dir / "phone_home.rego").write_text(HTTP_SEND)
    engine = build_engine(Settings(policy_dir=policy_dir), self_check=True)
    assert isinstance(engine, UnavailableEngine)
    assert "phone_home.rego calls http.send" in engine.reason and "ECS_ADMISSION_REGO_ALLOW_BUILTINS" in engine.reason
    monkeypatch.setenv("ECS_ADMISSION_REGO_ALLOW_BUILTINS", "http.send")
    assert not isinstance(build_engine(Settings(policy_dir=policy_dir)), UnavailableEngine)


def test_policy_bundle_refuses_network_builtins(policy_dir, tmp_path, capsys):
    (policy_dir / "phone_home.rego").write_text(HTTP_SEND)
    code = cli_main(["policy", "bundle", "--policy-dir", str(policy_dir), "-o", str(tmp_path / "b.tar.gz")])
    assert code == 2 and "http.send" in capsys.readouterr().err


def reloads(result: str) -> float:
    return metrics._get()["reloads"].labels(result)._value.get()


def test_a_refused_sighup_reload_counts_as_a_failure(policy_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    snapshots = MasterSnapshots(policy_dir)
    snapshots.start()
    try:
        (policy_dir / "broken.rego").write_text(BROKEN)
        before = reloads("failure")
        assert not snapshots.reload().ok
        assert reloads("failure") == before + 1
    finally:
        snapshots.cleanup()


def test_rule_findings_labels_are_the_catalogue_rule_ids(policy_dir):
    (policy_dir / "dynamic.rego").write_text(DYNAMIC_IDS)
    client = create_app(Settings(policy_dir=policy_dir, auth="none", decision_log=False)).test_client()
    for index in range(5):
        client.post("/v1/admit", json={**example("taskdef-clean.json"), "family": f"family-{index}"})
    text = client.get("/metrics").get_data(as_text=True)
    assert "DYN-family" not in text
    assert 'ecs_admission_rule_findings_total{outcome="violation",rule="other"}' in text or 'rule="other"' in text
