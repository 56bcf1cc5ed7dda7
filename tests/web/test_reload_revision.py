"""Every worker, a replacement included, serves the newest accepted revision (issue 21 row 2);
/readyz says which, and its reload_error quotes no policy source (row 14)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ecs_admission.config import Settings
from ecs_admission.web import accepted, create_app
from ecs_admission.web.reload import ACTIVE_DIR_ENV, MasterSnapshots
from tests.conftest import REPO, example, serving
from tests.web.test_reload import get_json, wait_for

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


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


@pytest.mark.slow
def test_a_killed_worker_comes_back_on_the_revision_the_poll_accepted(tmp_path):
    source = tmp_path / "rego"
    shutil.copytree(REPO / "rego", source)
    settings = {
        "ECS_ADMISSION_DECISION_LOG": "false",
        "ECS_ADMISSION_POLICY_DIR": str(source),
        "ECS_ADMISSION_POLICY_POLL_SECONDS": "0.3",
    }
    with open(tmp_path / "stderr.log", "w") as stderr, serving(settings, stderr=stderr) as served:
        ready = served.url("/readyz")
        original = wait_for(lambda: get_json(ready)[1].get("revision"), "the server")
        (source / "extra.rego").write_text(NEW_RULE)
        new = wait_for(lambda: (r := get_json(ready)[1].get("latest_accepted")) != original and r, "the poll reload")
        [worker] = worker_pids(served.process.pid)
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: worker_pids(served.process.pid) not in ([], [worker]), "the replacement worker")
        _, body = wait_for(lambda: (r := get_json(ready)) and r[0] == 200 and r, "the replacement")
        assert body["revision"] == new and body["latest_accepted"] == new and "stale" not in body
        request = urllib.request.Request(
            served.url("/v1/admit"),
            data=json.dumps(example("taskdef-clean.json")).encode(),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(request, timeout=10)
        assert denied.value.code == 403
