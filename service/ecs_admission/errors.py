"""The two ways a decision can fail to be made, kept apart because callers treat them differently.

InputError is the caller's fault (HTTP 400, CLI exit 2). EngineError means the policy engine
could not decide (HTTP 503, CLI exit 3): never an allow.
"""

from __future__ import annotations

from typing import Any


class InputError(ValueError):
    """The submitted document is not something the gate can evaluate."""

    def __init__(self, problem: str, field: str | None = None, error: str = "invalid_input"):
        self.problem = problem
        self.field = field
        self.error = error
        super().__init__(f"{field}: {problem}" if field else problem)

    def to_dict(self) -> dict[str, str | None]:
        # Bounded: a problem or a pointer may quote a 100 KB key from the body back to the caller.
        return {"error": self.error, "detail": _clip(self.problem), "field": _clip(self.field)}


MAX_ERROR_CHARS = 500


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_ERROR_CHARS:
        return text
    return text[:MAX_ERROR_CHARS] + "..."


# Why an engine could not decide (EngineError.kind). Only UNAVAILABLE may fail open under
# ECS_ADMISSION_FAILURE_POLICY=ignore: an engine that cannot be reached or was never built. A
# TIMEOUT is this input being slow (or the engine overloaded), ERROR an evaluation that failed and
# POLICY a policy set that was refused: each is the caller's or the policies' problem, and fails closed.
UNAVAILABLE = "unavailable"
TIMEOUT = "timeout"
ERROR = "error"
POLICY = "policy"


class EngineError(RuntimeError):
    """The policy engine failed, timed out, or returned something that is not a decision."""

    def __init__(self, reason: str, engine: str = "unknown", kind: str = ERROR):
        self.reason = reason
        self.engine = engine
        self.kind = kind
        super().__init__(f"{engine} engine: {reason}")

    def to_dict(self) -> dict[str, Any]:
        """The 503 body every HTTP door answers with; allowed:false is explicit so a client that
        reads only `allowed` still fails closed."""
        return {"error": "engine_unavailable", "detail": self.reason, "field": None, "allowed": False}
