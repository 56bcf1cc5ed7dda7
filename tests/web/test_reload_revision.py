"""Every worker, a replacement included, serves the newest accepted revision (issue 21 row 2);
/readyz says which, and its reload_error quotes no policy source (row 14)."""

from __future__ import annotations

import shutil

import pytest

from ecs_admission.config import Settings
from ecs_admission.web import accepted, create_app
from ecs_admission.web.reload import ACTIVE_DIR_ENV, MasterSnapshots
from tests.conftest import REPO, example

DENIED = example("taskdef.json")
NEW_RULE = """package ecs.checks.extra
import rego.v1

# METADATA
# title: No family called escape
# custom:
#   id: ECS-EXTRA-001
#   severity: high
#   enforcement: deny
#   remediation: Rename the family.
findings contains finding if {
\tinput.task_definition.family == "payments-api"
\tfinding := {"rule": "ECS-EXTRA-001", "path": "/family", "message": "family payments-api is not allowed"}
}
"""


@pytest.fixture()
def served_dirs(tmp_path, monkeypatch):
    """A configured directory, and the master's start-up snapshot of it, as gunicorn sets them up."""
    source = tmp_path / "rego"
    shutil.copytree(REPO / "rego", source)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    master = MasterSnapshots(source)
    master.start()
    yield source, master
    master.cleanup()


def make_app(source):
    app = create_app(Settings(policy_dir=source, auth="none", decision_log=False))
    return app, app.extensions["ecs_admission"]["reloader"]


def test_a_replacement_worker_serves_the_revision_a_poll_reload_accepted(served_dirs):
    source, _master = served_dirs
    first, reloader = make_app(source)
    clean = example("taskdef-clean.json")
    assert first.test_client().post("/v1/admit", json=clean).status_code == 200
    (source / "extra.rego").write_text(NEW_RULE)
    assert reloader.reload() is True
    new_revision = first.test_client().get("/readyz").get_json()["revision"]
    # A worker gunicorn starts after that (a crash, a SIGKILL): the master's snapshot is the old set.
    replacement, _ = make_app(source)
    client = replacement.test_client()
    ready = client.get("/readyz").get_json()
    assert ready["revision"] == new_revision and ready["latest_accepted"] == new_revision
    response = client.post("/v1/admit", json=clean)
    assert response.status_code == 403 and response.get_json()["violations"][0]["rule"] == "ECS-EXTRA-001"
    assert accepted.current()["by"] == "poll"


def test_a_poller_started_late_still_looks_at_the_directory(tmp_path, monkeypatch):
    source = tmp_path / "rego"
    shutil.copytree(REPO / "rego", source)
    snapshot = tmp_path / "snapshot"
    shutil.copytree(source, snapshot)
    (source / "extra.rego").write_text(NEW_RULE)
    monkeypatch.setenv(ACTIVE_DIR_ENV, str(snapshot))  # the master's older copy
    app, reloader = make_app(source)
    assert reloader.check() is True  # its first look compares revisions, not a fingerprint taken at boot
    assert app.test_client().post("/v1/admit", json=example("taskdef-clean.json")).status_code == 403


def test_reload_error_on_readyz_quotes_no_source(served_dirs):
    source, _ = served_dirs
    app, reloader = make_app(source)
    (source / "config.yaml").write_text("enforcement:\n  ECS-ISO-002: 'TOPSECRET-LINE\n")
    assert reloader.reload() is False
    assert "TOPSECRET" in reloader.last_error["error"] or "config.yaml" in reloader.last_error["error"]
    body = app.test_client().get("/readyz").get_json()
    assert "config.yaml" in body["reload_error"]["error"]
    assert "TOPSECRET" not in body["reload_error"]["error"] and "\n" not in body["reload_error"]["error"]
