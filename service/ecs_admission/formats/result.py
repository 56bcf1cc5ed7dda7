"""What every output format renders: one CheckResult per input file, plus the run's context."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_admission.decision import Decision, Finding
from ecs_admission.formats.locate import SourceLocator

EXIT_ALLOWED, EXIT_DENIED, EXIT_INPUT, EXIT_ENGINE = 0, 1, 2, 3


def workspace() -> Path:
    """The repository root paths are reported against: $GITHUB_WORKSPACE in Actions, else the working directory."""
    return Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd()).resolve()


STDIN_NAME = "stdin"  # how reports name standard input: a location code scanning accepts


@dataclass
class Source:
    """The file findings are attributed to, and its bytes for locating their lines."""

    path: str
    content: bytes
    stdin: bool = False
    _locator: SourceLocator | None = field(default=None, init=False, repr=False)

    def line(self, pointer: str) -> int | None:
        if self._locator is None:
            self._locator = SourceLocator(self.content, self.path)
        return self._locator.line(pointer)

    def _relative(self) -> str | None:
        if self.stdin:
            return None
        try:
            return (Path.cwd() / self.path).resolve().relative_to(workspace()).as_posix()
        except (ValueError, OSError):
            return None

    def in_repository(self) -> bool:
        return self._relative() is not None

    def repo_path(self) -> str:
        """The path as GitHub and SARIF consumers want it: relative to the workspace, forward slashes.

        A file outside the workspace (a rendered copy with no known origin) is named by its file
        name alone and standard input as `stdin`: never an absolute path, which code scanning refuses.
        """
        if self.stdin:
            return STDIN_NAME
        return self._relative() or Path(self.path).name


@dataclass
class CheckResult:
    """One input's outcome: a decision, or the one-line error that stopped it."""

    name: str
    decision: Decision | None = None
    error: str | None = None
    exit_code: int = EXIT_ALLOWED
    source: Source | None = None
    # The gate could not be reached and the caller chose --fail-open-on-unreachable: NOT checked.
    failed_open: bool = False

    def findings(self) -> list[tuple[str, Finding]]:
        """(kind, finding) in report order; kind is deny, would-deny (dry-run), warn or exempt."""
        if self.decision is None:
            return []
        deny = "deny" if self.decision.enforced else "would-deny"
        return [
            *((deny, f) for f in self.decision.violations),
            *(("warn", f) for f in self.decision.warnings),
            *(("exempt", f) for f in self.decision.exempted),
        ]

    def line(self, pointer: str) -> int | None:
        return self.source.line(pointer) if self.source else None

    @property
    def verdict(self) -> str:
        if self.decision is None:
            return "not checked (gate unreachable, failed open)" if self.failed_open else "error"
        if not self.decision.violations:
            return "allowed"
        return "denied" if self.decision.enforced else "would deny (dry-run)"


@dataclass
class RenderContext:
    """Run-wide facts a format may use: the rule catalogue (GET /v1/policies shape) and where decisions came from."""

    rules: list[dict[str, Any]] = field(default_factory=list)
    gate_url: str | None = None
    # Where the github format appends its Markdown table ($GITHUB_STEP_SUMMARY).
    step_summary: str | None = None

    def rule(self, rule_id: str) -> dict[str, Any] | None:
        for entry in self.rules:
            if entry.get("id") == rule_id:
                return entry
        return None
