"""Terraform plans (`terraform show -json`) as an input shape: one request per task definition instance."""

from ecs_admission.inputs.terraform.load import PlanTaskDefinition, PlanTemplate, load_plan
from ecs_admission.inputs.terraform.plan import is_plan

__all__ = ["PlanTaskDefinition", "PlanTemplate", "is_plan", "load_plan"]
