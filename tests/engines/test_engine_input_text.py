"""The in-process engine hands its input to OPA as orjson's text (engines/embedded.py
_evaluate_document), in place of the binding's own `eval_document`: the answers are the binding's,
to the character, on every input the parity tests use; an input orjson cannot write goes to the
binding itself and fails as it always did."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ecs_admission.config import Settings
from ecs_admission.engines.embedded import DECISION_PATH, EmbeddedEngine
from ecs_admission.errors import EngineError, InputError
from ecs_admission.gate import Gate, build_gate
from ecs_admission.inputs import normalise, parse_file_bytes
from ecs_admission.policy.loader import load_policy_set
from tests.conftest import EXAMPLES, POLICY_DIR, REPO, corpus_dir
from tests.engines.test_parity import CRAFTED

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
HARDENED = REPO / "bench" / "hardened-fargate.json"


@pytest.fixture(scope="module")
def gate() -> Gate:
    return build_gate(Settings(auth="none", iam_lookup="off"))


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedEngine]:
    engine = EmbeddedEngine(load_policy_set(POLICY_DIR))
    yield engine
    engine.close()


def policy_inputs(gate: Gate) -> dict[str, dict[str, Any]]:
    """The policy input (as a request makes it) of every crafted, example and corpus document."""
    sources: dict[str, Any] = dict(CRAFTED)
    sources["hardened-fargate"] = json.loads(HARDENED.read_text())
    files = sorted(EXAMPLES.glob("*.json")) + sorted(
        path for path in corpus_dir().rglob("*") if path.suffix in {".json", ".yaml", ".yml"}
    )
    for path in files:
        try:
            sources[path.name] = parse_file_bytes(path.read_bytes(), path.name)
        except InputError:
            continue
    inputs = {}
    for name, source in sources.items():
        try:
            inputs[name] = gate.input_document(normalise(source), NOW)
        except InputError:
            continue  # refused before the engine: a 400
    return inputs


def test_decisions_are_the_bindings_own_to_the_character(gate, engine):
    inputs = policy_inputs(gate)
    assert len(inputs) >= 30
    for name, document in inputs.items():
        ours = engine.query(document)
        theirs = engine._opa.eval_document(DECISION_PATH, document)
        assert json.dumps(ours, sort_keys=True) == json.dumps(theirs, sort_keys=True), name


def test_an_undefined_document_is_still_an_engine_error(engine):
    with pytest.raises(EngineError, match=r"data\.ecs\.admission\.no_such_rule is undefined"):
        engine.query({"task_definition": {}}, "ecs.admission.no_such_rule")


def test_an_input_orjson_cannot_write_is_decided_as_through_the_binding(engine):
    # Beyond 64 bits: the parsing layer refuses it from a caller; handed over directly, the standard
    # library writes it (as the binding did) and OPA decides on it, as before.
    document = {"task_definition": {"family": "big", "cpu": 2**70, "containerDefinitions": []}}
    assert engine.query(document) == engine._opa.eval_document(DECISION_PATH, document)


def test_an_input_no_json_can_hold_fails_closed(engine):
    with pytest.raises(EngineError, match="evaluation error"):
        engine.query({"task_definition": {"family": "\ud800", "containerDefinitions": []}})


def test_the_hardened_input_is_written_once_by_orjson(gate, engine, monkeypatch):
    """The binding's own encoder is not used on the request path."""
    from opa_bindings import engine as binding

    document = gate.input_document(normalise(json.loads(HARDENED.read_text())), NOW)
    calls = []
    original = binding._encode_input
    monkeypatch.setattr(binding, "_encode_input", lambda value: calls.append(value) or original(value))
    engine.query(document)
    assert calls == []
