"""A plan as requests the gate can decide: one per aws_ecs_task_definition instance created or updated.

The result has the shape of a CloudFormation template's (gate/templates.py decides either): each
task definition is named by its Terraform address, and its finding paths are translated to that
address and the attribute path (`module.api.aws_ecs_task_definition.this["blue"]` and
`container_definitions[0].privileged`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ecs_admission.errors import InputError
from ecs_admission.inputs.cloudformation import Template, TemplateTaskDefinition
from ecs_admission.inputs.schema import validate_task_definition
from ecs_admission.inputs.shapes import ACCOUNT_RE, AdmissionRequest, drop_nulls, find_placeholders
from ecs_admission.inputs.terraform.fields import attribute_path, to_task_definition
from ecs_admission.inputs.terraform.plan import Instance, Plan, load
from ecs_admission.inputs.terraform.roles import PlanRoles, unfollowed

TASK_DEFINITION = "aws_ecs_task_definition"
JUDGED_ACTIONS = {"create", "update"}
ROLE_ATTRIBUTES = {"task_role_arn": "taskRoleArn", "execution_role_arn": "executionRoleArn"}
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
# The same bound as a template's (gate/templates.py): each task definition is a full decision.
MAX_PLAN_TASK_DEFINITIONS = 10


@dataclass
class PlanTaskDefinition(TemplateTaskDefinition):
    """A task definition of the plan; `logical_id` is its Terraform address."""

    instance: Instance | None = None
    attribute_pointers: dict[str, str] = field(default_factory=dict)

    def template_pointer(self, pointer: str) -> str:
        path = attribute_path(pointer, self.attribute_pointers)
        return f"{self.logical_id}.{path}" if path else self.logical_id


@dataclass
class PlanTemplate(Template):
    format_version: str = ""
    terraform_version: str = ""


def _skip_reason(instance: Instance) -> str | None:
    actions = set(instance.actions)
    if actions & JUDGED_ACTIONS:
        return None
    if "delete" in actions:
        return "deleted by this plan"
    if "read" in actions:
        return "read, not registered, by this plan"
    return f"{'/'.join(instance.actions) or 'no'} action: not changed by this plan"


def _build(plan: Plan, roles: PlanRoles, instance: Instance) -> PlanTaskDefinition:
    address = str(instance.address)
    converted = to_task_definition(
        instance.after,
        instance.after_unknown,
        f"{instance.pointer}/change/after",
        lambda attribute: plan.configured(instance.address, attribute),
    )
    task_definition = converted.task_definition
    template_roles: dict[str, dict[str, Any]] = {}
    for attribute, field_name in ROLE_ATTRIBUTES.items():
        role = roles.role_for(instance, attribute)
        known = instance.value(attribute)
        expression = f"{address}.{attribute}"
        if role is not None:
            template_roles[field_name] = roles.facts(role)
            if not known:
                # The role's own facts are known; only its ARN is not until apply. Named as `terraform
                # plan` shows it, which no role name, ARN or pipeline placeholder can be mistaken for.
                task_definition[field_name] = role.value("arn") or f"{role.address}.arn (known after apply)"
        elif attribute in converted.unknown_roles:
            references = plan.references(instance.address, attribute)
            template_roles[field_name] = unfollowed(attribute, expression)
            shown = references[0] if references else expression
            task_definition[field_name] = f"{shown} (known after apply)"
            converted.unresolved.append(
                {"path": f"/{field_name}", "attribute": attribute, "reason": "known only after apply"}
            )
            converted.pointers[f"/{field_name}"] = attribute
    task_definition = drop_nulls(task_definition)
    try:
        validate_task_definition(task_definition)
    except InputError as exc:
        exc.field = f"{address}.{attribute_path(exc.field or '', converted.pointers)}"
        raise
    unresolved = [
        {"path": u["path"], "expression": f"{address}.{u['attribute']}", "reason": u["reason"]}
        for u in converted.unresolved
    ]
    request = AdmissionRequest(
        task_definition=task_definition,
        source="terraform",
        envelope="terraform",
        template_roles=template_roles,
        template={"logical_id": address, "unresolved": unresolved, "parameters_defaulted": []},
    )
    request.placeholders = find_placeholders(task_definition)
    return PlanTaskDefinition(
        logical_id=address,
        request=request,
        pointers={},
        map_pointers=set(),
        instance=instance,
        attribute_pointers=converted.pointers,
    )


def plan_context(plan: Plan) -> dict[str, str]:
    """The deploy account and Region when the plan says so unambiguously: the account of every
    `data.aws_caller_identity` read while planning, the Region of the root `aws` provider block."""
    context: dict[str, str] = {}
    accounts = {i.value("account_id") for i in plan.of_type("aws_caller_identity") if i.address.mode == "data"}
    if len(accounts) == 1:
        (account,) = accounts
        if isinstance(account, str) and ACCOUNT_RE.match(account):
            context["account"] = account
    configuration = plan.document.get("configuration")
    providers = configuration.get("provider_config") if isinstance(configuration, dict) else None
    aws = providers.get("aws") if isinstance(providers, dict) else None
    expressions = aws.get("expressions") if isinstance(aws, dict) else None
    region = expressions.get("region") if isinstance(expressions, dict) else None
    value = region.get("constant_value") if isinstance(region, dict) else None
    if isinstance(value, str) and REGION_RE.match(value):
        context["region"] = value
    return context


def load_plan(document: dict[str, Any]) -> PlanTemplate:
    """Every aws_ecs_task_definition instance the plan creates or updates, as requests the gate can decide.

    A plan with none gives an empty list and the reasons others were skipped: an answer, not an error.
    """
    plan = load(document)
    roles = PlanRoles(plan)
    judged: list[Instance] = []
    skipped: list[dict[str, str]] = []
    for instance in plan.of_type(TASK_DEFINITION):
        if instance.address.mode != "managed":
            continue
        reason = _skip_reason(instance)
        if reason:
            skipped.append({"logical_id": str(instance.address), "reason": reason})
        else:
            judged.append(instance)
    if len(judged) > MAX_PLAN_TASK_DEFINITIONS:
        raise InputError(
            f"{len(judged)} task definitions: the gate judges at most {MAX_PLAN_TASK_DEFINITIONS} per plan "
            "(docs/terraform.md#limits); plan a smaller target or split the configuration",
            field="/resource_changes",
            error="limit_exceeded",
        )
    results = [_build(plan, roles, instance) for instance in judged]
    # Where the plan deploys, when it says so, over the gate's configured defaults (ECS_ADMISSION_ACCOUNT/REGION).
    found = plan_context(plan)
    for result in results:
        result.request.context = found
    return PlanTemplate(
        task_definitions=list(results),
        skipped=skipped,
        parameters_defaulted=[],
        format_version=plan.format_version,
        terraform_version=plan.terraform_version,
    )
