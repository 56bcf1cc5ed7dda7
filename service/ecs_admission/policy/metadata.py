"""The rule catalogue, read from the METADATA annotations beside the rules (OPA's annotation format).

A rule is declared where it is written:

    # METADATA
    # title: Container root filesystem is writable
    # description: A writable root filesystem lets an intruder change binaries and persist.
    # custom:
    #   id: ECS-HARD-001
    #   severity: medium
    #   enforcement: warn
    #   remediation: Set readonlyRootFilesystem to true ...
    findings contains finding if { ... }

The loader (policy.load_policy_set) turns every such annotation into an entry of `data.ecs.catalog`,
which nobody writes by hand: the decision (admission.rego), `policy list`, GET /v1/policies and
docs/rules.md read it, and the bundle's data.json carries it, so an OPA sidecar decides identically.

What counts as a declaration: an annotation with `custom.id`, or any annotation on a conftest /
Gatekeeper style rule (`deny`, `warn`, `violation`) of a check package (`ecs.checks.NAME`). Such a
rule without an id gets `NAME.RULE` (for example `acme.deny`), the id admission.rego derives for its
messages; an unannotated one is still catalogued under that id, with defaults, so config.yaml can
name it. A package-scope annotation's title names the package's section in docs/rules.md.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from typing import Any

from ecs_admission.policy.data import ENFORCEMENTS, SEVERITIES

CHECKS_PREFIX = "ecs.checks."
# The rules a check package may expose, in the order admission.rego reads them.
CONVENTION_RULES = ("deny", "violation", "warn")
OPTIONAL_CUSTOM = ("id", "severity", "enforcement", "remediation", "docs", "anchors", "beyond_anchors", "fix")
DEFAULT_SEVERITY = "high"
OPA_KEYS = ("scope", "title", "description", "related_resources", "authors", "organizations", "schemas", "entrypoint")
DEFAULT_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html"
_PACKAGE_RE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
_RULE_HEAD_RE = re.compile(r"^([A-Za-z_]\w*)\b")


class MetadataError(ValueError):
    """An annotation cannot become a catalog entry; the message starts with file:line."""


@dataclass(frozen=True)
class Annotation:
    file: str
    line: int  # the `# METADATA` line, 1-based
    target: str  # the annotated rule's name, or "package"
    target_line: int
    fields: dict[str, Any]


def module_package(source: str) -> str:
    match = _PACKAGE_RE.search(source)
    return match.group(1) if match else ""


def check_concern(package: str) -> str | None:
    """`hardening` for `ecs.checks.hardening`; None outside the check packages."""
    return package[len(CHECKS_PREFIX) :] if package.startswith(CHECKS_PREFIX) else None


def _target(lines: list[str], start: int) -> tuple[str, int]:
    for index in range(start, len(lines)):
        text = lines[index]
        if not text.strip() or text.startswith("#"):
            continue
        if text.startswith("package "):
            return "package", index + 1
        match = _RULE_HEAD_RE.match(text)
        return (match.group(1) if match else "?"), index + 1
    return "?", len(lines)


# Text libyaml reads but PyYAML refuses (found by tests/policy/test_metadata_yaml.py): a tab, a
# byte-order mark past the start, a comment straight after a block scalar's indicator (`>-#`);
# and tags (`!`), where an empty one (`! x`) reads as "" in libyaml and as None in PyYAML.
_LENIENT_IN_C = re.compile(r"[\t\ufeff!]|[|>][-+0-9]*#")


def load_yaml(text: str) -> Any:
    """What OPA reads from the policies' YAML: yaml.safe_load's answer, except that a timestamp
    (`expires: 2027-03-31` unquoted) stays the text written, as OPA's own YAML reader keeps it (a
    Python date is no JSON value: it stopped the loader with a traceback).

    Read by libyaml's C parser where that cannot differ from PyYAML's pure one: the pure scanner
    cost most of a policy load (60-70 ms for the shipped set on a cold `check`; libyaml 6-8 ms) and
    the constructors are the same Python ones either way. Where the two could disagree, the pure
    reader decides: text holding what libyaml reads and PyYAML refuses (_LENIENT_IN_C, a
    non-printable character), and any text libyaml refuses, so an error is PyYAML's own words
    (tests/policy/test_metadata_yaml.py holds the two to each other).
    """
    import yaml  # here: a set found in the policy cache (policy/cache.py) needs no YAML

    pure, in_c = yaml_loaders()
    if in_c is not None and not _LENIENT_IN_C.search(text) and not yaml.reader.Reader.NON_PRINTABLE.search(text):
        try:
            return yaml.load(text, Loader=in_c)
        except yaml.YAMLError:
            pass
    return yaml.load(text, Loader=pure)


@functools.cache
def yaml_loaders() -> tuple[Any, Any]:
    """(PyYAML's safe loader, libyaml's or None), both keeping timestamps as the text written."""
    import yaml

    def timestamp_text(loader: Any, node: Any) -> str:
        return loader.construct_scalar(node)

    pure = type("PolicySafeLoader", (yaml.SafeLoader,), {})
    pure.add_constructor("tag:yaml.org,2002:timestamp", timestamp_text)
    if not yaml.__with_libyaml__:
        return pure, None
    in_c = type("PolicyCSafeLoader", (yaml.CSafeLoader,), {})
    in_c.add_constructor("tag:yaml.org,2002:timestamp", timestamp_text)
    return pure, in_c


@functools.lru_cache(maxsize=4096)
def _parsed_yaml(text: str) -> Any:
    return load_yaml(text)


def _metadata_yaml(text: str) -> Any:
    """A METADATA block read as YAML, parsed once per process per distinct text: the policy set is read
    again by every engine build (reload, validate, each app), and its YAML is most of that cost."""
    return copy.deepcopy(_parsed_yaml(text))


def annotations(name: str, source: str) -> list[Annotation]:
    """Every METADATA block of a module (OPA's rule: `# METADATA` at column 1, then the comment
    lines directly below it, `#` stripped, read as YAML), with the rule or package it annotates."""
    import yaml  # here: a set found in the policy cache (policy/cache.py) needs no YAML

    lines = source.splitlines()
    found = []
    index = 0
    while index < len(lines):
        if lines[index].rstrip() != "# METADATA":
            index += 1
            continue
        start = index
        index += 1
        body = []
        while index < len(lines) and lines[index].startswith("#"):
            body.append(lines[index][1:])
            index += 1
        try:
            fields = _metadata_yaml("\n".join(body))
        except yaml.YAMLError as exc:
            from ecs_admission.parsing.safe_yaml import yaml_problem

            # The block starts on the line after `# METADATA`, each line one column in (its `#`):
            # the parser's lines and columns are placed in the .rego file, not in the snippet.
            problem = yaml_problem(exc, line_offset=start + 1, column_offset=1)
            raise MetadataError(f"{name}:{start + 1}: METADATA is not valid YAML: {problem}") from None
        if fields is None:
            fields = {}
        if not isinstance(fields, dict):
            raise MetadataError(f"{name}:{start + 1}: METADATA must be a mapping (title:, custom:, ...)")
        target, target_line = _target(lines, index)
        found.append(Annotation(name, start + 1, target, target_line, fields))
    return found


def _declares_rule(note: Annotation, concern: str | None) -> bool:
    custom = note.fields.get("custom")
    if isinstance(custom, dict) and "id" in custom:
        return True
    return concern is not None and note.target in CONVENTION_RULES and note.fields.get("scope") not in ("package",)


def _entry(note: Annotation, concern: str | None, package_title: str | None) -> tuple[str, dict[str, Any]]:
    where = f"{note.file}:{note.line}"
    unknown = sorted(set(note.fields) - {*OPA_KEYS, "custom"})
    if unknown:
        raise MetadataError(f"{where}: unknown METADATA key {unknown[0]!r}; OPA's are {', '.join(OPA_KEYS)}, custom")
    custom = note.fields.get("custom") or {}
    if not isinstance(custom, dict):
        raise MetadataError(f"{where}: custom must be a mapping")
    unknown = sorted(set(custom) - set(OPTIONAL_CUSTOM))
    if unknown:
        raise MetadataError(f"{where}: unknown key custom.{unknown[0]}; expected {', '.join(OPTIONAL_CUSTOM)}")
    if not note.fields.get("title"):
        raise MetadataError(f"{where}: the annotation of rule {note.target} needs a title")
    rule_id = custom.get("id")
    if rule_id is None:
        rule_id = f"{concern}.{note.target}"
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise MetadataError(f"{where}: custom.id must be a non-empty string")
    default_enforcement = "warn" if note.target == "warn" else "deny"
    entry: dict[str, Any] = {
        "title": note.fields["title"],
        "severity": custom.get("severity", DEFAULT_SEVERITY),
        # YAML reads a bare off as false: it can only have meant off.
        "enforcement": "off" if custom.get("enforcement") is False else custom.get("enforcement", default_enforcement),
        "remediation": custom.get("remediation")
        or f"No remediation is given for this rule: see {note.file}:{note.target_line} (custom.remediation).",
        "docs": custom.get("docs") or _related_docs(note.fields) or DEFAULT_DOCS,
        "anchors": custom.get("anchors", []),
        "package": concern,
        "rego_rule": note.target,
        "source": f"{note.file}:{note.target_line}",
    }
    if custom.get("beyond_anchors"):
        entry["beyond_anchors"] = custom["beyond_anchors"]
    if custom.get("fix"):
        # What the rule's proposed fix does and why it is safe (docs/fixes.md); the fix itself is
        # the `fix` field of the finding the rule builds.
        entry["fix"] = custom["fix"]
    if note.fields.get("description"):
        entry["description"] = note.fields["description"]
    if package_title:
        entry["package_title"] = package_title
    _check_values(where, entry)
    return rule_id, entry


def _related_docs(fields: dict[str, Any]) -> str | None:
    resources = fields.get("related_resources")
    if isinstance(resources, list) and resources:
        first = resources[0]
        ref = first.get("ref") if isinstance(first, dict) else first
        return ref if isinstance(ref, str) else None
    return None


def _check_values(where: str, entry: dict[str, Any]) -> None:
    for key in ("title", "remediation", "docs", "beyond_anchors", "description", "fix"):
        if not isinstance(entry.get(key, ""), str):
            raise MetadataError(f"{where}: {key} must be a string")
    if entry["severity"] not in SEVERITIES:
        raise MetadataError(f"{where}: custom.severity {entry['severity']!r} must be one of {', '.join(SEVERITIES)}")
    if entry["enforcement"] not in ENFORCEMENTS:
        raise MetadataError(
            f"{where}: custom.enforcement {entry['enforcement']!r} must be one of {', '.join(ENFORCEMENTS)}"
        )
    anchors = entry["anchors"]
    if not isinstance(anchors, list) or not all(isinstance(a, str) for a in anchors):
        raise MetadataError(f"{where}: custom.anchors must be a list of strings")


def _undeclared_convention_rules(name: str, source: str, concern: str) -> dict[str, int]:
    """deny / warn / violation rule heads of a check package, with their first line."""
    heads: dict[str, int] = {}
    for number, text in enumerate(source.splitlines(), start=1):
        match = _RULE_HEAD_RE.match(text)
        if match and match.group(1) in CONVENTION_RULES:
            heads.setdefault(match.group(1), number)
    return heads


def build_catalog(modules: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """{rule id: entry} from the modules' annotations; MetadataError naming file:line on a problem."""
    catalog: dict[str, dict[str, Any]] = {}
    declared_at: dict[str, tuple[str, str | None, str]] = {}
    convention_ids: dict[tuple[str, str], set[str]] = {}
    for name, source in modules:
        package = module_package(source)
        concern = check_concern(package)
        if concern is not None and "." in concern:
            raise MetadataError(
                f"{name}:1: package {package}: check packages sit directly under ecs.checks "
                f"(for example ecs.checks.{concern.replace('.', '_')})"
            )
        notes = annotations(name, source)
        package_title = next(
            (n.fields.get("title") for n in notes if n.target == "package" and isinstance(n.fields.get("title"), str)),
            None,
        )
        for note in notes:
            if not _declares_rule(note, concern):
                continue
            rule_id, entry = _entry(note, concern, package_title)
            owner = (concern or "", entry["package"], note.target)
            if rule_id in catalog:
                same_rule = declared_at[rule_id] == owner and note.target in CONVENTION_RULES
                if not same_rule:
                    raise MetadataError(
                        f"{note.file}:{note.line}: rule id {rule_id} is already declared ({catalog[rule_id]['source']})"
                    )
                continue
            catalog[rule_id] = entry
            declared_at[rule_id] = owner
            if concern is not None and note.target in CONVENTION_RULES:
                ids = convention_ids.setdefault((concern, note.target), set())
                ids.add(rule_id)
                if len(ids) > 1:
                    raise MetadataError(
                        f"{note.file}:{note.line}: {package}.{note.target} is annotated with {', '.join(sorted(ids))}:"
                        " a message cannot say which definition produced it; give each id its own package, or"
                        " expose `findings` objects that carry their rule id"
                    )
        if concern is not None:
            for rule, line in _undeclared_convention_rules(name, source, concern).items():
                if (concern, rule) in convention_ids or f"{concern}.{rule}" in catalog:
                    continue
                catalog[f"{concern}.{rule}"] = _default_entry(name, line, concern, rule, package_title)
    return catalog


def _default_entry(name: str, line: int, concern: str, rule: str, package_title: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "title": f"{CHECKS_PREFIX}{concern}.{rule}",
        "severity": DEFAULT_SEVERITY,
        "enforcement": "warn" if rule == "warn" else "deny",
        "remediation": f"See the rule in {name}:{line}; give it a METADATA annotation (title, custom.severity, "
        "custom.remediation) so this says how to fix it.",
        "docs": DEFAULT_DOCS,
        "anchors": [],
        "package": concern,
        "rego_rule": rule,
        "source": f"{name}:{line}",
    }
    if package_title:
        entry["package_title"] = package_title
    return entry
