"""Startup self-check: a worker whose policies fail (or crash) their own Rego tests is not ready and does not decide."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace

from ecs_admission import selfcheck
from ecs_admission.config import Settings
from ecs_admission.policy import CHECK_PACKAGES_KEY, RegoFile, check_packages, load_policy_set
from ecs_admission.selfcheck import self_check
from ecs_admission.web import create_app

from .conftest import POLICY_DIR, example

CLEAN = example("taskdef-clean.json")


def policy_copy(tmp_path, **extra_files: str):
    directory = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, directory)
    for name, source in extra_files.items():
        (directory / name).write_text(source)
    return directory


def admit(client):
    return client.post("/v1/admit", data=json.dumps(CLEAN), content_type="application/json")


def test_shipped_policies_pass_their_self_check():
    result = selfcheck.self_check(load_policy_set(POLICY_DIR))
    assert result.passed and result.reason == "" and result.tests >= 20


def test_failing_rego_test_keeps_the_worker_unready_and_names_the_test(tmp_path):
    directory = policy_copy(
        tmp_path,
        **{
            "extra_test.rego": "package ecs.extra_test\n\nimport rego.v1\n\n"
            "test_true if 1 == 1\n\ntest_false if 1 == 2\n"
        },
    )
    client = create_app(Settings(auth="none", policy_dir=directory)).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    reason = ready.get_json()["reason"]
    assert "startup self-check failed: Rego unit test data.ecs.extra_test.test_false (extra_test.rego)" in reason
    assert "failed on the embedded engine: undefined [1 of" in reason
    response = admit(client)
    assert response.status_code == 503 and response.get_json()["allowed"] is False


# rego-cpp aborts the process on `with` over a rule chain. policy.py's lint refuses `with`, so
# this test builds the policy set by hand to stand for any crash the lint does not know about.
CRASHING_TEST = """package ecs.crash_test

import rego.v1

b := input.v

c if b == 1

test_crash if { c with input as {"v": 1} }
"""


def test_a_test_that_crashes_the_engine_cannot_take_the_worker_down(tmp_path):
    policy = load_policy_set(policy_copy(tmp_path))
    crashing = replace(policy, tests=(*policy.tests, RegoFile("crash_test.rego", CRASHING_TEST)))
    check = self_check(crashing)
    assert not check.passed
    assert "the embedded engine crashed (signal SIG" in check.reason
    assert "at compile time (the Rego unit tests)" in check.reason


# rego-cpp aborts (SIGABRT: "shape rego-localref has no field rego-refhead") while building the
# decision entry point when a check uses `with` over a rule chain; OPA accepts it. policy.py's lint
# refuses `with`, so the set is built by hand to stand for any crash the lint does not know.
CRASHING_CHECK = """package ecs.checks.crash

import rego.v1

b := input.v

c if b == 1

findings := {f | c with input as {"v": 1}; f := {"rule": "ECS-ISO-002", "path": "/", "message": "m"}}
"""


def test_policies_that_crash_the_compiler_cannot_take_the_worker_down(tmp_path):
    shipped = load_policy_set(policy_copy(tmp_path))
    modules = (*shipped.modules, RegoFile("crash.rego", CRASHING_CHECK))
    data = {"ecs": {**shipped.data["ecs"], CHECK_PACKAGES_KEY: check_packages(list(modules))}}
    check = self_check(replace(shipped, modules=modules, data=data))
    assert not check.passed
    assert "the embedded engine crashed (signal SIGABRT) at compile time (the decision entry point)" in check.reason


def test_a_crash_names_the_test_that_was_running():
    stdout = "\n".join(
        json.dumps(record)
        for record in (
            {"start": "compile time (the Rego unit tests)"},
            {"start": "data.ecs.a_test.test_one"},
            {"start": "data.ecs.a_test.test_two"},
        )
    )
    result = selfcheck.interpret(stdout, "terminate called after throwing\n  what():  boom\n", -6)
    assert not result.passed
    assert result.reason == (
        "the embedded engine crashed (signal SIGABRT) at data.ecs.a_test.test_two during the Rego unit tests: "
        "what():  boom"
    )


def test_a_self_check_that_hangs_is_a_failure(tmp_path):
    policy = load_policy_set(policy_copy(tmp_path, **{"marker.rego": "package ecs.marker\n\nx := 1\n"}))
    result = selfcheck.self_check(policy, timeout=0.01)
    assert not result.passed and "did not finish within 0.01s" in result.reason


def test_results_are_cached_per_policy_content(tmp_path, monkeypatch):
    policy = load_policy_set(policy_copy(tmp_path, **{"other.rego": "package ecs.other\n\ny := 2\n"}))
    first = selfcheck.self_check(policy)

    def no_subprocess(*args, **kwargs):
        raise AssertionError("the self-check ran again")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    assert selfcheck.self_check(policy) is first
