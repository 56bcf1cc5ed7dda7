"""The wait for the engine is bounded too: a burst of slow inputs cannot stretch an answer past
1.5 evaluation deadlines (gate/__init__.py, Gate.queue_timeout; docs/hardening.md)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from ecs_admission.config import Settings
from ecs_admission.engines import RawDecision
from ecs_admission.errors import TIMEOUT, EngineError
from ecs_admission.gate import Gate, build_gate
from ecs_admission.inputs import normalise
from tests.conftest import example


class SlowEngine:
    """The shipped engine, slowed down: each evaluation holds the engine for `seconds`."""

    def __init__(self, inner: Any, seconds: float):
        self.inner, self.seconds = inner, seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def evaluate(self, input_document: dict[str, Any]) -> RawDecision:
        time.sleep(self.seconds)
        return self.inner.evaluate(input_document)


@pytest.fixture(scope="module")
def shipped_engine():
    return build_gate(Settings(iam_lookup="off")).engine


def test_build_gate_waits_half_the_evaluation_deadline():
    gate = build_gate(Settings(iam_lookup="off", eval_timeout=3.0), engine=object())  # type: ignore[arg-type]
    assert gate.queue_timeout == 1.5


def test_a_request_queued_past_its_budget_fails_closed_and_the_engine_stays_usable(shipped_engine):
    gate = Gate(SlowEngine(shipped_engine, 0.6), queue_timeout=0.2)
    request = normalise(example("taskdef-clean.json"))
    outcomes: list[Any] = []

    def decide() -> None:
        started = time.perf_counter()
        try:
            outcomes.append((gate.decide(request), time.perf_counter() - started))
        except EngineError as exc:
            outcomes.append((exc, time.perf_counter() - started))

    first = threading.Thread(target=decide)
    first.start()
    time.sleep(0.1)  # the first holds the engine
    second = threading.Thread(target=decide)
    second.start()
    first.join()
    second.join()
    refused = [(o, s) for o, s in outcomes if isinstance(o, EngineError)]
    decided = [o for o, _ in outcomes if not isinstance(o, EngineError)]
    assert len(refused) == 1 and len(decided) == 1
    error, waited = refused[0]
    assert error.kind == TIMEOUT and "waited 0.2 s for the engine" in error.reason
    assert waited < 0.5  # it gave up at its budget, not after the first evaluation
    assert decided[0].allowed
    # Nothing is left holding the engine: the next request decides.
    assert gate.decide(request).allowed
