"""The console script starts a local check's engine while the command line is imported
(cli/prestart.py): the engine it hands over is the one `build_engine` builds for the command's own
settings, and anything else is built afresh. Same verdicts, same messages, same exit codes."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecs_admission.cli import prestart
from ecs_admission.config import Settings
from ecs_admission.engines import UnavailableEngine
from tests.conftest import EXAMPLES, POLICY_DIR, REPO


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["check", "a.json"], (None, 1)),
        (["check", "a.json", "b.json", "--format", "json"], (None, 2)),
        (["check", "--format=sarif", "-", "--dry-run"], (None, 1)),
        (["check", "--policy-dir", "p", "a.json"], (Path("p"), 1)),
        (["check", "--policy-dir=p", "--report", "sarif=x.sarif", "--output", "o", "a.json"], (Path("p"), 1)),
        (["check", "--source-file", "t.yaml", "a.json"], (None, 1)),
        (["check"], None),
        (["check", "--format"], None),  # a usage error: the command says so
        (["check", "a.json", "--url", "http://127.0.0.1:1"], None),  # decided by a remote gate
        (["check", "a.json", "--help"], None),
        (["check", "--", "a.json"], None),
        (["check", "a.json", "--no-such-option"], None),
        (["audit"], None),
        (["serve"], None),
        ([], None),
    ],
)
def test_only_a_plain_local_check_is_prestarted(argv, expected):
    assert prestart.planned(argv) == expected


@pytest.fixture
def started(monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_POLICY_DIR", str(POLICY_DIR))
    monkeypatch.setenv("ECS_ADMISSION_IAM_LOOKUP", "off")
    monkeypatch.delenv(prestart.ENV, raising=False)
    yield
    # Never leave a started build (or its held-back log handler) to another test.
    prestart.take(None, None)


def test_the_engine_is_handed_over_only_for_the_same_settings_and_files(started):
    settings = Settings.from_env()
    assert prestart.start(["check", "a.json"])
    engine = prestart.take(settings, 1)
    assert engine is not None and not isinstance(engine, UnavailableEngine)
    assert engine.policy.directory == POLICY_DIR
    assert prestart.take(settings, 1) is None  # handed over once

    assert prestart.start(["check", "a.json", "b.json"])
    assert prestart.take(settings, 1) is None  # two files planned, one asked for: built afresh
    assert prestart.start(["check", "a.json"])
    assert prestart.take(settings.with_overrides(policy_dir=Path("/elsewhere")), 1) is None


def test_it_can_be_turned_off_and_a_bad_setting_is_left_to_the_command(started, monkeypatch):
    monkeypatch.setenv(prestart.ENV, "0")
    assert not prestart.start(["check", "a.json"])
    monkeypatch.setenv(prestart.ENV, "1")
    monkeypatch.setenv("ECS_ADMISSION_PORT", "soon")
    assert not prestart.start(["check", "a.json"])


def test_a_refused_set_logs_its_reason_once_and_only_when_taken(started, tmp_path, caplog):
    broken = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, broken)
    (broken / "broken.rego").write_text("package ecs.checks.broken\nfindings := {x |\n")
    settings = Settings.from_env().with_overrides(policy_dir=broken)
    caplog.set_level(logging.ERROR)
    assert prestart.start(["check", "--policy-dir", str(broken), "a.json"])
    prestart._started.thread.join()
    assert not [r for r in caplog.records if "policy engine unavailable" in r.getMessage()]  # held back
    engine = prestart.take(settings, 1)
    assert isinstance(engine, UnavailableEngine) and "policies do not compile" in engine.reason
    logged = [r.getMessage() for r in caplog.records if "policy engine unavailable" in r.getMessage()]
    assert len(logged) == 1 and "broken.rego" in logged[0]


def _console(*arguments: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecs_admission.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "ECS_ADMISSION_IAM_LOOKUP": "off", **env},
    )


def _comparable(stdout: str) -> object:
    document = json.loads(stdout)
    for result in document if isinstance(document, list) else [document]:
        for key in ("id", "decision_id", "evaluated_at", "duration_ms", "timestamp"):
            result.pop(key, None)
    return document


@pytest.mark.parametrize("name", ["taskdef.json", "taskdef-clean.json"])
@pytest.mark.parametrize("failure_policy", ["fail", "ignore"])  # ignore: the build logs a warning
def test_the_console_script_decides_the_same_with_and_without_it(name, failure_policy):
    env = {"ECS_ADMISSION_FAILURE_POLICY": failure_policy}
    on = _console("check", str(EXAMPLES / name), "--format", "json", **env)
    off = _console("check", str(EXAMPLES / name), "--format", "json", **env, **{prestart.ENV: "0"})
    assert on.returncode == off.returncode and on.stderr == off.stderr
    assert ("FAILURE_POLICY=ignore" in on.stderr) == (failure_policy == "ignore")
    assert _comparable(on.stdout) == _comparable(off.stdout)


def test_the_console_script_fails_closed_the_same_with_a_set_that_does_not_compile(tmp_path):
    broken = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, broken)
    (broken / "broken.rego").write_text("package ecs.checks.broken\nfindings := {x |\n")
    arguments = ("check", "--policy-dir", str(broken), str(EXAMPLES / "taskdef-clean.json"))
    on, off = _console(*arguments), _console(*arguments, **{prestart.ENV: "0"})
    assert on.returncode == off.returncode == 3
    assert on.stderr == off.stderr and "policies do not compile" in on.stderr
    # A usage error stops the command first: the prestarted build's reason is not reported.
    usage = _console("check", "--source-file", "x.yaml", "--policy-dir", str(broken), "a.json", "b.json")
    assert usage.returncode == 2 and "policies do not compile" not in usage.stderr


def test_a_set_refused_before_opa_sees_it_is_handed_over_as_refused(started, tmp_path):
    # No Go work starts (the directory is missing): start() must not wait for it, and the command
    # gets the unavailable engine build_engine returns, with its reason.
    missing = tmp_path / "nowhere"
    settings = Settings.from_env().with_overrides(policy_dir=missing)
    assert prestart.start(["check", "--policy-dir", str(missing), "a.json"])
    engine = prestart.take(settings, 1)
    assert isinstance(engine, UnavailableEngine) and "does not exist" in engine.reason
