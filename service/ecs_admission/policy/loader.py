"""The policy set on disk: Rego modules, their tests, and the data documents beside them.

Layout of a policy directory (the shipped one is rego/ in the repository):
- `*.rego` modules, `*_test.rego` their unit tests (never part of a bundle or the revision);
- `NAME.yaml` / `NAME.json` at the top level become `data.ecs.NAME` (for example `config.yaml`
  -> `data.ecs.config`), which is also how the bundle's data.json is laid out;
- `data.ecs.catalog`, the rule catalogue, is generated from the modules' METADATA annotations
  (policy/metadata.py), never written by hand: each rule's metadata lives beside the rule.
The revision is a content hash, so the same directory yields the same revision on every engine.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_admission.config import ConfigError
from ecs_admission.policy.cache import Entry, slot
from ecs_admission.policy.conftest import ConftestConfigError, configured_namespaces, shims
from ecs_admission.policy.data import PolicyDataError, as_json, validate_policy_data
from ecs_admission.policy.metadata import MetadataError, build_catalog, load_yaml, module_package
from ecs_admission.policy.snapshot import PolicyFile, SnapshotError, policy_files

DATA_ROOT = "ecs"
DECISION_PACKAGE = "ecs.admission"
DECISION_RULE = "decision"
DATA_SUFFIXES = (".yaml", ".yml", ".json")
CATALOG = "catalog"
# Documents the engine derives from the data once (engines/embedded.py derived_data): a data file
# may not take their names.
DECISION_TABLE = "decision_table"
# The check packages the modules declare (policy/packages.py), listed by the in-process engine only.
CHECK_PACKAGES = "check_packages"
GENERATED = (DECISION_TABLE, CHECK_PACKAGES)


class PolicyError(RuntimeError):
    """The policy directory cannot be loaded (missing, unreadable, bad data document)."""


@dataclass(frozen=True)
class RegoFile:
    name: str  # path relative to the policy directory, with forward slashes
    source: str


@dataclass(frozen=True)
class PolicySet:
    directory: Path
    modules: tuple[RegoFile, ...]
    tests: tuple[RegoFile, ...]
    data: dict[str, Any]
    revision: str
    data_files: tuple[str, ...] = field(default=())

    @property
    def catalog(self) -> dict[str, Any]:
        catalog = self.data.get(DATA_ROOT, {}).get(CATALOG, {})
        return catalog if isinstance(catalog, dict) else {}


def default_policy_dir() -> Path:
    """The policies shipped with the package: policies/ inside an installed wheel (setuptools
    copies rego/ there), or the repository's rego/ in a source or editable checkout."""
    package_dir = Path(__file__).resolve().parents[1]
    for candidate in (package_dir / "policies", package_dir.parents[1] / "rego"):
        if any(candidate.glob("*.rego")):
            return candidate
    return package_dir / "policies"


def _is_test(path: Path) -> bool:
    return path.name.endswith("_test.rego")


def _load_data_file(path: Path, name: str | None = None) -> Any:
    name = name or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{name}: cannot read: {exc}") from None
    suffix = Path(name).suffix
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"{name}: not valid JSON: {exc}") from None
    # Imported here: a `check` whose set is in the policy cache (policy/cache.py) reads no YAML.
    import yaml

    from ecs_admission.parsing.safe_yaml import yaml_problem

    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{name}: not valid {suffix[1:].upper()}: {yaml_problem(exc)}") from None


def _listed(root: Path) -> list[PolicyFile]:
    """The files to read, through policy/snapshot.py: no link leading out, no loop, within budget."""
    try:
        return policy_files(root)
    except (SnapshotError, ConfigError) as exc:
        raise PolicyError(str(exc)) from None
    except OSError as exc:
        raise PolicyError(f"policy directory {root} cannot be read: {exc.strerror or exc}") from None


def _conftest_shims(modules: list[RegoFile]) -> list[tuple[str, str]]:
    """Generated check packages enforcing conftest/Gatekeeper namespaces (policy/conftest.py)."""
    try:
        namespaces = configured_namespaces()
    except ConftestConfigError as exc:
        raise PolicyError(str(exc)) from None
    return shims({module_package(m.source) for m in modules}, namespaces)


def load_policy_set(directory: Path | None = None, cached: bool = False) -> PolicySet:
    """The policy set in `directory` (the shipped one by default). `cached` (a cold `check`) takes
    what the YAML gives from the policy cache when an entry for exactly these files is there, and
    writes one otherwise (policy/cache.py)."""
    root = Path(directory) if directory is not None else default_policy_dir()
    if not root.is_dir():
        raise PolicyError(f"policy directory {root} does not exist or is not a directory")
    modules: list[RegoFile] = []
    tests: list[RegoFile] = []
    digest = hashlib.sha256()
    files = _listed(root)
    for policy_file in (f for f in files if f.relative.endswith(".rego")):
        relative = policy_file.relative
        try:
            source = policy_file.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{relative}: cannot read: {exc}") from None
        if _is_test(Path(relative)):
            tests.append(RegoFile(relative, source))
        else:
            modules.append(RegoFile(relative, source))
            digest.update(f"module:{relative}\0{source}\0".encode())
    if not modules:
        raise PolicyError(f"policy directory {root} holds no .rego modules")
    for name, source in _conftest_shims(modules):
        modules.append(RegoFile(name, source))
        digest.update(f"module:{name}\0{source}\0".encode())
    top_level = [f for f in files if "/" not in f.relative and Path(f.relative).suffix in DATA_SUFFIXES]
    place = slot([(m.name, m.source) for m in modules], top_level) if cached else None
    found = place.get() if place is not None else None
    if found is not None:
        return PolicySet(
            directory=root,
            modules=tuple(modules),
            tests=tuple(tests),
            data={DATA_ROOT: found.documents},
            revision=found.revision,
            data_files=found.data_files,
        )
    documents: dict[str, Any] = {}
    data_files: list[str] = []
    for policy_file in top_level:
        path = Path(policy_file.relative)
        name = path.stem
        if name in documents:
            raise PolicyError(f"{path.name}: data document {name!r} is defined twice")
        if name in GENERATED:
            raise PolicyError(f"{path.name}: a data document may not be called {name} (the loader writes it)")
        if name == CATALOG:
            raise PolicyError(
                f"{path.name}: rule metadata lives in a METADATA annotation beside each rule now "
                "(docs/writing-rules.md); move each entry there and delete this file"
            )
        documents[name] = _load_data_file(policy_file.path, path.name)
        data_files.append(path.name)
    try:
        documents[CATALOG] = build_catalog([(module.name, module.source) for module in modules])
    except MetadataError as exc:
        raise PolicyError(str(exc)) from None
    # The data files as JSON holds them (the catalogue's METADATA fields are checked one by one).
    for file in data_files:
        name = Path(file).stem
        try:
            documents[name] = as_json(documents[name])
        except PolicyDataError as exc:
            raise PolicyError(f"{file}: {exc}: data must be JSON values (docs/writing-rules.md)") from None
    try:
        validate_policy_data(documents)
    except PolicyDataError as exc:
        raise PolicyError(f"{root.name}/{exc}") from None
    data = {DATA_ROOT: documents}
    digest.update(b"data\0" + json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
    policy = PolicySet(
        directory=root,
        modules=tuple(modules),
        tests=tuple(tests),
        data=data,
        revision=digest.hexdigest()[:16],
        data_files=tuple(data_files),
    )
    if place is not None:
        place.put(Entry(documents, policy.data_files, policy.revision))
    return policy
