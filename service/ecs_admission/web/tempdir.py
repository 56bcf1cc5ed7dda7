"""The temporary directory the server writes to, chosen and proven writable before gunicorn starts.

gunicorn's worker heartbeat files, the multi-process metrics directory and SIGHUP policy snapshots
all go through Python's tempfile. With a read-only root filesystem (the shipped ECS task) and
nothing writable mounted, tempfile finds no usable directory and gunicorn exited 1 with "No usable
temporary directory found", naming no setting. ECS_ADMISSION_TMP_DIR names the directory (else
TMPDIR, /tmp, ... as tempfile looks); it is tried with a real file before anything else starts, and
a failure says what to set or mount.
"""

from __future__ import annotations

import os
import tempfile

HINT = (
    "set ECS_ADMISSION_TMP_DIR (or TMPDIR) to a writable directory; with a read-only root filesystem, "
    "mount a writable volume or tmpfs there (deploy/ecs mounts one at /tmp)"
)


class TemporaryDirectoryUnavailable(Exception):
    """No writable temporary directory: the server cannot start, and the message says what to do."""


def use_temporary_directory(configured: str | None) -> str:
    """Make `configured` (or tempfile's own choice) the process's temporary directory and prove it writable.

    The choice is made in the master, before workers fork, so every process uses the same one.
    """
    if configured:
        if not os.path.isdir(configured):
            raise TemporaryDirectoryUnavailable(f"ECS_ADMISSION_TMP_DIR={configured}: not a directory; {HINT}")
        tempfile.tempdir = configured
        os.environ["TMPDIR"] = configured  # children and libraries that read the variable
    try:
        directory = tempfile.gettempdir()
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:  # FileNotFoundError: "No usable temporary directory found in [...]"
        where = configured or os.environ.get("TMPDIR") or "/tmp"
        raise TemporaryDirectoryUnavailable(
            f"no writable temporary directory ({where}: {exc.strerror or exc}); {HINT}"
        ) from None
    return directory
