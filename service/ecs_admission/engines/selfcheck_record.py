"""The start-up self-check once per policy revision per server, not once per worker.

Every gunicorn worker builds its own engine and, before trusting it, runs the policies' Rego unit
tests (engines/selfcheck.py): 0.2-0.4 s of CPU each, all at the same moment on a small task. The
workers of one server load the same validated snapshot, so the first to get there runs the tests
and writes down the content digest they passed for in the server's runtime directory (made by the
gunicorn master, private to its user: RUNTIME_DIR_ENV); the others find the record and skip them.
A file lock makes a worker that arrives while the tests run wait for their verdict instead of
running them too. Only passes are recorded: a worker that finds no record runs the tests itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from ecs_admission.engines.selfcheck import SelfCheck, content_key
from ecs_admission.policy.loader import PolicySet

log = logging.getLogger(__name__)

# Set by the gunicorn master for its workers (web/server.py); not a setting a person configures.
RUNTIME_DIR_ENV = "ECS_ADMISSION_RUNTIME_DIR"


def runtime_dir() -> Path | None:
    raw = os.environ.get(RUNTIME_DIR_ENV)
    return Path(raw) if raw and Path(raw).is_dir() else None


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with open(directory / "selfcheck.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _record_path(directory: Path, key: str) -> Path:
    return directory / f"selfcheck-{key}.json"


def _read(path: Path) -> SelfCheck | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("passed") is not True or not isinstance(record.get("tests"), int):
        return None
    return SelfCheck(True, "", record["tests"], (), 0.0)


def checked_once(policy: PolicySet, run: Callable[[PolicySet], SelfCheck]) -> tuple[SelfCheck, bool]:
    """(verdict, whether it came from another worker's record); runs `run` when there is none."""
    directory = runtime_dir()
    if directory is None:
        return run(policy), False
    key = content_key(policy)
    path = _record_path(directory, key)
    try:
        with _locked(directory):
            found = _read(path)
            if found is not None:
                return found, True
            check = run(policy)
            if check.passed:
                temporary = path.with_suffix(".tmp")
                temporary.write_text(json.dumps({"passed": True, "tests": check.tests}))
                temporary.replace(path)
            return check, False
    except OSError as exc:
        log.warning("self-check record in %s unusable (%s): running the tests here", directory, exc)
        return run(policy), False
