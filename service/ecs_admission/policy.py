"""The policy set on disk: Rego modules, their tests, and the data documents beside them.

Layout of a policy directory (the shipped one is rego/ in the repository):
- `*.rego` modules, `*_test.rego` their unit tests (never part of a bundle or the revision);
- `NAME.yaml` / `NAME.json` at the top level become `data.ecs.NAME` (for example `catalog.yaml`
  -> `data.ecs.catalog`), which is also how the bundle's data.json is laid out.
The revision is a content hash, so the same directory yields the same revision on every engine.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .policy_data import PolicyDataError, validate_policy_data

DATA_ROOT = "ecs"
DECISION_PACKAGE = "ecs.admission"
DECISION_RULE = "decision"
DATA_SUFFIXES = (".yaml", ".yml", ".json")


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
        catalog = self.data.get(DATA_ROOT, {}).get("catalog", {})
        return catalog if isinstance(catalog, dict) else {}


# Constructs that OPA accepts but regopy 1.5.2 gets wrong or crashes on (README "Writing and
# testing policies"); refusing them at load keeps both engines' answers identical.
NOT_PORTABLE = (
    (
        re.compile(r"\bwith\s+(input|data)\b"),
        "`with` crashes the embedded engine; call the check function with an explicit document",
    ),
    (
        re.compile(r"\bsprintf\s*\("),
        "sprintf quotes string literals on the embedded engine; build strings with concat and format_int",
    ),
    (
        re.compile(r"\brego\.metadata\."),
        "rego.metadata is undefined on the embedded engine; keep metadata in catalog.yaml",
    ),
    (
        re.compile(r"\btime\.parse_rfc3339_ns\b"),
        "time.parse_rfc3339_ns is undefined on the embedded engine; compare RFC 3339 strings",
    ),
    # Builtins OPA has and regopy 1.5.2 lacks (Interpreter.is_builtin): a call is silently undefined there.
    (
        re.compile(
            r"\b(strings\.render_template|net\.cidr_contains|net\.cidr_merge|net\.lookup_ip_addr"
            r"|json\.verify_schema|json\.match_schema|providers\.aws\.sign_req|http\.send|rego\.parse_module"
            r"|trace|print)\s*\("
        ),
        "this builtin does not exist on the embedded engine (a rule using it is silently undefined there)",
    ),
    (
        re.compile(r"\(\?[imsU]+\)"),
        "regex flags such as (?i) make the expression undefined on the embedded engine; lower() the text instead",
    ),
    (
        re.compile(r"`[^`]*\\[ntr][^`]*`"),
        "\\n, \\t, \\r escapes in a regex never match on the embedded engine; join with a visible separator",
    ),
)


def code_of(line: str) -> str:
    """The line without its comment: a `#` inside a "string" or `raw string` is not one."""
    quote = ""
    escaped = False
    for index, char in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
        elif char in ('"', "`"):
            quote = char
        elif char == "#":
            return line[:index]
    return line


def portability_problems(rego_file: RegoFile) -> list[str]:
    # The whole comment-free text is scanned, so `with` and `input` on separate lines are caught too.
    code = "\n".join(code_of(line) for line in rego_file.source.splitlines())
    problems = []
    for pattern, reason in NOT_PORTABLE:
        for match in pattern.finditer(code):
            problems.append((code.count("\n", 0, match.start()) + 1, reason))
    return [f"{rego_file.name}:{number}: {reason}" for number, reason in sorted(problems)]


_PACKAGE_LINE_RE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
_RULE_HEAD_RE = re.compile(r"^(?:default\s+)?([a-z_][A-Za-z0-9_]*)\b(?=\s*(?:\(|:=|=|\[|\{|contains\b|if\b|else\b|$))")
_BARE_SOME_RE = re.compile(r"\bsome\s+([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?:;|\}|$)")
_NOT_RULES = {"package", "import", "default"}


def shadowing_problems(files: tuple[RegoFile, ...]) -> list[str]:
    """`some x` where x is also a rule of the same package: regopy binds the rule, OPA a new
    variable, so the same body iterates on one engine and silently finds nothing on the other."""
    rules_by_package: dict[str, set[str]] = {}
    packages: dict[str, str] = {}
    for rego_file in files:
        match = _PACKAGE_LINE_RE.search(rego_file.source)
        if not match:
            continue
        packages[rego_file.name] = match.group(1)
        names = rules_by_package.setdefault(match.group(1), set())
        for line in rego_file.source.splitlines():
            head = _RULE_HEAD_RE.match(line)
            if head and head.group(1) not in _NOT_RULES:
                names.add(head.group(1))
    problems = []
    for rego_file in files:
        rules = rules_by_package.get(packages.get(rego_file.name, ""), set())
        for number, line in enumerate(rego_file.source.splitlines(), start=1):
            code = line.split("#", 1)[0]
            for declared in _BARE_SOME_RE.findall(code):
                for name in (part.strip() for part in declared.split(",")):
                    if name in rules:
                        problems.append(
                            f"{rego_file.name}:{number}: `some {name}` shadows the rule {name}: "
                            "the embedded engine binds the rule instead of a new variable; rename the variable"
                        )
    return problems


_FUNCTION_HEAD_RE = re.compile(r"^([a-z_][A-Za-z0-9_]*)\(([^)]*)\)")
_TOP_LEVEL_RE = re.compile(r"^[A-Za-z_]")
_PARAM_INDEX_RE = re.compile(r"(?<=[\w\])])\[\s*([A-Za-z_]\w*)\s*\]")


def parameter_index_problems(rego_file: RegoFile) -> list[str]:
    """`coll[param]` inside a function: in a comprehension regopy treats the parameter as unbound
    and iterates every key, so a lookup silently becomes "any key"; object.get is exact on both."""
    problems = []
    params: set[str] = set()
    for number, line in enumerate(rego_file.source.splitlines(), start=1):
        code = line.split("#", 1)[0]
        if _TOP_LEVEL_RE.match(code):
            head = _FUNCTION_HEAD_RE.match(code)
            params = set(re.findall(r"\b[a-z_][A-Za-z0-9_]*\b", _strip_strings(head.group(2)))) if head else set()
        for name in _PARAM_INDEX_RE.findall(_strip_strings(code)):
            if name in params:
                problems.append(
                    f"{rego_file.name}:{number}: indexing with the function parameter {name} "
                    f"([{name}]) is read as an unbound variable by the embedded engine; use object.get"
                )
    return problems


def _strip_strings(code: str) -> str:
    return re.sub(r'"(?:\\.|[^"\\])*"|`[^`]*`', '""', code)


_NOT_RE = re.compile(r"\bnot\s+(.+)$")
_REF_RE = re.compile(r"\b([a-z_]\w*)((?:\.[A-Za-z_]\w*|\[[^\]]*\])+)")
_IMPORT_RE = re.compile(r"^import\s+data\.([\w.]+?)(?:\s+as\s+(\w+))?\s*$", re.MULTILINE)


def negated_call_problems(rego_file: RegoFile) -> list[str]:
    """`not f(x.y)` / `not x.y in s`: when x.y is undefined OPA makes the whole expression
    undefined (so `not` fails) while regopy makes it true: a rule meant to fire on a missing field
    fires on one engine only. Bind the value with object.get first, then negate."""
    aliases = {"data"}
    for match in _IMPORT_RE.finditer(rego_file.source):
        aliases.add(match.group(2) or match.group(1).rsplit(".", 1)[-1])
    problems = []
    for number, line in enumerate(rego_file.source.splitlines(), start=1):
        negated = _NOT_RE.search(_strip_strings(line.split("#", 1)[0]))
        if not negated:
            continue
        expression = negated.group(1)
        in_call = "(" in expression
        membership = re.match(r"^[a-z_][\w.\[\]]*\s+in\b", expression) is not None
        if not (in_call or membership):
            continue
        for ref in _REF_RE.finditer(expression):
            head, _path = ref.group(1), ref.group(2)
            if expression[ref.end() :].lstrip().startswith("(") or head in aliases:
                continue  # a call (lib.f(...), object.get(...)), or a rule of an imported package
            if True:
                problems.append(
                    f"{rego_file.name}:{number}: `not` over a call or `in` with the reference {head}{_path}: "
                    "if it is undefined OPA and the embedded engine disagree, so bind it with object.get first"
                )
                break
    return problems


def comprehension_head_problems(rego_file: RegoFile) -> list[str]:
    """A comprehension head that mentions the enclosing function's parameter (`f(c) := [c | ...]`,
    `{k: g(k, c) | ...}`) comes out empty on regopy and right on OPA: bind it in the body instead."""
    problems = []
    regions: list[tuple[int, set[str], list[str]]] = []
    for number, line in enumerate(rego_file.source.splitlines(), start=1):
        code = _strip_strings(line.split("#", 1)[0])
        if _TOP_LEVEL_RE.match(code):
            head = _FUNCTION_HEAD_RE.match(code)
            params = set(re.findall(r"\b[a-z_][A-Za-z0-9_]*\b", head.group(2))) if head else set()
            regions.append((number, params, []))
        if regions:
            regions[-1][2].append(code)
    for first_line, params, lines in regions:
        if not params:
            continue
        text = "\n".join(lines)
        stack: list[list] = []  # [opening char, start offset, bar seen]
        for offset, char in enumerate(text):
            if char in "[{(":
                stack.append([char, offset, False])
            elif char in "]})" and stack:
                stack.pop()
            elif char == "|" and stack and stack[-1][0] in "[{" and not stack[-1][2]:
                stack[-1][2] = True
                comprehension_head = text[stack[-1][1] + 1 : offset]
                used = {m for m in re.findall(r"(?<![\w.])([a-z_]\w*)\b", comprehension_head) if m in params}
                if used:
                    number = first_line + text[:offset].count("\n")
                    name = sorted(used)[0]
                    problems.append(
                        f"{rego_file.name}:{number}: the comprehension head uses the function parameter {name}: "
                        "the embedded engine then returns an empty collection; bind it in the body"
                    )
    return problems


def arity_problems(files: tuple[RegoFile, ...]) -> list[str]:
    """The same function name with different arities in two packages makes regopy fail to
    compile ("Unable to unify due to cycle") and can crash the process: refuse it with both places."""
    seen: dict[str, dict[int, str]] = {}
    for rego_file in files:
        for number, line in enumerate(rego_file.source.splitlines(), start=1):
            head = _FUNCTION_HEAD_RE.match(line.split("#", 1)[0])
            if head:
                arity = len([p for p in head.group(2).split(",") if p.strip()])
                seen.setdefault(head.group(1), {}).setdefault(arity, f"{rego_file.name}:{number}")
    return [
        f"function {name} is defined with {len(places)} different arities ({', '.join(places.values())}): "
        "the embedded engine cannot compile that; rename one"
        for name, places in sorted(seen.items())
        if len(places) > 1
    ]


CHECKS_PREFIX = "ecs.checks."
CHECK_PACKAGES_KEY = "check_packages"
DECISION_TABLE_KEY = "decision_table"
# Documents the loader writes into data.ecs: a data file may not take their names.
RESERVED_DATA_KEYS = (CHECK_PACKAGES_KEY, DECISION_TABLE_KEY)


def check_packages(modules: list[RegoFile], catalog: Any = None) -> list[str]:
    """The ecs.checks.* packages of the modules and those the catalogue names, handed to the
    policies as data.ecs.check_packages: the decision then reads each by name (enumerating
    data.ecs.checks costs far more on the embedded engine), still collects a package nobody listed
    anywhere, and reports a catalogued one that is missing (ECS-POLICY-001)."""
    found = set()
    for module in modules:
        match = _PACKAGE_LINE_RE.search(module.source)
        if match and match.group(1).startswith(CHECKS_PREFIX):
            found.add(match.group(1)[len(CHECKS_PREFIX) :].split(".", 1)[0])
    if isinstance(catalog, dict):
        found.update(
            entry["package"]
            for entry in catalog.values()
            if isinstance(entry, dict) and isinstance(entry.get("package"), str)
        )
    return sorted(found)


# Mirrors rule_table / rule_setting / placement_bucket in admission.rego, which computes the same
# table when a bundle lacks this document (tests/test_decision_table.py holds them equal).
NO_ENTRY_REMEDIATION = "This rule has no catalog entry; add one to catalog.yaml."
DEFAULT_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html"


def placement_bucket(level: Any) -> str:
    """Where a rule's findings go without an exemption: anything but "warn" or "off" denies."""
    return "off" if level == "off" else "warnings" if level == "warn" else "violations"


def decision_table(catalog: Any, config: Any) -> dict[str, Any]:
    """{rule id: {bucket, meta}}: the catalogue joined with config.yaml's global enforcement map,
    handed to the policies as data.ecs.decision_table.table. Pure data, worked out once at load rather
    than on every decision (it cost the embedded engine milliseconds per decision); per-family
    overrides and exemptions depend on the task and stay in admission.rego."""
    catalog = catalog if isinstance(catalog, dict) else {}
    levels = config.get("enforcement") if isinstance(config, dict) else None
    levels = levels if isinstance(levels, dict) else {}
    table = {}
    for rule, entry in catalog.items():
        if not isinstance(entry, dict):
            continue
        level = levels.get(rule, entry.get("enforcement", "deny"))
        table[rule] = {
            "bucket": placement_bucket(level),
            "meta": {
                "severity": entry.get("severity", "high"),
                "title": entry.get("title", rule),
                "remediation": entry.get("remediation", NO_ENTRY_REMEDIATION),
                "docs": entry.get("docs", DEFAULT_DOCS),
                "enforcement": level,
            },
        }
    return table


def default_policy_dir() -> Path:
    """The policies shipped with the package: policies/ inside an installed wheel (setuptools
    copies rego/ there), or the repository's rego/ in a source or editable checkout."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "policies", package_dir.parents[1] / "rego"):
        if any(candidate.glob("*.rego")):
            return candidate
    return package_dir / "policies"


def _is_test(path: Path) -> bool:
    return path.name.endswith("_test.rego")


def _load_data_file(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path.name}: not valid {path.suffix[1:].upper()}: {exc}") from None


def load_policy_set(directory: Path | None = None) -> PolicySet:
    root = Path(directory) if directory is not None else default_policy_dir()
    if not root.is_dir():
        raise PolicyError(f"policy directory {root} does not exist or is not a directory")
    modules: list[RegoFile] = []
    tests: list[RegoFile] = []
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.rego")):
        relative = path.relative_to(root).as_posix()
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{relative}: cannot read: {exc}") from None
        if _is_test(path):
            tests.append(RegoFile(relative, source))
        else:
            modules.append(RegoFile(relative, source))
            digest.update(f"module:{relative}\0{source}\0".encode())
    if not modules:
        raise PolicyError(f"policy directory {root} holds no .rego modules")
    problems = [problem for rego_file in (*modules, *tests) for problem in portability_problems(rego_file)]
    problems += shadowing_problems((*modules, *tests))
    problems += arity_problems((*modules, *tests))
    problems += [problem for rego_file in (*modules, *tests) for problem in comprehension_head_problems(rego_file)]
    problems += [problem for rego_file in (*modules, *tests) for problem in negated_call_problems(rego_file)]
    problems += [problem for rego_file in (*modules, *tests) for problem in parameter_index_problems(rego_file)]
    if problems:
        raise PolicyError("policies use constructs the engines disagree on: " + "; ".join(problems))
    documents: dict[str, Any] = {}
    data_files: list[str] = []
    for path in sorted(p for p in root.iterdir() if p.is_file() and p.suffix in DATA_SUFFIXES):
        name = path.stem
        if name in documents:
            raise PolicyError(f"{path.name}: data document {name!r} is defined twice")
        documents[name] = _load_data_file(path)
        data_files.append(path.name)
    try:
        validate_policy_data(documents)
    except PolicyDataError as exc:
        raise PolicyError(f"{root.name}/{exc}") from None
    for reserved in RESERVED_DATA_KEYS:
        if reserved in documents:
            raise PolicyError(f"{root.name}: a data document may not be called {reserved} (the loader writes it)")
    documents[CHECK_PACKAGES_KEY] = check_packages(modules, documents.get("catalog"))
    # Marked, so admission.rego can tell it from a catalogue without comparing the two.
    documents[DECISION_TABLE_KEY] = {
        "precomputed": True,
        "table": decision_table(documents.get("catalog"), documents.get("config")),
    }
    data = {DATA_ROOT: documents}
    digest.update(b"data\0" + json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
    return PolicySet(
        directory=root,
        modules=tuple(modules),
        tests=tuple(tests),
        data=data,
        revision=digest.hexdigest()[:16],
        data_files=tuple(data_files),
    )
