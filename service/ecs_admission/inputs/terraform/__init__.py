"""Terraform plans (`terraform show -json`) as an input shape: one request per task definition instance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_admission.inputs.lazy_exports import lazy_exports

# Each name from its module, imported when first asked for (PEP 562): a `check` of a task
# definition only asks is_plan (plan), not the loader and the CloudFormation machinery it uses.
_FROM = {"PlanTaskDefinition": "load", "PlanTemplate": "load", "load_plan": "load", "is_plan": "plan"}

if TYPE_CHECKING:
    from ecs_admission.inputs.terraform.load import PlanTaskDefinition, PlanTemplate, load_plan
    from ecs_admission.inputs.terraform.plan import is_plan


__getattr__ = lazy_exports(__name__, _FROM)


__all__ = ["PlanTaskDefinition", "PlanTemplate", "is_plan", "load_plan"]
