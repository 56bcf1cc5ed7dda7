"""The check packages of a policy set, read once off the modules' package statements.

admission.rego evaluates every package under data.ecs.checks. Asked as `data.ecs.checks[concern]`,
OPA has to evaluate every rule of every check package (helpers included) just to learn which
packages exist, per request: most of a decision's evaluation (docs/performance.md). Which packages
exist changes only with the modules, so the engine works the list out when it loads them and hands
it over as data.ecs.check_packages; the decision still adds every package the catalogue names.

The list is given only when it is certain. A module whose package statement is not a plain dotted
name, a module in package `ecs` or `ecs.checks` (a rule there may define a check package through
its head, `checks.acme.deny contains ...`), or a data document called `checks` makes the answer
None: the decision then enumerates data.ecs.checks itself, as it does for a bundle (which may hold
modules added by hand, and so never carries the list). tests/policy/test_packages.py holds this
reading to OPA's own parser (rego.parse_module).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ecs_admission.policy.loader import DATA_ROOT, RegoFile

CHECKS = ("ecs", "checks")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PACKAGE = re.compile(rf"package[ \t]+({_NAME}(?:\.{_NAME})*)[ \t]*(?:#.*)?")
# A package that may hold rules whose heads reach into data.ecs.checks.
_ABOVE_CHECKS = (("ecs",), CHECKS)


def package_path(source: str) -> tuple[str, ...] | None:
    """The module's package as path segments below data, or None unless it is plainly written.

    The package statement is a module's first statement: only blank and comment lines come before it.
    """
    for line in source.splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        match = _PACKAGE.fullmatch(text)
        if match is None:
            return None
        path = tuple(match.group(1).split("."))
        return None if path[0] == "data" else path
    return None


def check_packages(modules: Iterable[RegoFile], data: dict[str, Any]) -> list[str] | None:
    """The concern of every ecs.checks.<concern> package the modules declare, or None when unsure."""
    documents = data.get(DATA_ROOT)
    if not isinstance(documents, dict) or "checks" in documents:
        return None  # data.ecs.checks as a data document: its keys are packages too
    concerns: set[str] = set()
    for module in modules:
        path = package_path(module.source)
        if path is None or path in _ABOVE_CHECKS:
            return None
        if path[:2] == CHECKS and len(path) > 2:
            concerns.add(path[2])
    return sorted(concerns)
