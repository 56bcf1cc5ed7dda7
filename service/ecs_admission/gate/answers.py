"""Bounded answers: however many findings the rules produce, the answer stays small and readable.

A task definition of 600 host volumes all named `v` made one rule fire 600 times, each message
listing every mount point: a 104 MB answer and a worker at 1 GB. An answer is read by a person
or a pipeline step; past a few dozen findings of one rule, more of them say nothing new. So:

- each rule keeps its first MAX_PER_RULE findings (in the usual order: severity, rule, path), and
  the last one kept says how many more there were (`"omitted": N` beside it, and in its message);
- the whole answer (violations, warnings and exempted together) keeps at most MAX_FINDINGS by
  keeping fewer per rule, never fewer than one: every rule that fired is still named, in the same
  list, so the verdict is exactly what it was;
- a message or a path longer than MAX_MESSAGE_CHARS / MAX_PATH_CHARS is cut, saying so.

The numbers and their measurements are in docs/hardening.md ("Bounded answers").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ecs_admission.decision import Finding

MAX_PER_RULE = 20
MAX_FINDINGS = 100
MAX_MESSAGE_CHARS = 1000
MAX_PATH_CHARS = 300


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 20] + f"... ({len(text) - limit + 20} more characters)"


def _groups(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.rule, []).append(finding)
    return groups


def _per_rule(groups: list[dict[str, list[Finding]]], budget: int) -> int:
    """The most findings per rule that keeps the total within budget (at least one per rule)."""
    keep = MAX_PER_RULE
    while keep > 1 and sum(min(len(g), keep) for group in groups for g in group.values()) > budget:
        keep -= 1
    return keep


def _bounded(findings: Sequence[Finding], keep: int) -> list[Finding]:
    kept: list[Finding] = []
    for rule_findings in _groups(sorted(findings, key=Finding.sort_key)).values():
        chosen = rule_findings[:keep]
        omitted = len(rule_findings) - len(chosen)
        for index, finding in enumerate(chosen):
            message, path = _clip(finding.message, MAX_MESSAGE_CHARS), _clip(finding.path, MAX_PATH_CHARS)
            extra = finding.extra
            if omitted and index == len(chosen) - 1:
                message += f" (and {omitted} more finding(s) of {finding.rule} not listed: the answer is bounded)"
                extra = {**extra, "omitted": omitted}
            if (message, path, extra) != (finding.message, finding.path, finding.extra):
                finding = dataclasses.replace(finding, message=message, path=path, extra=extra)
            kept.append(finding)
    return sorted(kept, key=Finding.sort_key)


def bound_findings(
    violations: Sequence[Finding], warnings: Sequence[Finding], exempted: Sequence[Finding]
) -> tuple[list[Finding], list[Finding], list[Finding]]:
    """The three lists, each sorted, bounded as the module says; the same rules fire in each."""
    groups = [_groups(violations), _groups(warnings), _groups(exempted)]
    keep = _per_rule(groups, MAX_FINDINGS)
    return _bounded(violations, keep), _bounded(warnings, keep), _bounded(exempted, keep)
