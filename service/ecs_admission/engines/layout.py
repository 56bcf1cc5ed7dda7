"""How the embedded engine splits a policy set into plans: one per check package, one for the decision.

regopy's every evaluation step costs more the larger the compiled policy set is, so evaluating
each check package's `findings` in a plan holding only that package and the shared library, then
admission.rego's `findings_decision` over their results, takes about half the time of one plan
for `data.ecs.admission.decision` (README "Performance"). It gives the same answer only while:

- the decision is admission.rego's composition: `decision`, `package_findings` and
  `findings_decision` read exactly as shipped, so both entry points go through `decision_for`;
- no module outside ecs.admission reads another check package or admission (or enumerates
  `data`), so each package's plan holds everything its rules can see.

Anything else gets one plan for the whole set, the way OPA evaluates it; `split_layout` says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..policy import CHECK_PACKAGES_KEY, CHECKS_PREFIX, DATA_ROOT, DECISION_PACKAGE, PolicySet, RegoFile, code_of

FINDINGS_DECISION_RULE = "findings_decision"

# The rules that make the two entry points one decision, whitespace-normalised.
CANONICAL_RULES = {
    "decision": "decision := decision_for(package_findings, input)",
    FINDINGS_DECISION_RULE: "findings_decision := decision_for(input.package_findings, input.document)",
    "package_findings": (
        "package_findings := {concern: found | some concern in check_packages "
        "found := data.ecs.checks[concern].findings findings_collection(found) }"
    ),
}

_PACKAGE_RE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
_RULE_START_RE = re.compile(r"^(?:default\s+)?([A-Za-z_]\w*)\b")
# References that can reach beyond a check package's own plan: another check package, the
# decision package, or the data tree enumerated by key.
_REACH_RE = re.compile(r"\bdata\.ecs\.checks\.(\w+)|\bdata\.ecs\.admission\b|\bdata\.ecs\s*\[|\bdata\s*\[")
_BARE_IMPORT_RE = re.compile(r"^\s*import\s+data(?:\.ecs|\.ecs\.checks)?\s*(?:as\s+\w+\s*)?$", re.MULTILINE)


@dataclass(frozen=True)
class Plan:
    entrypoint: str  # "ecs/checks/trust/findings"
    modules: tuple[RegoFile, ...]
    concern: str | None = None  # the check package, None for the decision plan


@dataclass(frozen=True)
class SplitLayout:
    checks: tuple[Plan, ...]
    decision: Plan


def _code(module: RegoFile) -> str:
    return "\n".join(code_of(line) for line in module.source.splitlines())


def package_of(module: RegoFile) -> str:
    match = _PACKAGE_RE.search(_code(module))
    return match.group(1) if match else ""


def rule_texts(module: RegoFile) -> dict[str, list[str]]:
    """{rule name: [each definition's text, whitespace-normalised]} for the module's top-level rules."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    name = ""
    for line in [*_code(module).splitlines(), "#end"]:
        starts = line[:1].isalpha() or line.startswith("#end")
        if starts and current:
            found.setdefault(name, []).append(" ".join(" ".join(current).split()))
            current = []
        if starts:
            match = _RULE_START_RE.match(line)
            name = match.group(1) if match else ""
            if name in ("package", "import"):
                name = ""
                continue
            current = [line]
        elif current:
            current.append(line.replace(";", " "))
    return found


def _is_under(package: str, root: str) -> bool:
    return package == root or package.startswith(root + ".")


def split_layout(policy: PolicySet) -> SplitLayout | str:
    """The per-package plans for `policy`, or why it must be evaluated as one plan."""
    concerns = policy.data.get(DATA_ROOT, {}).get(CHECK_PACKAGES_KEY) if isinstance(policy.data, dict) else None
    if not isinstance(concerns, list) or not all(isinstance(c, str) and c.isidentifier() for c in concerns):
        return "data.ecs.check_packages is missing or malformed"
    admission, checks, shared = [], {c: [] for c in concerns}, []
    for module in policy.modules:
        package = package_of(module)
        if _is_under(package, DECISION_PACKAGE):
            admission.append(module)
        elif package.startswith(CHECKS_PREFIX):
            concern = package[len(CHECKS_PREFIX) :].split(".", 1)[0]
            if concern not in checks:
                return f"{module.name}: package {package} is not in data.ecs.check_packages"
            checks[concern].append(module)
        else:
            shared.append(module)
    definitions: dict[str, list[str]] = {}
    for module in admission:
        for name, texts in rule_texts(module).items():
            definitions.setdefault(name, []).extend(texts)
    for name, canonical in CANONICAL_RULES.items():
        if definitions.get(name) != [canonical]:
            return f"{DECISION_PACKAGE}.{name} is not admission.rego's own definition"
    for concern, modules in [(None, shared), *checks.items()]:
        for module in modules:
            code = _code(module)
            reached = [m.group(1) or "" for m in _REACH_RE.finditer(code)]
            if any(target != concern for target in reached) or _BARE_IMPORT_RE.search(code):
                return f"{module.name} reads data beyond its own package (another check package, or admission)"
    # The shipped decision reads only data documents; a shared package it does read goes with it.
    admission_code = "\n".join(_code(module) for module in admission)
    bare_import = _BARE_IMPORT_RE.search(admission_code) is not None
    read_by_admission = tuple(
        module
        for module in shared
        if bare_import or re.search(rf"\bdata\.{re.escape(package_of(module))}\b", admission_code)
    )
    return SplitLayout(
        checks=tuple(
            Plan(f"ecs/checks/{concern}/findings", (*modules, *shared), concern) for concern, modules in checks.items()
        ),
        decision=Plan(
            f"{DECISION_PACKAGE.replace('.', '/')}/{FINDINGS_DECISION_RULE}", (*admission, *read_by_admission)
        ),
    )
