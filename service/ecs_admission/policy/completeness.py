"""A policy set is whole, or it is refused (docs/hardening.md "Whole policy sets").

A deploy that copies files one by one leaves, for a moment, a directory holding only some of them:
`admission.rego` and `config.yaml` alone compile, decide, and allow everything. Every door that
accepts a set (start-up, poll and SIGHUP reloads, `check --policy-dir`, `reload validate`) asks
`check_whole` first:

- the set has at least one check package (`package ecs.checks.<name>`);
- every module's package is one the gate evaluates: under `ecs`, or a conftest/Gatekeeper namespace
  listed in ECS_ADMISSION_CONFTEST_NAMESPACES (policy/conftest.py); anything else would be ignored
  without a word, so it is refused;
- against the set it replaces (reloads): no rule id of the running set disappears unless the new
  set names it in `retired-rules.txt` at its top level, one rule id per line (`#` starts a comment).
  The file is the deliberate marker: a reviewed line in the same commit that deletes the rule.

That the set's own Rego tests pass is checked where they run (engines/selfcheck.py and reload
validation), with the set's compile.
"""

from __future__ import annotations

from pathlib import Path

from ecs_admission.policy.conftest import configured_namespaces, foreign_package_problem
from ecs_admission.policy.loader import PolicySet
from ecs_admission.policy.metadata import check_concern, module_package

RETIRED_FILE = "retired-rules.txt"
MAX_LISTED = 8


class IncompletePolicySet(ValueError):
    """The set is not whole: say what is missing and how to fix it."""


def retired_rules(directory: Path) -> frozenset[str]:
    """The rule ids `retired-rules.txt` names (empty when there is no such file)."""
    path = Path(directory) / RETIRED_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return frozenset()
    except (OSError, UnicodeDecodeError) as exc:
        raise IncompletePolicySet(f"{RETIRED_FILE}: cannot read: {exc}") from None
    ids = set()
    for line in text.splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            ids.add(word)
    return frozenset(ids)


def check_packages(policy: PolicySet) -> list[str]:
    return sorted({concern for m in policy.modules if (concern := check_concern(module_package(m.source))) is not None})


def check_whole(policy: PolicySet, running: PolicySet | None = None) -> None:
    """Raise IncompletePolicySet unless `policy` is a whole set (and keeps `running`'s rules)."""
    namespaces = configured_namespaces()
    for module in policy.modules:
        problem = foreign_package_problem(module.name, module_package(module.source), namespaces)
        if problem:
            raise IncompletePolicySet(problem)
    if not check_packages(policy):
        raise IncompletePolicySet(
            f"no check package (package ecs.checks.<name>) among {len(policy.modules)} module(s): "
            "a partial copy of the policy directory would allow everything, so it is refused"
        )
    if running is None:
        return
    gone = sorted(set(running.catalog) - set(policy.catalog) - retired_rules(policy.directory))
    if gone:
        shown = ", ".join(gone[:MAX_LISTED]) + (f" and {len(gone) - MAX_LISTED} more" if len(gone) > MAX_LISTED else "")
        raise IncompletePolicySet(
            f"{len(gone)} rule(s) of the running set are missing: {shown}; to retire a rule on purpose, "
            f"list its id in {RETIRED_FILE} at the top of the policy directory"
        )
