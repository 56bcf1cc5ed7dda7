"""The embedded engine timed alone, in-process: the floor the webhook cannot beat."""

from __future__ import annotations

import time
from typing import Any

from latency_summary import summarise


def raw_engine(envelopes: list[dict[str, Any]], seconds: float) -> dict[str, float]:
    """EmbeddedEngine.evaluate alone on the documents the gate builds for the same inputs."""
    from ecs_admission.config import Settings
    from ecs_admission.gate import build_gate, utc_now
    from ecs_admission.inputs import normalise

    gate = build_gate(Settings(auth="none"))
    documents = [gate.input_document(normalise(envelope), utc_now()) for envelope in envelopes]
    for document in documents:  # warm up
        gate.engine.evaluate(document)
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for document in documents:
            started = time.perf_counter()
            gate.engine.evaluate(document)
            samples.append((time.perf_counter() - started) * 1000)
    return summarise(samples, seconds)
