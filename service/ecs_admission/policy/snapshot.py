"""Which files of a policy directory are read, read safely: no way out, no loop, a size budget.

A policy directory is whatever a deploy wrote there, and both the loader (every reload) and the
gunicorn master's snapshot copy (SIGHUP) read it. Read naively it leaks and stalls: a
`passwd.rego -> /etc/passwd` link showed a system file in the reload error, links `a -> .` and
`b -> .` made the master copy 2.6 GB in 33 s, a 100 MB comment-only module took a worker to 1.44 GB.
So the files are listed here, once, with these rules (docs/hardening.md "Policy directories"):

- a symbolic link is followed only if it resolves inside the directory; one that leads outside
  (or dangles) refuses the whole set, naming the link and never what it points at;
- directory links are not descended into (as the loader never has), so no loop can form;
- the .rego and data files together stay within ECS_ADMISSION_POLICY_MAX_BYTES (16 MiB by
  default; the shipped set is under 0.2 MiB) and POLICY_MAX_FILES files.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ecs_admission.config import env_setting, parse_int

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_FILES = 2000
MAX_BYTES_ENV = "ECS_ADMISSION_POLICY_MAX_BYTES"
MAX_FILES_ENV = "ECS_ADMISSION_POLICY_MAX_FILES"
POLICY_SUFFIXES = (".rego", ".yaml", ".yml", ".json")
MARKER_NAMES = ("retired-rules.txt",)


class SnapshotError(ValueError):
    """The directory cannot be read as a policy set (a link leading out, over budget)."""


@dataclass(frozen=True)
class PolicyFile:
    relative: str  # forward slashes, relative to the directory
    path: Path  # what to open: the file itself, or the resolved target of a link inside the directory
    size: int


def budget() -> tuple[int, int]:
    raw_bytes = env_setting(os.environ, MAX_BYTES_ENV)
    raw_files = env_setting(os.environ, MAX_FILES_ENV)
    max_bytes = parse_int(MAX_BYTES_ENV, raw_bytes, minimum=1024) if raw_bytes else DEFAULT_MAX_BYTES
    max_files = parse_int(MAX_FILES_ENV, raw_files, minimum=1) if raw_files else DEFAULT_MAX_FILES
    return max_bytes, max_files


def _wanted(name: str, top: bool) -> bool:
    if name.endswith(".rego"):
        return True
    return top and (name.endswith(POLICY_SUFFIXES) or name in MARKER_NAMES)


def policy_files(root: Path, max_bytes: int | None = None, max_files: int | None = None) -> list[PolicyFile]:
    """Every .rego file (any depth) and every top-level data or marker file, sorted, checked.

    Raises SnapshotError naming the offending entry; OSError when the directory cannot be listed.
    """
    default_bytes, default_files = budget()
    max_bytes = default_bytes if max_bytes is None else max_bytes
    max_files = default_files if max_files is None else max_files
    real_root = Path(os.path.realpath(root))
    found: list[PolicyFile] = []
    total = 0
    pending = [(Path(root), "")]
    while pending:
        directory, prefix = pending.pop()
        with os.scandir(directory) as entries:
            listed = sorted(entries, key=lambda entry: entry.name)
        for entry in listed:
            relative = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                pending.append((Path(entry.path), relative + "/"))
                continue
            if not _wanted(entry.name, top=not prefix):
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                path = _inside(real_root, entry, relative)
                if path is None:
                    continue  # a link to a directory inside: not descended into, as rglob never did
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                continue
            total += info.st_size
            if len(found) >= max_files:
                raise SnapshotError(f"the policy directory holds more than {max_files} policy files ({MAX_FILES_ENV})")
            if total > max_bytes:
                raise SnapshotError(
                    f"the policy files exceed {max_bytes} bytes ({MAX_BYTES_ENV}); {relative} crossed it"
                )
            found.append(PolicyFile(relative, path, info.st_size))
    return sorted(found, key=lambda file: file.relative)


def _inside(real_root: Path, entry: os.DirEntry, relative: str) -> Path | None:
    target = Path(os.path.realpath(entry.path))
    if target != real_root and real_root not in target.parents:
        # Name the link, never the target: the message reaches the unauthenticated /readyz.
        raise SnapshotError(f"{relative} is a symbolic link leading outside the policy directory")
    if not target.exists():
        raise SnapshotError(f"{relative} is a symbolic link to nothing")
    return None if target.is_dir() else target


def copy_policy_files(source: Path, target: Path) -> int:
    """Copy exactly the files the loader reads (links resolved to their content); bytes copied."""
    import shutil  # here: loading the policies (a cold `check`) copies nothing, and shutil loads bz2 and lzma

    copied = 0
    for policy_file in policy_files(source):
        destination = target / policy_file.relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(policy_file.path, destination)
        copied += policy_file.size
    return copied
