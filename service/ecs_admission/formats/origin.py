"""Which repository file a rendered task definition came from, so reports can point into the repository.

In GitHub Actions the render action writes the task definition it fills in (image, environment)
to a temporary file outside the checkout; code scanning refuses results whose location lies
outside the repository. Rendering fills in only some container fields (image, environment,
secrets, log configuration, Docker labels, command) and keeps the rest, so the origin is the one
repository file equal to the rendered one but for those fields. When there is not exactly one,
nothing is guessed: the caller reports the file by its name and says so (`--source-file` names
the origin explicitly).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ecs_admission.errors import InputError
from ecs_admission.formats.result import workspace
from ecs_admission.inputs import normalise, parse_file_bytes

SUFFIXES = (".json", ".yaml", ".yml")
SKIPPED_DIRECTORIES = {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", "cdk.out"}
MAX_FILES = 2000  # a checkout with more candidate files is not searched to the end
MAX_ENTRIES = 50_000  # nor one with more files of any kind
MAX_BYTES = 256 * 1024  # a task definition is a few kilobytes


# What amazon-ecs-render-task-definition (and similar steps) may fill in on a container.
RENDERED_FIELDS = frozenset(
    {"image", "environment", "environmentFiles", "secrets", "logConfiguration", "dockerLabels", "command"}
)


@dataclass(frozen=True)
class Identity:
    family: str
    containers: tuple[str, ...]
    skeleton: str  # the task definition without the fields rendering fills in, as canonical JSON


def identity(raw: bytes, name: str) -> Identity | None:
    """What a task definition file keeps when it is rendered; None when it is not a task definition."""
    try:
        task = normalise(parse_file_bytes(raw, name)).task_definition
    except (InputError, ValueError, RecursionError):
        return None
    family = task.get("family")
    if not isinstance(family, str) or not family:
        return None
    containers = [c for c in task.get("containerDefinitions") or [] if isinstance(c, dict)]
    kept = [{k: v for k, v in c.items() if k not in RENDERED_FIELDS} for c in containers]
    skeleton = json.dumps({**task, "containerDefinitions": kept}, sort_keys=True, default=str)
    return Identity(family, tuple(str(c.get("name", "")) for c in containers), skeleton)


def _candidates(root: Path) -> list[Path]:
    found: list[Path] = []
    seen = 0
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if d not in SKIPPED_DIRECTORIES)
        seen += len(files)
        if seen > MAX_ENTRIES:
            return found
        for file in sorted(files):
            if file.lower().endswith(SUFFIXES):
                found.append(Path(directory) / file)
                if len(found) >= MAX_FILES:
                    return found
    return found


def find_origin(raw: bytes, name: str, root: Path | None = None) -> Path | None:
    """The repository file `raw` was rendered from, relative to the root; None unless exactly one fits."""
    root = root or workspace()
    if not (root / ".git").exists():
        return None  # not a checkout (a home directory, say): nothing to map back to, nothing to walk
    wanted = identity(raw, name)
    if wanted is None:
        return None
    matches = []
    for path in _candidates(root):
        try:
            if path.stat().st_size > MAX_BYTES:
                continue
            found = identity(path.read_bytes(), path.name)
        except OSError:
            continue
        if found == wanted:
            matches.append(path)
            if len(matches) > 1:
                return None  # several files fit: which one was rendered cannot be told
    return matches[0].relative_to(root) if matches else None
