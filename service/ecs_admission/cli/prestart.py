"""A cold `check` starts building its engine before the rest of the command line is imported.

Most of a cold `ecs-admission check FILE` is two things that need not wait for each other: Python
importing the command (argument parsing, the gate, the input shapes, the output formats) and OPA's
Go code parsing and compiling the policy set (which holds no GIL). The console script therefore
looks at its arguments before importing the command line, and when they plainly ask for a local
check it calls the same `build_engine` on a thread of its own, with the settings the command will
use; `cmd_check` takes that engine only when the settings and the number of files it then works
out itself are equal to what the thread built with (`take`), and builds its own otherwise. So a
guess that is wrong costs time, never a different engine: nothing about the decision is decided
here, and every failure (a policy set refused, an engine missing, a build past its deadline) is
the one `build_engine` reports, fail closed, as before. What the build logs is held back and
logged when its engine is taken, so a command that stops first (a usage error) or builds its own
says nothing more than it did.

Only the console script (`cli.run`) starts one; `main()` called from Python never does.
ECS_ADMISSION_CHECK_PRESTART=0 turns it off (docs/performance.md).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ENV = "ECS_ADMISSION_CHECK_PRESTART"
# check's options that take a value, and the flags; anything else (--url, --help, "--", an option
# this module does not know) means no prestart: the command line decides as it always did.
_VALUED = frozenset({"--format", "--output", "--report", "--policy-dir", "--source-file"})
_FLAGS = frozenset({"--dry-run"})
_POLL = 0.002
_MAX_WAIT = 1.0  # seconds; past it the command carries on beside the build (only slower)


class _HeldBack(logging.Handler):
    """Holds the package's log records while the prestart builds (they would be printed at once,
    by Python's last-resort handler in a `check`, which configures none)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_LOGGER = logging.getLogger("ecs_admission")


class _Prestart:
    def __init__(self, settings: Any, expected: int):
        self.settings = settings
        self.expected = expected
        self.engine: Any = None
        self.failed = False
        self.held = _HeldBack()
        self.propagate = True
        self.thread = threading.Thread(target=self._build, name="ecs-admission-prestart", daemon=True)

    def _build(self) -> None:
        from ecs_admission.engines.factory import build_engine

        try:
            self.engine = build_engine(self.settings, expected_decisions=self.expected)
        except Exception:  # the command's own build_engine call will meet (and report) it again
            self.failed = True


_started: _Prestart | None = None


def planned(argv: Sequence[str]) -> tuple[Path | None, int] | None:
    """(--policy-dir, number of paths) when `argv` (without the program name) is plainly a local
    `check` of files, else None."""
    if len(argv) < 2 or argv[0] != "check":
        return None
    policy_dir: Path | None = None
    paths = 0
    items = iter(argv[1:])
    for item in items:
        name, equals, value = item.partition("=")
        if item == "-" or not item.startswith("-"):
            paths += 1
        elif name in _VALUED:
            if not equals:
                value = next(items, None)  # type: ignore[assignment]
                if value is None:
                    return None
            if name == "--policy-dir":
                policy_dir = Path(value)
        elif item in _FLAGS:
            continue
        else:
            return None
    return (policy_dir, paths) if paths else None


def start(argv: Sequence[str]) -> bool:
    """Start building the engine a `check` of these arguments will use; False if this is not one."""
    global _started
    if os.environ.get(ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    plan = planned(argv)
    if plan is None:
        return False
    from ecs_admission.config import ConfigError, Settings

    try:
        settings = Settings.from_env().with_overrides(policy_dir=plan[0])
    except ConfigError:
        return False  # the command reports it, in its own words
    if settings.opa_url:
        return False  # decided by a sidecar: nothing slow to start here
    # The modules the build imports lazily are imported here first, so the two threads never
    # import the same module at once.
    import ecs_admission.engines.acceptance
    import ecs_admission.engines.canary
    import ecs_admission.engines.deadline
    import ecs_admission.engines.factory  # noqa: F401
    from ecs_admission.engines.embedded import GO_STARTED

    _started = _Prestart(settings, plan[1])
    _LOGGER.addHandler(_started.held)
    _started.propagate, _LOGGER.propagate = _LOGGER.propagate, False
    _started.thread.start()
    # The rest of the command line is imported once OPA's Go code has the work (or the build has
    # ended before it): until then both threads would be Python, taking turns at the GIL.
    waited = 0.0
    while not GO_STARTED.wait(_POLL) and _started.thread.is_alive() and waited < _MAX_WAIT:
        waited += _POLL
    return True


def take(settings: Any, expected: int | None) -> Any:
    """The prestarted engine if it was built for exactly these settings and files, else None (the
    caller builds its own). Taken once."""
    global _started
    started, _started = _started, None
    if started is None:
        return None
    started.thread.join()
    _LOGGER.removeHandler(started.held)
    _LOGGER.propagate = started.propagate
    if started.failed or started.engine is None:
        return None
    if started.settings != settings or started.expected != expected:
        close = getattr(started.engine, "close", None)
        if close is not None:
            close()
        return None
    for record in started.held.records:  # as the build would have logged them, in order
        logging.getLogger(record.name).handle(record)
    return started.engine
