"""A deadline for every in-process evaluation (issue 21 row 6, item 4): the input fails closed, the
worker stays usable, a set slow on every input cannot hold start-up."""

from __future__ import annotations

import shutil
import threading
import time

import pytest

from ecs_admission.config import Settings
from ecs_admission.engines import UnavailableEngine
from ecs_admission.engines.canary import CANARY
from ecs_admission.engines.deadline import DeadlineEngine, run_with_deadline
from ecs_admission.engines.embedded import EmbeddedEngine
from ecs_admission.engines.factory import build_engine
from ecs_admission.errors import TIMEOUT, EngineError
from ecs_admission.policy.loader import load_policy_set
from ecs_admission.web import create_app
from tests.conftest import REPO, example

# Quadratic in `n`: 0.95 s of OPA time at n=1200 on 2026-12-07's machine (2-3 s on slower days), 1 ms at
# n=10. The evaluation deadlines below are 0.2-0.3 s and the start-up budget 0.5 s, so the slow input
# misses each with room on a fast day; each abandoned evaluation still runs to its end on its own
# thread, so `n` is not larger.
SLOW_ON_FAMILY = """package ecs.checks.slow
import rego.v1

n := 1200 if input.task_definition.family == "slow"
n := 10 if input.task_definition.family != "slow"

findings contains finding if {
\tcount([1 | some i in numbers.range(1, n); some j in numbers.range(1, n)]) < 0
\tfinding := {"rule": "SLOW-001", "path": "", "message": "never"}
}
"""
SLOW_ALWAYS = SLOW_ON_FAMILY.replace('if input.task_definition.family == "slow"', "").replace(
    'n := 10 if input.task_definition.family != "slow"\n', ""
)


def slow_dir(tmp_path, source=SLOW_ON_FAMILY):
    directory = tmp_path / "rego"
    shutil.copytree(REPO / "rego", directory)
    (directory / "slow.rego").write_text(source)
    return directory


def document(family: str) -> dict:
    return {**CANARY, "task_definition": {**CANARY["task_definition"], "family": family}}


def test_a_slow_input_fails_closed_at_the_deadline_and_the_engine_is_replaced(tmp_path):
    policy = load_policy_set(slow_dir(tmp_path))
    engine = DeadlineEngine(EmbeddedEngine(policy), timeout=0.3, rebuild=EmbeddedEngine)
    engine.keep_spare()
    wait_for_spare(engine)
    started = time.perf_counter()
    with pytest.raises(EngineError) as missed:
        engine.evaluate(document("slow"))
    assert time.perf_counter() - started < 1.0
    assert missed.value.kind == TIMEOUT and "did not finish within 0.3 s" in missed.value.reason
    # The stuck call still holds its engine; the next input is decided at once by the spare.
    decision = engine.evaluate(document("quick"))
    assert decision.revision == policy.revision
    assert engine.replaced == 1 and engine.abandoned == 1


def test_without_a_spare_the_replacement_is_compiled_and_then_serves(tmp_path):
    engine = DeadlineEngine(EmbeddedEngine(load_policy_set(slow_dir(tmp_path))), timeout=0.3, rebuild=EmbeddedEngine)
    with pytest.raises(EngineError):
        engine.evaluate(document("slow"))
    wait(lambda: engine.replaced == 1, "the replacement")
    assert engine.evaluate(document("quick")).violations == ()


def wait(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def wait_for_spare(engine: DeadlineEngine) -> None:
    wait(lambda: engine._spare is not None, "the spare engine")


def test_abandoned_evaluations_past_the_limit_recycle_the_worker(tmp_path):
    policy = load_policy_set(slow_dir(tmp_path))
    exhausted = threading.Event()
    engine = DeadlineEngine(
        EmbeddedEngine(policy), timeout=0.2, rebuild=EmbeddedEngine, max_abandoned=2, on_exhausted=exhausted.set
    )
    for _ in range(2):
        with pytest.raises(EngineError):
            engine.evaluate(document("slow"))
        wait(lambda: engine._replacing is None, "the replacement")
    assert exhausted.is_set()


def test_the_web_app_fails_closed_within_the_deadline_and_keeps_answering(tmp_path):
    app = create_app(Settings(policy_dir=slow_dir(tmp_path), auth="none", decision_log=False, eval_timeout=0.3))
    client = app.test_client()
    slow = {**example("taskdef-clean.json"), "family": "slow"}
    started = time.perf_counter()
    response = client.post("/v1/admit", json=slow)
    assert response.status_code == 503 and response.get_json()["allowed"] is False
    assert "did not finish within 0.3 s" in response.get_json()["detail"]
    assert time.perf_counter() - started < 1.5
    deadline_engine = app.extensions["ecs_admission"]["gate"].engine
    wait(lambda: deadline_engine.replaced == 1, "the replacement")
    assert client.post("/v1/admit", json=example("taskdef-clean.json")).status_code == 200
    assert client.get("/readyz").status_code == 200


def test_a_policy_slow_on_every_input_cannot_hold_start_up(tmp_path):
    settings = Settings(policy_dir=slow_dir(tmp_path, SLOW_ALWAYS), policy_load_timeout=0.5)
    started = time.perf_counter()
    engine = build_engine(settings, self_check=True)
    assert time.perf_counter() - started < 2.5
    assert isinstance(engine, UnavailableEngine) and "did not finish within 0.5 s" in engine.reason


def test_run_with_deadline_returns_and_raises_what_the_call_does():
    assert run_with_deadline(lambda: 7, 1.0, "x") == 7
    with pytest.raises(ZeroDivisionError):
        run_with_deadline(lambda: 1 / 0, 1.0, "x")


def test_eval_timeout_setting():
    assert Settings().eval_timeout == 2.0
    assert Settings.from_env({"ECS_ADMISSION_EVAL_TIMEOUT": "0.5"}).eval_timeout == 0.5


def test_evaluations_reuse_a_free_runner_thread_and_a_stuck_one_is_passed_over():
    # A fresh thread per call made Go bind a new thread state for every evaluation (1.1-1.6 ms of
    # CPU each); a free runner is reused, and one stuck in an abandoned call is never handed work.
    first = run_with_deadline(threading.current_thread, 1.0, "a call")
    assert run_with_deadline(threading.current_thread, 1.0, "a call") is first
    release = threading.Event()
    with pytest.raises(EngineError, match="did not finish within"):
        run_with_deadline(lambda: release.wait(5), 0.05, "a stuck call")
    try:
        assert run_with_deadline(lambda: 42, 1.0, "the next call") == 42  # not queued behind the stuck one
    finally:
        release.set()
