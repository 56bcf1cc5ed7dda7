"""Judge a Terraform plan: one decision per aws_ecs_task_definition instance, one verdict for the plan.

Decided exactly as a CloudFormation template is (gate/templates.py); each result is named by the
instance's Terraform address, and each finding carries that address and the attribute path, so
reports (github, sarif, junit) can name the resource the way `terraform plan` does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ecs_admission.decision import Decision, Finding
from ecs_admission.gate import Gate
from ecs_admission.gate.templates import TemplateDecision, decide_template
from ecs_admission.inputs.terraform import PlanTemplate
from ecs_admission.inputs.terraform.addresses import split_path


@dataclass
class PlanDecision:
    judged: TemplateDecision
    plan: PlanTemplate

    @property
    def allowed(self) -> bool:
        return self.judged.allowed

    @property
    def denied(self) -> bool:
        return self.judged.denied

    @property
    def results(self) -> list[tuple[str, Decision]]:
        return self.judged.results

    def to_dict(self) -> dict[str, Any]:
        body = self.judged.to_dict()
        body.pop("template", None)
        body = {
            **{k: body[k] for k in ("decision_id", "allowed", "enforced", "mode")},
            "plan": {
                "format_version": self.plan.format_version,
                "terraform_version": self.plan.terraform_version,
                "task_definitions": len(self.judged.results),
                "skipped": self.plan.skipped,
            },
            "results": [{"address": r["logical_id"], **r} for r in body["results"]],
            "duration_ms": body["duration_ms"],
        }
        return body


def _located(finding: Finding, address: str) -> Finding:
    """The address of the resource the finding's path names, and the attribute path within it."""
    # A permission finding points at the policy resource that grants it: `aws_iam_role_policy.x.policy`.
    owner, attribute = split_path(finding.path)
    extra = {**finding.extra, "terraform_address": owner or address, "attribute_path": attribute}
    if owner != address:
        extra["task_definition_address"] = address
    return dataclasses.replace(finding, extra=extra)


def decide_plan(gate: Gate, plan: PlanTemplate, dry_run: bool | None = None) -> PlanDecision:
    """Decide every task definition of the plan; EngineError propagates so the face can fail closed."""
    judged = decide_template(gate, plan, dry_run=dry_run)
    for address, decision in judged.results:
        decision.violations = [_located(f, address) for f in decision.violations]
        decision.warnings = [_located(f, address) for f in decision.warnings]
        decision.exempted = [_located(f, address) for f in decision.exempted]
    return PlanDecision(judged, plan)
