"""The Rego self-tests once per policy content per server (engines/selfcheck_record.py)."""

from __future__ import annotations

import threading

from ecs_admission.engines.selfcheck import SelfCheck, content_key
from ecs_admission.engines.selfcheck_record import RUNTIME_DIR_ENV, checked_once
from ecs_admission.policy.loader import load_policy_set
from tests.conftest import POLICY_DIR

POLICY = load_policy_set(POLICY_DIR)


class Counting:
    def __init__(self, verdict: SelfCheck):
        self.verdict = verdict
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, policy):
        with self._lock:
            self.calls += 1
        return self.verdict


def test_without_a_runtime_dir_every_caller_runs_the_tests(monkeypatch):
    monkeypatch.delenv(RUNTIME_DIR_ENV, raising=False)
    run = Counting(SelfCheck(True, "", 170))
    assert checked_once(POLICY, run) == (SelfCheck(True, "", 170), False)
    assert checked_once(POLICY, run)[1] is False and run.calls == 2


def test_a_pass_is_recorded_once_and_read_by_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv(RUNTIME_DIR_ENV, str(tmp_path))
    run = Counting(SelfCheck(True, "", 170, duration_ms=300.0))
    results = []
    threads = [threading.Thread(target=lambda: results.append(checked_once(POLICY, run))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert run.calls == 1  # the lock made the late ones wait for the verdict instead of running too
    assert sorted(recorded for _, recorded in results) == [False, True, True, True]
    assert all(check.passed and check.tests == 170 for check, _ in results)
    assert (tmp_path / f"selfcheck-{content_key(POLICY)}.json").is_file()


def test_a_failure_is_not_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv(RUNTIME_DIR_ENV, str(tmp_path))
    run = Counting(SelfCheck(False, "Rego unit test x failed", 170, ("x",)))
    assert checked_once(POLICY, run)[0].passed is False
    assert checked_once(POLICY, run) == (run.verdict, False)
    assert run.calls == 2


def test_a_record_for_other_policies_or_a_damaged_one_is_not_trusted(tmp_path, monkeypatch):
    monkeypatch.setenv(RUNTIME_DIR_ENV, str(tmp_path))
    (tmp_path / "selfcheck-0000.json").write_text('{"passed": true, "tests": 1}')
    (tmp_path / f"selfcheck-{content_key(POLICY)}.json").write_text('{"passed": "yes"}')
    run = Counting(SelfCheck(True, "", 170))
    assert checked_once(POLICY, run) == (SelfCheck(True, "", 170), False)
    assert run.calls == 1
