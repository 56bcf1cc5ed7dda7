"""The two ways a decision can fail to be made, kept apart because callers treat them differently.

InputError is the caller's fault (HTTP 400, CLI exit 2). EngineError means the policy engine
could not decide (HTTP 503, CLI exit 3): never an allow.
"""

from __future__ import annotations


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


class EngineError(RuntimeError):
    """The policy engine failed, timed out, or returned something that is not a decision."""

    def __init__(self, reason: str, engine: str = "unknown"):
        self.reason = reason
        self.engine = engine
        super().__init__(f"{engine} engine: {reason}")
