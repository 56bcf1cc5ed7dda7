"""Policy sets are whole or refused (issue 21 row 3, rows 8 and 14, item 3, conftest)."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from ecs_admission.cli.commands import main as cli_main
from ecs_admission.config import Settings
from ecs_admission.engines import UnavailableEngine
from ecs_admission.engines.factory import build_engine
from ecs_admission.policy.completeness import IncompletePolicySet, check_whole
from ecs_admission.policy.loader import PolicyError, load_policy_set
from ecs_admission.policy.snapshot import copy_policy_files, policy_files
from ecs_admission.web import create_app
from ecs_admission.web.reload import validate_in_process
from tests.conftest import REPO, example

DENIED = example("taskdef.json")
EXTRA_RULE = """package ecs.checks.extra
import rego.v1

# METADATA
# title: No family called forbidden
# custom:
#   id: ECS-EXTRA-001
#   severity: high
#   enforcement: deny
#   remediation: Rename the family.
findings contains finding if {
\tinput.task_definition.family == "forbidden"
\tfinding := {"rule": "ECS-EXTRA-001", "path": "/family", "message": "family forbidden is not allowed"}
}
"""
CONFTEST = """package main
import rego.v1

deny contains msg if {
\tsome container in input.containerDefinitions
\tcontainer.image == "nginx:latest"
\tmsg := sprintf("container %s uses the latest tag", [container.name])
}
"""


@pytest.fixture()
def policy_dir(tmp_path):
    directory = tmp_path / "rego"
    shutil.copytree(REPO / "rego", directory)
    return directory


def partial(tmp_path):
    directory = tmp_path / "partial"
    directory.mkdir()
    for name in ("admission.rego", "lib.rego", "config.yaml"):
        shutil.copy(REPO / "rego" / name, directory / name)
    return directory


def test_a_partial_set_is_refused_at_every_door(tmp_path, capsys):
    directory = partial(tmp_path)
    with pytest.raises(IncompletePolicySet, match="no check package"):
        check_whole(load_policy_set(directory))
    engine = build_engine(Settings(policy_dir=directory), self_check=True)
    assert isinstance(engine, UnavailableEngine) and "no check package" in engine.reason
    validation = validate_in_process(directory)
    assert not validation.ok and "no check package" in validation.error
    code = cli_main(["check", "--policy-dir", str(directory), str(REPO / "examples" / "taskdef.json")])
    assert code == 3 and "no check package" in capsys.readouterr().err


def test_a_partial_set_does_not_replace_the_running_one(policy_dir):
    app = create_app(Settings(policy_dir=policy_dir, auth="none", decision_log=False))
    reloader = app.extensions["ecs_admission"]["reloader"]
    for path in policy_dir.iterdir():
        if path.name not in ("admission.rego", "lib.rego", "config.yaml"):
            path.unlink()
    assert reloader.reload() is False
    assert "no check package" in reloader.last_error["error"]
    assert app.test_client().post("/v1/admit", json=DENIED).status_code == 403


def test_a_rule_that_disappears_is_refused_unless_retired(policy_dir):
    (policy_dir / "extra.rego").write_text(EXTRA_RULE)
    app = create_app(Settings(policy_dir=policy_dir, auth="none", decision_log=False))
    reloader = app.extensions["ecs_admission"]["reloader"]
    (policy_dir / "extra.rego").unlink()
    assert reloader.reload() is False
    error = reloader.last_error["error"]
    assert "1 rule(s) of the running set are missing: ECS-EXTRA-001" in error and "retired-rules.txt" in error
    (policy_dir / "retired-rules.txt").write_text("# retired with the platform team, PLAT-12\nECS-EXTRA-001\n")
    assert reloader.reload() is True


def test_a_conftest_policy_is_enforced_over_the_raw_task_definition(policy_dir, capsys):
    (policy_dir / "conftest.rego").write_text(CONFTEST)
    taskdef = policy_dir.parent / "latest.json"
    taskdef.write_text(
        json.dumps(
            {
                **example("taskdef-clean.json"),
                "containerDefinitions": [
                    {**example("taskdef-clean.json")["containerDefinitions"][0], "image": "nginx:latest"}
                ],
            }
        )
    )
    code = cli_main(["check", "--format", "json", "--policy-dir", str(policy_dir), str(taskdef)])
    decision = json.loads(capsys.readouterr().out)
    assert code == 1
    [finding] = [v for v in decision["violations"] if v["rule"] == "conftest_main.deny"]
    assert "uses the latest tag" in finding["message"]


def test_a_package_nobody_reads_is_refused_with_how_to_fix_it(policy_dir, monkeypatch):
    (policy_dir / "conftest.rego").write_text(CONFTEST.replace("package main", "package docker"))
    engine = build_engine(Settings(policy_dir=policy_dir), self_check=True)
    assert isinstance(engine, UnavailableEngine)
    assert "package docker is outside ecs" in engine.reason and "ECS_ADMISSION_CONFTEST_NAMESPACES" in engine.reason
    monkeypatch.setenv("ECS_ADMISSION_CONFTEST_NAMESPACES", "main,docker")
    assert not isinstance(build_engine(Settings(policy_dir=policy_dir)), UnavailableEngine)


# --- reading a directory: links, loops, budget ----------------------------------------------------


def test_a_link_leading_outside_refuses_the_set_without_quoting_it(policy_dir, tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (policy_dir / "passwd.rego").symlink_to(secret)
    with pytest.raises(PolicyError) as refused:
        load_policy_set(policy_dir)
    assert "passwd.rego is a symbolic link leading outside" in str(refused.value)
    assert "root:x" not in str(refused.value)
    (policy_dir / "passwd.rego").unlink()
    (policy_dir / "hosts.yaml").symlink_to(secret)
    with pytest.raises(PolicyError, match=r"hosts\.yaml is a symbolic link leading outside"):
        load_policy_set(policy_dir)


def test_link_loops_are_not_followed(policy_dir, tmp_path):
    (policy_dir / "a").symlink_to(policy_dir)
    (policy_dir / "b").symlink_to(policy_dir)
    started = time.perf_counter()
    files = policy_files(policy_dir)
    copied = copy_policy_files(policy_dir, tmp_path / "copy")
    assert time.perf_counter() - started < 2
    assert len(files) == len(list((REPO / "rego").iterdir()))
    assert copied < 1024 * 1024
    assert load_policy_set(tmp_path / "copy").revision == load_policy_set(policy_dir).revision


def test_a_set_over_the_size_budget_is_refused(policy_dir, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_POLICY_MAX_BYTES", str(1024 * 1024))
    with (policy_dir / "huge.rego").open("w") as stream:
        stream.write("package ecs.checks.huge\n" + ("# padding\n" * 110_000))
    with pytest.raises(PolicyError, match="exceed 1048576 bytes"):
        load_policy_set(policy_dir)


def test_links_inside_the_directory_are_read(policy_dir):
    (policy_dir / "shared").mkdir()
    os.rename(policy_dir / "trust.rego", policy_dir / "shared" / "trust.rego")
    (policy_dir / "trust.rego").symlink_to(policy_dir / "shared" / "trust.rego")
    names = [f.relative for f in policy_files(policy_dir)]
    assert "trust.rego" in names and "shared/trust.rego" in names


def test_a_conftest_policy_is_enforced_by_the_sidecar_too(policy_dir, tmp_path):
    from tests.support.opa_fixtures import build_bundle, bundle_manifest, start_standin

    (policy_dir / "conftest.rego").write_text(CONFTEST)
    bundle = build_bundle(tmp_path / "bundle.tar.gz", policy_dir)
    assert bundle_manifest(bundle)["roots"] == ["ecs", "main"]
    standin = start_standin(bundle)
    try:
        client = create_app(Settings(auth="none", decision_log=False, opa_url=standin.url)).test_client()
        clean = example("taskdef-clean.json")
        latest = {**clean, "containerDefinitions": [{**clean["containerDefinitions"][0], "image": "nginx:latest"}]}
        response = client.post("/v1/admit", json=latest)
        assert response.status_code == 403
        assert "conftest_main.deny" in {v["rule"] for v in response.get_json()["violations"]}
    finally:
        standin.close()


# The Gatekeeper library's k8spspprivilegedcontainer, in OPA 1.x syntax, reading input.review.object.
GATEKEEPER = """package k8sprivileged

import rego.v1

violation contains {"msg": msg, "details": {}} if {
\tsome c in input.review.object.containerDefinitions
\tc.privileged
\tmsg := sprintf("Privileged container is not allowed: %v", [c.name])
}
"""


def test_a_gatekeeper_rule_is_enforced_when_its_package_is_listed(policy_dir, monkeypatch, capsys):
    (policy_dir / "gatekeeper.rego").write_text(GATEKEEPER)
    monkeypatch.setenv("ECS_ADMISSION_CONFTEST_NAMESPACES", "main,k8sprivileged")
    taskdef = str(REPO / "examples" / "taskdef.json")
    code = cli_main(["check", "--format", "json", "--policy-dir", str(policy_dir), taskdef])
    decision = json.loads(capsys.readouterr().out)
    assert code == 1
    assert any(
        v["rule"] == "conftest_k8sprivileged.violation" and "Privileged container is not allowed" in v["message"]
        for v in decision["violations"]
    )


def test_reload_validate_refuses_a_set_that_drops_a_rule_of_the_running_one(policy_dir, tmp_path):
    running = tmp_path / "running"
    shutil.copytree(policy_dir, running)
    (running / "extra.rego").write_text(EXTRA_RULE)
    validation = validate_in_process(policy_dir, running)
    assert not validation.ok and "missing: ECS-EXTRA-001" in validation.error
    assert validate_in_process(policy_dir).ok
