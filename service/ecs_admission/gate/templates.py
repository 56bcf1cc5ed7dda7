"""Judge a CloudFormation template: one decision per AWS::ECS::TaskDefinition, one verdict for all.

The response keeps each task definition's decision exactly as the single-task-definition API
gives it (plus its `logical_id`), with finding paths translated into the template, and adds the
conjunction: the template is allowed only if every task definition is.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass
from typing import Any

from ecs_admission.decision import Decision, Finding
from ecs_admission.errors import InputError
from ecs_admission.facts.judge import EVALUATION_BUDGET, responsible_policy_path
from ecs_admission.facts.wildcards import work_budget
from ecs_admission.gate import Gate
from ecs_admission.gate.fixes import in_template, relocate
from ecs_admission.iam.documents import MAX_SUPPLIED_STATEMENTS, statement_count
from ecs_admission.inputs.cloudformation import Template, TemplateTaskDefinition

# Task definitions judged from one template: each is a full decision (~10-50 ms), and CloudFormation
# allows 500 resources, so without a bound one request could cost tens of seconds.
MAX_TEMPLATE_TASK_DEFINITIONS = 10


@dataclass
class TemplateDecision:
    decision_id: str
    enforced: bool
    mode: str
    results: list[tuple[str, Decision]]
    template: Template
    duration_ms: float

    @property
    def allowed(self) -> bool:
        return all(decision.allowed for _, decision in self.results)

    @property
    def denied(self) -> bool:
        """Denied and enforced: HTTP 403, CLI exit 1."""
        return any(decision.violations and decision.enforced for _, decision in self.results)

    def _result(self, logical_id: str, decision: Decision) -> dict[str, Any]:
        result = {"logical_id": logical_id, **decision.to_dict()}
        judged = next((t for t in self.template.task_definitions if t.logical_id == logical_id), None)
        if judged is not None and judged.variants:
            # Judged once per combination of the conditions the template does not decide.
            result["condition_variants"] = [variant.assignments for variant in judged.variants]
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "allowed": self.allowed,
            "enforced": self.enforced,
            "mode": self.mode,
            "template": {
                "task_definitions": len(self.results),
                "skipped": self.template.skipped,
                "parameters_defaulted": self.template.parameters_defaulted,
            },
            "results": [self._result(logical_id, decision) for logical_id, decision in self.results],
            "duration_ms": round(self.duration_ms, 3),
        }


def _in_template(finding: Finding, task_definition: TemplateTaskDefinition) -> Finding:
    path = task_definition.template_pointer(finding.path)
    extra = {**finding.extra, "task_definition_path": finding.path}
    policy_path = responsible_policy_path(finding, task_definition.request.template_roles)
    if policy_path:
        # A permission finding about a role of the template points at the policy that grants it.
        extra["role_path"] = path
        path = policy_path
    return dataclasses.replace(finding, path=path, extra=extra)


def _decide_one(gate: Gate, task_definition: TemplateTaskDefinition, dry_run: bool | None) -> Decision:
    decision = gate.decide(task_definition.request, dry_run=dry_run)
    # Fixes first, while their paths are still the task definition's own (docs/fixes.md).
    place = in_template(task_definition.logical_id, task_definition.template_pointer)
    decision.violations = relocate(decision.violations, place)
    decision.warnings = relocate(decision.warnings, place)
    decision.exempted = relocate(decision.exempted, place)
    decision.violations = [_in_template(f, task_definition) for f in decision.violations]
    decision.warnings = [_in_template(f, task_definition) for f in decision.warnings]
    decision.exempted = [_in_template(f, task_definition) for f in decision.exempted]
    decision.task_definition.logical_id = task_definition.logical_id
    return decision


def _when(assignments: list[dict[str, bool]]) -> str:
    """The condition values a set of combinations shares, in words: "IsProd is true, UseExec is false"."""
    common = {k: v for k, v in assignments[0].items() if all(a.get(k) == v for a in assignments)}
    shown = [common] if common else assignments
    return " or ".join(", ".join(f"{k} is {str(v).lower()}" for k, v in sorted(a.items())) for a in shown)


def merge_variants(variants: list[tuple[TemplateTaskDefinition, Decision]]) -> Decision:
    """One decision for a task definition judged once per undecided-condition variant: the worst of them.

    A finding every variant has is reported as it is; one only some variants have names the
    conditions under which it applies (in its message and in `conditions`), so no branch is dropped.
    """
    if len(variants) == 1:
        return variants[0][1]
    decision = dataclasses.replace(variants[0][1])
    for kind in ("violations", "warnings", "exempted"):
        seen: dict[tuple[str, str, str], tuple[Finding, list[dict[str, bool]]]] = {}
        for task_definition, variant in variants:
            for finding in getattr(variant, kind):
                key = (finding.rule, finding.path, finding.message)
                if key not in seen:
                    seen[key] = (finding, [])
                seen[key][1].extend(task_definition.assignments)
        everywhere = sum(len(t.assignments) for t, _ in variants)
        merged = []
        for finding, assignments in seen.values():
            if len(assignments) < everywhere:
                when = _when(assignments)
                finding = dataclasses.replace(
                    finding,
                    message=f"{finding.message} (when {when})",
                    extra={**finding.extra, "conditions": assignments},
                )
            merged.append(finding)
        setattr(decision, kind, sorted(merged, key=Finding.sort_key))
    decision.allowed = not decision.violations
    decision.duration_ms = sum(d.duration_ms for _, d in variants)
    return decision


def check_template_limits(template: Template) -> None:
    """Bounded work for a template: InputError (400) naming the limit before any decision is made."""
    if len(template.task_definitions) > MAX_TEMPLATE_TASK_DEFINITIONS:
        raise InputError(
            f"{len(template.task_definitions)} task definitions: the gate judges at most "
            f"{MAX_TEMPLATE_TASK_DEFINITIONS} per template (docs/hardening.md)",
            field="/Resources",
            error="limit_exceeded",
        )
    statements = 0
    for task_definition in template.task_definitions:
        for facts in task_definition.request.template_roles.values():
            documents = [policy.get("document") for policy in facts.get("policies") or []]
            statements += statement_count([*documents, facts.get("permissions_boundary")])
        if statements > MAX_SUPPLIED_STATEMENTS:
            raise InputError(
                f"the template's roles hold more than {MAX_SUPPLIED_STATEMENTS} policy statements for its task "
                "definitions, more than the gate evaluates from a request (docs/hardening.md)",
                field=f"/Resources/{task_definition.logical_id}",
                error="limit_exceeded",
            )


def decide_template(gate: Gate, template: Template, dry_run: bool | None = None) -> TemplateDecision:
    """Decide every task definition of the template; EngineError propagates so the face can fail closed.

    InputError if the template is past a limit (check_template_limits), before anything is decided.
    """
    check_template_limits(template)
    started = time.perf_counter()
    results = []
    # One evaluator budget for the whole template, however many task definitions share it.
    with work_budget(EVALUATION_BUDGET):
        for task_definition in template.task_definitions:
            variants = [(v, _decide_one(gate, v, dry_run)) for v in task_definition.variants or [task_definition]]
            results.append((task_definition.logical_id, merge_variants(variants)))
    if results:
        enforced, mode = results[0][1].enforced, results[0][1].mode
    else:
        enforced = not (dry_run if dry_run is not None else gate.default_mode == "dry-run")
        mode = "enforce" if enforced else "dry-run"
    return TemplateDecision(
        decision_id=str(uuid.uuid4()),
        enforced=enforced,
        mode=mode,
        results=results,
        template=template,
        duration_ms=(time.perf_counter() - started) * 1000,
    )
