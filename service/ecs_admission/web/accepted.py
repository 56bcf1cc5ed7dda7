"""The newest accepted policy revision, shared by every worker of one server (and its replacements).

A worker that accepts a poll reload serves the new set; but a worker gunicorn starts later (after a
crash, a SIGKILL, max-requests) used to build from the master's start-up snapshot, and its poller
took the directory as already seen: it served the old revision indefinitely. So every accepted set
is published here, and a new worker starts from the newest one:

- the master creates a state directory for the server and names it to its workers (STATE_ENV);
- whoever accepts a set (a worker's poll reload, the master's SIGHUP validation) copies exactly the
  files it validated into `<state>/<revision>/` and then atomically replaces `<state>/accepted.json`
  ({"revision", "directory", "at", "by"}): the newest acceptance wins, whoever made it;
- a worker starting up builds from the directory accepted.json names when there is one.
/readyz reports the revision a worker serves and the newest accepted one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ecs_admission.policy.loader import PolicyError, load_policy_set
from ecs_admission.policy.snapshot import SnapshotError, copy_policy_files

log = logging.getLogger(__name__)

STATE_ENV = "ECS_ADMISSION_POLICY_STATE_DIR"
POINTER = "accepted.json"
KEEP = 3


def state_dir() -> Path | None:
    raw = os.environ.get(STATE_ENV)
    return Path(raw) if raw else None


def current() -> dict[str, Any] | None:
    """The newest accepted set ({"revision", "directory", ...}), or None."""
    state = state_dir()
    if state is None:
        return None
    try:
        pointer = json.loads((state / POINTER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(pointer, dict) or not isinstance(pointer.get("directory"), str):
        return None
    if not Path(pointer["directory"]).is_dir():
        return None
    return pointer


def publish(source: Path, revision: str, by: str) -> Path | None:
    """Copy the accepted files into the state directory and point accepted.json at them.

    The copy is loaded again and must have the accepted revision: a directory that changed between
    the validation and the copy is not published (the next poll sees the change and validates it).
    """
    state = state_dir()
    if state is None:
        return None
    target = Path(tempfile.mkdtemp(prefix=f"{revision}-", dir=state))
    try:
        copy_policy_files(source, target)
        copied = load_policy_set(target).revision
    except (OSError, SnapshotError, PolicyError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        log.warning("could not publish accepted policies %s: %s", revision, exc)
        return None
    if copied != revision:
        shutil.rmtree(target, ignore_errors=True)
        log.warning(
            "policies in %s changed while being published (%s, not %s); not published", source, copied, revision
        )
        return None
    point_at(target, revision, by)
    return target


def point_at(directory: Path, revision: str | None, by: str) -> None:
    state = state_dir()
    if state is None:
        return
    body = {
        "revision": revision,
        "directory": str(directory),
        "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "by": by,
    }
    handle, temporary = tempfile.mkstemp(prefix=".accepted-", dir=state)
    with os.fdopen(handle, "w") as stream:
        json.dump(body, stream)
    os.replace(temporary, state / POINTER)
    _prune(state, keep=Path(directory))


def _prune(state: Path, keep: Path) -> None:
    """Keep the newest few copies (a worker may still be building from one just replaced)."""
    copies = sorted((p for p in state.iterdir() if p.is_dir() and p != keep), key=lambda p: p.stat().st_mtime)
    for old in copies[: max(0, len(copies) - (KEEP - 1))]:
        shutil.rmtree(old, ignore_errors=True)
