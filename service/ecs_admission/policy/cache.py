"""What loading a policy set works out from YAML (the catalogue from METADATA, the data documents),
kept on disk for the next cold `check` of the same set.

A `check` reads the same policy set every time, yet read its METADATA and data YAML afresh in each
process (and imported PyYAML for it) before OPA could start compiling. The loader's answer is a
function of: every module's name and text (conftest shims included), every top-level data file's
name and text, the code that reads them (this package's loader, METADATA, data and conftest
modules, the YAML reader) and PyYAML itself. The entry is keyed by the SHA-256 of all of it, so an
entry is only ever found for exactly the inputs it was made from.

Fail closed: an entry is used only if it parses, names its own key, its payload matches the
checksum it carries, has the shapes the loader makes, and it and its directory belong to this user
and are writable by no one else. Anything else is a miss: the set is read from the files (and any
error in it reported) as without a cache. Only a set that loaded without error is written; writes
go to a temporary file renamed into place, so concurrent checks see a whole entry or none.

ECS_ADMISSION_POLICY_CACHE: the directory (default `$XDG_CACHE_HOME/ecs-admission/policy`, else
`~/.cache/ecs-admission/policy`), or `off`. Used by `check` only (docs/performance.md).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecs_admission.config import env_setting

CACHE_ENV = "ECS_ADMISSION_POLICY_CACHE"
FORMAT = 1
KEEP = 16  # entries kept: one per policy revision a user checks against
OFF = frozenset({"off", "0", "false", "no"})
_HERE = Path(__file__).resolve().parent
# The code whose answer is cached: a change to any of it is a different key.
_CODE = (
    _HERE / "loader.py",
    _HERE / "metadata.py",
    _HERE / "data.py",
    _HERE / "catalogue.py",
    _HERE / "conftest.py",
    _HERE / "cache.py",
    _HERE.parent / "parsing" / "safe_yaml.py",
)


def cache_dir(env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    raw = env_setting(env, CACHE_ENV)
    if raw is not None:
        return None if raw.strip().lower() in OFF else Path(raw)
    base = env_setting(env, "XDG_CACHE_HOME")
    if base is None:
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):
            return None
    return Path(base) / "ecs-admission" / "policy"


def _yaml_identity(digest: Any) -> bool:
    """PyYAML's own files (its version, and whether libyaml's extension is there), without importing it."""
    spec = importlib.util.find_spec("yaml")
    if spec is None or not spec.origin:
        return False
    package = Path(spec.origin).parent
    digest.update(Path(spec.origin).read_bytes())
    for entry in sorted(os.scandir(package), key=lambda e: e.name):
        if entry.is_file():
            digest.update(f"{entry.name}\0{entry.stat().st_size}\0".encode())
    return True


@dataclass(frozen=True)
class Entry:
    documents: dict[str, Any]
    data_files: tuple[str, ...]
    revision: str


@dataclass(frozen=True)
class Slot:
    """Where the entry for one policy set's inputs lives."""

    directory: Path
    key: str

    @property
    def path(self) -> Path:
        return self.directory / f"{self.key}.json"

    def get(self) -> Entry | None:
        try:
            if not (_private(self.directory) and _private(self.path)):
                return None
            stored = json.loads(self.path.read_bytes())
        except (OSError, ValueError, RecursionError):
            return None
        return _entry(stored, self.key)

    def put(self, entry: Entry) -> None:
        import tempfile  # on a miss only (it loads shutil and random)

        payload = {"documents": entry.documents, "data_files": list(entry.data_files), "revision": entry.revision}
        try:
            # Only what JSON gives back unchanged (the loader's documents are JSON already,
            # policy/data.py as_json; a set that somehow is not is read from its files instead).
            if json.loads(json.dumps(payload)) != payload:
                return
            stored = {"format": FORMAT, "key": self.key, "sha256": _checksum(payload), "payload": payload}
            text = json.dumps(stored, separators=(",", ":"))
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not _private(self.directory):
                return
            with tempfile.NamedTemporaryFile(
                "w", dir=self.directory, prefix=".tmp-", suffix=".part", delete=False
            ) as handle:
                written = Path(handle.name)
                try:
                    handle.write(text)
                except BaseException:
                    handle.close()
                    written.unlink(missing_ok=True)
                    raise
            try:
                os.replace(written, self.path)
            except OSError:
                written.unlink(missing_ok=True)
                raise
            _prune(self.directory)
        except (OSError, TypeError, ValueError, RecursionError):
            return  # a cache that cannot be written is only slower


def slot(
    modules: Sequence[tuple[str, str]], data_files: Sequence[Any], env: Mapping[str, str] | None = None
) -> Slot | None:
    """The slot for these modules (name, text) and top-level data files (PolicyFile), or None when
    caching is off or any input cannot be read (the loader then reads and reports as usual)."""
    directory = cache_dir(env)
    if directory is None:
        return None
    digest = hashlib.sha256(f"ecs-admission policy cache {FORMAT}\0".encode())
    try:
        for code in _CODE:
            digest.update(code.read_bytes())
        if not _yaml_identity(digest):
            return None
        for name, source in modules:
            digest.update(f"module\0{name}\0{len(source)}\0{source}\0".encode())
        for data_file in data_files:
            raw = data_file.path.read_bytes()
            digest.update(f"data\0{data_file.relative}\0{len(raw)}\0".encode() + raw + b"\0")
    except (OSError, ValueError):
        return None
    return Slot(directory, digest.hexdigest())


def _checksum(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _entry(stored: Any, key: str) -> Entry | None:
    if not isinstance(stored, dict) or stored.get("format") != FORMAT or stored.get("key") != key:
        return None
    payload = stored.get("payload")
    if not isinstance(payload, dict) or stored.get("sha256") != _checksum(payload):
        return None
    documents, data_files, revision = payload.get("documents"), payload.get("data_files"), payload.get("revision")
    if not isinstance(documents, dict) or not isinstance(documents.get("catalog"), dict):
        return None
    if not isinstance(data_files, list) or not all(isinstance(name, str) for name in data_files):
        return None
    if not isinstance(revision, str) or not revision:
        return None
    return Entry(documents, tuple(data_files), revision)


def _private(path: Path) -> bool:
    """Owned by this user and writable by no one else (no link followed to somewhere else)."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return False
    owner = getattr(os, "getuid", None)
    if owner is not None and info.st_uid != owner():
        return False
    return not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _prune(directory: Path) -> None:
    entries = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)
