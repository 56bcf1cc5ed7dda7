"""A progress line on stderr for `ecs-admission audit`: families done of the total, and the rate.

An audit of a large account describes and judges hundreds of task definitions; without a sign of
life it looks hung. The line is drawn only on a terminal (a CI log or a file gets nothing, so
reports stay clean), redrawn at most a few times a second, and left as a summary when it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

REDRAW_SECONDS = 0.2


@dataclass
class AuditProgress:
    stream: TextIO
    enabled: bool
    clock: Callable[[], float] = time.monotonic
    total: int | None = None
    families_done: int = 0
    judged: int = 0
    _started: float = field(default=0.0, init=False)
    _drawn_at: float | None = field(default=None, init=False)

    @classmethod
    def for_stream(cls, stream: TextIO, quiet: bool) -> AuditProgress:
        try:
            terminal = stream.isatty()
        except (AttributeError, ValueError):
            terminal = False
        return cls(stream, enabled=terminal and not quiet)

    def start(self, families: int) -> None:
        self.total = families
        self._started = self.clock()
        self._draw(force=True)

    def task_definition_judged(self) -> None:
        self.judged += 1
        self._draw()

    def family_done(self) -> None:
        self.families_done += 1
        self._draw()

    def line(self, now: float | None = None) -> str:
        elapsed = max((self.clock() if now is None else now) - self._started, 1e-9)
        rate = self.judged / elapsed
        return (
            f"audit: {self.families_done}/{self.total} families, {self.judged} task definition(s) judged, "
            f"{rate:.1f}/s, {elapsed:.0f} s"
        )

    def finish(self) -> None:
        if self.enabled and self._drawn_at is not None:
            # The final count stays on screen, on its own line, so the report that follows starts clean.
            self.stream.write("\r\x1b[K" + self.line() + "\n")
            self.stream.flush()

    def _draw(self, force: bool = False) -> None:
        if not self.enabled or self.total is None:
            return
        now = self.clock()
        if not force and self._drawn_at is not None and now - self._drawn_at < REDRAW_SECONDS:
            return
        self._drawn_at = now
        self.stream.write("\r\x1b[K" + self.line(now))
        self.stream.flush()
