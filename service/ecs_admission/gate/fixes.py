"""Fixes: the JSON Patch a rule proposes with its finding, in the document as it was submitted.

A check rule may put `fix` on its finding: RFC 6902 operations against the normalised task
definition, built from the paths the rule already knows (docs/fixes.md). Here they are checked,
moved to where the task definition sits in the submitted document (the request's `root`, or the
template resource's properties), and combined into the one patch the CLI applies and the HTTP
answer carries. A fix that is malformed or cannot be placed is dropped from its finding, which
stays: the gate never hides a finding because its fix is broken.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import Any

from ecs_admission.decision import Decision, Finding
from ecs_admission.inputs.patch import PatchError, combine, join_pointer, prefixed, validate

log = logging.getLogger(__name__)

FIX = "fix"


# Fields whose values the gate never repeats (report/redaction.py): a `test` of one would echo a
# secret into the answer and the decision record, so it is left out of the fix.
SECRET_FIELDS = frozenset({"environment", "secrets", "secretOptions", "repositoryCredentials"})


def _echoes_secret(op: dict[str, Any]) -> bool:
    return op["op"] == "test" and not SECRET_FIELDS.isdisjoint(op["path"].split("/"))


def proposed(finding: Finding) -> list[dict[str, Any]] | None:
    """The finding's fix as checked operations, or None when it has none (or a malformed one)."""
    raw = finding.extra.get(FIX)
    if raw is None:
        return None
    try:
        ops = [op for op in validate(raw) if not _echoes_secret(op)]
    except PatchError as exc:
        log.warning("rule %s proposed a malformed fix, dropped: %s", finding.rule, exc)
        return None
    return ops or None


def _with_fix(finding: Finding, ops: list[dict[str, Any]] | None) -> Finding:
    extra = {k: v for k, v in finding.extra.items() if k != FIX}
    if ops is not None:
        extra[FIX] = ops
    return dataclasses.replace(finding, extra=extra)


def relocate(
    findings: Iterable[Finding], translate: Callable[[dict[str, Any]], dict[str, Any] | None]
) -> list[Finding]:
    """Each finding with its fix's operations passed through `translate` (None drops the whole fix)."""
    moved = []
    for finding in findings:
        if FIX not in finding.extra:
            moved.append(finding)
            continue
        ops = proposed(finding)
        if ops is not None:
            translated = [translate(op) for op in ops]
            ops = None if any(op is None for op in translated) else [op for op in translated if op]
        moved.append(_with_fix(finding, ops or None))
    return moved


def under_root(root: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """Operations on the normalised task definition, moved under `root` in the submitted document."""

    def translate(op: dict[str, Any]) -> dict[str, Any] | None:
        return (prefixed([op], lambda pointer: root + pointer) or [None])[0]

    return translate


def in_template(logical_id: str, template_pointer: Callable[[str], str]) -> Callable[[dict[str, Any]], Any]:
    """Operations on a template's task definition, moved to the resource's properties in the template.

    A template holds expressions (`!Ref`, `Fn::If`, strings CloudFormation converts) where the rule saw
    resolved values, so `test` operations are left out; a path that resolves outside the resource's
    Properties (a parameter default, a mapping) or a value with object keys (PascalCase there) cannot
    be placed, and the fix is not offered.
    """
    properties = join_pointer(["Resources", logical_id, "Properties"])

    def translate(op: dict[str, Any]) -> dict[str, Any] | None:
        if op["op"] == "test":
            return {}
        if isinstance(op.get("value"), dict) or (
            isinstance(op.get("value"), list) and any(isinstance(v, dict | list) for v in op["value"])
        ):
            return None
        moved = dict(op)
        for key in ("path", "from"):
            if key in op:
                target = template_pointer(op[key])
                if not target.startswith(properties + "/"):
                    return None
                moved[key] = target
        return moved

    return translate


def fixes_of(decision: Decision) -> list[tuple[Finding, list[dict[str, Any]]]]:
    """The findings a fix is proposed for: violations and warnings (an exempted finding is left alone)."""
    found = []
    for finding in [*decision.violations, *decision.warnings]:
        ops = proposed(finding)
        if ops:
            found.append((finding, ops))
    return found


def combined_patch(decisions: Iterable[Decision]) -> list[dict[str, Any]]:
    """One RFC 6902 patch applying every proposed fix of the decisions to the submitted document."""
    return combine([ops for decision in decisions for _, ops in fixes_of(decision)])
