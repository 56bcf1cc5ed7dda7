"""Apply the fixes the rules propose: to a file (`ecs-admission fix`) and as a test of the rules
(`ecs-admission policy test --fixes`).

One round: the combined patch of the submitted document's decision is applied once and the result
decided again. The HTTP answer's `patch` is that same combined patch, so applying it with any
RFC 6902 library gives exactly the document the CLI writes.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ecs_admission.decision import Decision, Finding
from ecs_admission.gate import Gate
from ecs_admission.gate.fixes import combined_patch, fixes_of
from ecs_admission.gate.templates import decide_template
from ecs_admission.inputs import normalise, parse_file_bytes
from ecs_admission.inputs.cloudformation import is_template, load_template
from ecs_admission.inputs.patch import PatchError, apply
from ecs_admission.inputs.rewrite import Rewritten, rewrite


def decide_document(gate: Gate, document: Any, dry_run: bool | None = False) -> list[tuple[str | None, Decision]]:
    """Every decision a parsed document gives: one, or one per template task definition (logical id).

    InputError for a document the gate does not accept; EngineError when the engine cannot decide.
    """
    if is_template(document):
        judged = decide_template(gate, load_template(document, gate.default_context), dry_run=dry_run)
        return [(logical_id, decision) for logical_id, decision in judged.results]
    return [(None, gate.decide(normalise(document), dry_run=dry_run))]


def label(logical_id: str | None, finding: Finding) -> str:
    where = f"{logical_id}: " if logical_id else ""
    return f"{finding.rule} {where}{finding.path}: {finding.message}"


@dataclass
class FixResult:
    patch: list[dict[str, Any]]
    fixed: Any  # the patched document (parsed)
    written: Rewritten  # the patched file's text
    applied: list[str] = field(default_factory=list)  # one line per finding a fix was applied for
    remaining: list[str] = field(default_factory=list)  # violations the fixed document still has

    @property
    def changed(self) -> bool:
        return bool(self.patch)


def fix_file(gate: Gate, raw: bytes, name: str) -> FixResult:
    """The file with every proposed fix applied, and what still denies afterwards.

    InputError for bad input, EngineError when the engine cannot decide, PatchError when a rule's
    fix does not apply to the document it was proposed for (a policy bug: nothing is written).
    """
    document = parse_file_bytes(raw, name)
    before = decide_document(gate, document)
    patch = combined_patch(decision for _, decision in before)
    applied = [label(logical_id, f) for logical_id, decision in before for f, _ in fixes_of(decision)]
    if not patch:
        written, fixed = Rewritten(raw.decode("utf-8-sig")), document
    else:
        fixed = apply(copy.deepcopy(document), patch)
        written = rewrite(raw, name, patch, fixed)
    after = decide_document(gate, parse_file_bytes(written.text.encode(), name)) if patch else before
    remaining = [label(logical_id, f) for logical_id, decision in after for f in decision.violations]
    return FixResult(patch, fixed, written, applied, remaining)


@dataclass
class FixCheck:
    """One proposed fix tried on its own (or, with `finding` None, all of a document's fixes at once)."""

    source: str
    finding: str | None
    passed: bool
    detail: str = ""


def _counts(decisions: list[tuple[str | None, Decision]]) -> Counter[str]:
    return Counter(f.rule for _, d in decisions for f in [*d.violations, *d.warnings])


def _denials(decisions: list[tuple[str | None, Decision]]) -> Counter[str]:
    return Counter(f.rule for _, d in decisions for f in d.violations)


def _judge(gate: Gate, document: Any, ops: list[dict[str, Any]]) -> tuple[list[tuple[str | None, Decision]], str]:
    try:
        patched = apply(copy.deepcopy(document), ops)
    except PatchError as exc:
        return [], f"the fix does not apply: {exc}"
    return decide_document(gate, patched), ""


def check_fixes(gate: Gate, source: str, document: Any) -> list[FixCheck]:
    """Every fix proposed for the document, applied alone: its finding must go (one fewer of its rule)
    and no rule may find more than before; then all of them together, which must leave nothing to fix
    (so fixing the fixed document changes nothing)."""
    before = decide_document(gate, document)
    counts, denials = _counts(before), _denials(before)
    checks = []
    for logical_id, decision in before:
        for finding, ops in fixes_of(decision):
            after, problem = _judge(gate, document, ops)
            if not problem:
                now = _counts(after)
                grown = sorted(rule for rule, n in _denials(after).items() if n > denials.get(rule, 0))
                grown += sorted(rule for rule, n in now.items() if n > counts.get(rule, 0) and rule not in grown)
                if now.get(finding.rule, 0) >= counts[finding.rule]:
                    problem = f"the finding is still there after its fix ({now.get(finding.rule, 0)} {finding.rule})"
                elif grown:
                    problem = f"the fix adds findings of {', '.join(grown)}"
            checks.append(FixCheck(source, label(logical_id, finding), not problem, problem))
    patch = combined_patch(decision for _, decision in before)
    if patch:
        after, problem = _judge(gate, document, patch)
        if not problem:
            left = combined_patch(decision for _, decision in after)
            grown = sorted(rule for rule, n in _denials(after).items() if n > denials.get(rule, 0))
            if left:
                problem = f"fixing the fixed document would change it again: {left}"
            elif grown:
                problem = f"the combined fix adds denials of {', '.join(grown)}"
        checks.append(FixCheck(source, None, not problem, problem))
    return checks
