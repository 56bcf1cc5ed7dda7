"""The engine seam: evaluate one input document, return a RawDecision or raise EngineError.

The routes and the CLI only ever see this interface, so the OPA sidecar engine slots in beside
the embedded one without touching them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ecs_admission.decision import RawDecision
from ecs_admission.errors import UNAVAILABLE, EngineError


class Engine(Protocol):
    """What every engine offers. An engine may also offer `ready(canary) -> None`, raising
    EngineError unless it can decide right now (see ReadinessProbe); /readyz prefers it to a
    bare evaluation of the canary."""

    name: str

    @property
    def revision(self) -> str: ...

    def evaluate(self, input_document: dict[str, Any]) -> RawDecision:
        """Evaluate the policies' decision document; raise EngineError when it cannot decide."""
        ...

    def policy_data(self) -> dict[str, Any]:
        """The policies' data documents (`data.ecs`: catalog, config); EngineError when unavailable."""
        ...


class ReadinessProbe(Protocol):
    def ready(self, canary: dict[str, Any]) -> None:
        """Raise EngineError unless the engine is loaded, self-checked and answers the canary."""
        ...


class UnavailableEngine:
    """Stands in when the real engine could not be built, so every request fails closed with why."""

    def __init__(self, name: str, reason: str, kind: str = UNAVAILABLE):
        self.name = name
        self.reason = reason
        # UNAVAILABLE (could not be built: may fail open) or POLICY (the set was refused: never does).
        self.kind = kind

    @property
    def revision(self) -> str:
        return "unavailable"

    def evaluate(self, input_document: dict[str, Any]) -> RawDecision:
        raise EngineError(f"policies not loaded: {self.reason}", self.name, kind=self.kind)

    def policy_data(self) -> dict[str, Any]:
        raise EngineError(f"policies not loaded: {self.reason}", self.name, kind=self.kind)


def unwrap(engine: Any, found: Callable[[Any], bool]) -> Any:
    """The first engine, from the outside in, for which `found` holds; the innermost one if none.

    Wrappers (fail-open, deadline) name what they wrap `inner`.
    """
    while not found(engine) and hasattr(engine, "inner"):
        engine = engine.inner
    return engine


def serving_engine(engine: Any) -> Any:
    """The engine that holds the policies (its `policy`), under its wrappers (fail-open, deadline)."""
    return unwrap(engine, lambda candidate: hasattr(candidate, "policy"))
