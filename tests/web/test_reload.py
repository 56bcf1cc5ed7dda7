"""Policy reload without a restart: validated swaps, refused reloads keep the old policies serving."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from ecs_admission.config import Settings
from ecs_admission.web import create_app, reload
from tests.conftest import REPO, example, serving

DENIED = example("taskdef.json")
BROKEN = "package ecs.checks.broken\nimport rego.v1\nfindings := {x | x := \n"
FAILING_TEST = "package ecs.checks.isolation_extra_test\nimport rego.v1\n\ntest_always_fails if {\n\t1 == 2\n}\n"
WARN_PRIVILEGED = "enforcement:\n  ECS-ISO-002: warn\n"


@pytest.fixture()
def policy_dir(tmp_path):
    directory = tmp_path / "rego"
    shutil.copytree(REPO / "rego", directory)
    return directory


def make_app(policy_dir, **settings):
    app = create_app(Settings(policy_dir=policy_dir, auth="none", decision_log=False, **settings))
    return app, app.extensions["ecs_admission"]["reloader"]


def verdict(client) -> tuple[int, list[str]]:
    response = client.post("/v1/admit", data=json.dumps(DENIED), content_type="application/json")
    body = response.get_json()
    return response.status_code, sorted({v["rule"] for v in body["violations"]})


def test_a_valid_change_is_swapped_in(policy_dir):
    app, reloader = make_app(policy_dir)
    client = app.test_client()
    before = client.get("/readyz").get_json()["revision"]
    assert verdict(client) == (403, ["ECS-EXEC-001", "ECS-ISO-002"])
    (policy_dir / "config.yaml").write_text(WARN_PRIVILEGED)
    assert reloader.reload() is True
    assert verdict(client) == (403, ["ECS-EXEC-001"])  # ECS-ISO-002 is now a warning
    ready = client.get("/readyz").get_json()
    assert ready["revision"] != before and "reload_error" not in ready
    assert reloader.last_success["previous"] == before


def test_unchanged_directory_is_not_rebuilt(policy_dir):
    app, reloader = make_app(policy_dir)
    engine = app.extensions["ecs_admission"]["gate"].engine
    assert reloader.reload() is False
    assert app.extensions["ecs_admission"]["gate"].engine is engine


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: (d / "broken.rego").write_text(BROKEN), "do not compile"),
        # A policy change whose own tests fail (tests alone do not change the revision).
        (
            lambda d: (
                (d / "extra_test.rego").write_text(FAILING_TEST),
                (d / "config.yaml").write_text(WARN_PRIVILEGED),
            ),
            "Rego test(s) fail",
        ),
        (lambda d: (d / "catalog.yaml").write_text("rules: [unclosed"), "catalog.yaml"),
        (
            lambda d: (d / "unsafe.rego").write_text("package ecs.checks.unsafe\nx := y\n"),
            "unsafe.rego:2: rego_unsafe_var_error: var y is unsafe",
        ),
    ],
    ids=["compile-error", "failing-rego-test", "bad-data-document", "opa-refuses"],
)
def test_a_bad_change_keeps_the_old_policies_serving(policy_dir, caplog, change, reason):
    app, reloader = make_app(policy_dir)
    client = app.test_client()
    revision = client.get("/readyz").get_json()["revision"]
    change(policy_dir)
    assert reloader.reload() is False
    assert verdict(client) == (403, ["ECS-EXEC-001", "ECS-ISO-002"])
    ready = client.get("/readyz")
    # Still ready (the old policies serve), and says why the new ones were refused.
    assert ready.status_code == 200
    body = ready.get_json()
    assert body["revision"] == revision
    assert reason in body["reload_error"]["error"] and body["reload_error"]["serving"] == revision
    assert any("policy reload" in r.getMessage() and reason in r.getMessage() for r in caplog.records)
    metrics_text = client.get("/metrics").get_data(as_text=True)
    assert "ecs_admission_policy_reload_failing 1.0" in metrics_text


def test_fixing_the_directory_clears_the_error(policy_dir):
    app, reloader = make_app(policy_dir)
    client = app.test_client()
    (policy_dir / "broken.rego").write_text(BROKEN)
    reloader.reload()
    assert "reload_error" in client.get("/readyz").get_json()
    (policy_dir / "broken.rego").unlink()
    reloader.reload()  # back to the serving revision: nothing to swap, nothing to report
    assert "reload_error" not in client.get("/readyz").get_json()
    (policy_dir / "broken.rego").write_text(BROKEN)
    reloader.reload()
    (policy_dir / "broken.rego").unlink()
    (policy_dir / "config.yaml").write_text(WARN_PRIVILEGED)
    assert reloader.reload() is True
    assert "reload_error" not in client.get("/readyz").get_json()


def test_a_master_validator_that_crashes_is_a_refusal(policy_dir, monkeypatch):
    # The master validates in a child process (the Go runtime must not start before the fork):
    # a child that dies is a refusal, and the previous snapshot keeps serving.
    snapshots = reload.MasterSnapshots(policy_dir)
    snapshots.start()
    try:
        active = snapshots.active
        monkeypatch.setattr(reload.sys, "executable", shutil.which("false"))
        validation = snapshots.reload()
        assert not validation.ok and "validation crashed" in (validation.error or "")
        assert snapshots.active == active
    finally:
        snapshots.cleanup()


def test_reload_keeps_a_wrapping_engine(policy_dir):
    # A wrapper (the fail-open engine) keeps wrapping: only its inner engine is replaced.
    app, reloader = make_app(policy_dir)
    gate = app.extensions["ecs_admission"]["gate"]

    class Wrapper:
        def __init__(self, inner):
            self.inner = inner
            self.name = inner.name

        @property
        def revision(self):
            return self.inner.revision

        def evaluate(self, document):
            return self.inner.evaluate(document)

    wrapper = Wrapper(gate.engine)
    gate.engine = wrapper
    (policy_dir / "config.yaml").write_text(WARN_PRIVILEGED)
    assert reloader.reload() is True
    assert gate.engine is wrapper and wrapper.inner.revision != "unavailable"


def test_polling_picks_up_a_change(policy_dir):
    app, reloader = make_app(policy_dir, policy_poll_seconds=0.2)
    client = app.test_client()
    try:
        before = client.get("/readyz").get_json()["revision"]
        (policy_dir / "config.yaml").write_text(WARN_PRIVILEGED)
        deadline = time.monotonic() + 60
        while client.get("/readyz").get_json()["revision"] == before:
            assert time.monotonic() < deadline, "the poller did not reload"
            time.sleep(0.2)
        assert verdict(client) == (403, ["ECS-EXEC-001"])
    finally:
        reloader.stop()


def test_poll_setting():
    assert Settings.from_env({"ECS_ADMISSION_POLICY_POLL_SECONDS": "5"}).policy_poll_seconds == 5.0
    assert Settings().policy_poll_seconds == 0.0


def test_validate_command_reports_one_json_line(policy_dir):
    ok = subprocess.run(
        [sys.executable, "-m", "ecs_admission.web.reload", "validate", str(policy_dir)], capture_output=True, text=True
    )
    assert ok.returncode == 0 and json.loads(ok.stdout.strip().splitlines()[-1])["ok"] is True
    (policy_dir / "broken.rego").write_text(BROKEN)
    bad = subprocess.run(
        [sys.executable, "-m", "ecs_admission.web.reload", "validate", str(policy_dir)], capture_output=True, text=True
    )
    assert bad.returncode == 1 and "do not compile" in json.loads(bad.stdout.strip().splitlines()[-1])["error"]


# --- SIGHUP to a real gunicorn master --------------------------------------------------------------


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for(predicate, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
            if value:
                return value
        except OSError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.slow
def test_sighup_validates_before_the_new_workers_load(policy_dir):
    settings = {"ECS_ADMISSION_DECISION_LOG": "false", "ECS_ADMISSION_POLICY_DIR": str(policy_dir)}
    with serving(settings) as served:
        port, process = served.port, served.process
        ready = f"http://127.0.0.1:{port}/readyz"
        original = wait_for(lambda: get_json(ready)[1].get("revision"), "the server")
        # A broken directory: the master refuses it, the new worker keeps the old snapshot.
        (policy_dir / "broken.rego").write_text(BROKEN)
        process.send_signal(signal.SIGHUP)
        status, body = wait_for(lambda: (r := get_json(ready)) and "reload_error" in r[1] and r, "the refusal")
        assert status == 200 and body["revision"] == original
        assert "do not compile" in body["reload_error"]["error"] and body["reload_error"]["trigger"] == "SIGHUP"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/admit",
            data=json.dumps(DENIED).encode(),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(request, timeout=5)
        assert denied.value.code == 403
        # A good change: the new worker serves it, and the error is gone.
        (policy_dir / "broken.rego").unlink()
        (policy_dir / "config.yaml").write_text(WARN_PRIVILEGED)
        process.send_signal(signal.SIGHUP)
        status, body = wait_for(lambda: (r := get_json(ready)) and r[1].get("revision") != original and r, "the reload")
        assert status == 200 and "reload_error" not in body
