"""Small steps of the request path made cheaper (issue 26), each held to the code before it: the
decision's task-definition summary without asdict, an IAM value that is one string without the
generator, and the evaluation's hand-off to its runner thread on a lock instead of an Event."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import asdict
from typing import Any

import pytest

from ecs_admission.decision import TaskDefinitionSummary
from ecs_admission.engines import deadline
from ecs_admission.errors import EngineError
from ecs_admission.iam import documents


def reference_summary(summary: TaskDefinitionSummary) -> dict[str, Any]:
    return {k: v for k, v in asdict(summary).items() if v is not None}


def test_the_summary_answers_as_asdict_did():
    values = {
        "family": ["api", None, "", ["list"], {"nested": ["x"]}, 7],
        "source": ["register", "describe"],
        "envelope": ["none", "request"],
        "revision": [None, 0, 12, True],
        "logical_id": [None, "TaskDef"],
    }
    for combination in itertools.product(*values.values()):
        summary = TaskDefinitionSummary(**dict(zip(values, combination, strict=True)))
        got, expected = summary.to_dict(), reference_summary(summary)
        assert got == expected and list(got) == list(expected)
        for key in ("family",):
            if isinstance(expected.get(key), list | dict):
                assert got[key] is not summary.family  # asdict's copy, as before


def reference_as_list(value: Any, where: str) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in values):
        raise ValueError(f"{where}: expected a string or a list of strings")
    return list(values)


class Text(str):
    pass


@pytest.mark.parametrize(
    "value", ["s3:GetObject", "", Text("t"), ["a", "b"], [], ["a", 1], 1, None, {"a": "b"}, ("a",), [Text("x")]]
)
def test_an_iam_value_becomes_a_list_as_before(value):
    def outcome(function):
        try:
            result = function(value, "/Action")
            return ("value", result, [type(item) for item in result])
        except ValueError as exc:
            return ("error", str(exc))

    assert outcome(documents._as_list) == outcome(reference_as_list)


def test_a_call_handed_to_a_runner_is_waited_for_and_its_answer_or_error_returned():
    assert deadline.run_with_deadline(lambda: 42, 5, "work") == 42
    with pytest.raises(KeyError):
        deadline.run_with_deadline(lambda: {}["missing"], 5, "work")
    call = deadline._Call(lambda: "done")
    call.run()
    assert call.finished and call.wait(0) and call.wait(0.01) and call.result == "done"


def test_a_call_past_its_deadline_fails_closed_and_reports_its_end_later():
    release = threading.Event()
    ended = threading.Event()

    def slow() -> str:
        release.wait(5)
        return "late"

    call = deadline._Call(slow)
    deadline._Runner.start(call, "test-deadline")
    started = time.perf_counter()
    assert call.wait(0.05) is False and not call.finished
    assert time.perf_counter() - started >= 0.04
    call.on_finish = ended.set
    call.abandoned = True
    release.set()
    assert ended.wait(5) and call.finished and call.wait(0) and call.result == "late"
    with pytest.raises(EngineError) as raised:
        deadline.run_with_deadline(lambda: time.sleep(0.3), 0.05, "slow work")
    assert raised.value.kind == "timeout"
