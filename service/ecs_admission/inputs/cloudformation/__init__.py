"""CloudFormation templates as an input shape: every AWS::ECS::TaskDefinition, judged on its own.

A template (JSON, or YAML with the short-form intrinsics `!Ref`, `!Sub`, ...) becomes one
AdmissionRequest per task definition:

- intrinsics are evaluated where the template alone decides them (parameter defaults, mappings,
  conditions, `!Join`/`!Sub`/`!Select`/`!Split`, pseudo parameters from the deploy context);
  anything else (a parameter without a default, `!ImportValue`, the generated name of a resource)
  is *unresolved*: listed in `input.template.unresolved` for the policies, never guessed;
- PascalCase properties become the API's camelCase (with the irregular ones mapped), and values
  CloudFormation would convert (`"true"`, `"256"`) take the type the ECS API gives the field;
- `TaskRoleArn`/`ExecutionRoleArn` that `!Ref`/`!GetAtt` an AWS::IAM::Role of the same template
  carry that role's trust policy and policies as facts (`source: template`);
- every normalised JSON pointer maps back to the template, so reasons point at
  `/Resources/<LogicalId>/Properties/ContainerDefinitions/0/Privileged`.

One module per step: loader (YAML, is_template), intrinsics (Unresolved, the budget, the Fn::
functions), conditions (condition functions, undecided values and their combinations), resolver
(Resolver, which holds both), properties (camelCase and API types, pointers back to the template),
roles (template roles as facts) and resources (the task definitions as requests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_admission.inputs.lazy_exports import lazy_exports

# What the rest of the service and the tests import, as from the single module this package was:
# each name from its module, imported when first asked for (PEP 562), so that a `check` of a task
# definition, which only asks is_template (loader), does not load the template machinery.
_FROM = {
    "MAX_CONDITION_VARIANTS": "conditions",
    "MAX_RESOLVE_STEPS": "intrinsics",
    "MAX_RESOLVED_CHARS": "intrinsics",
    "Unresolved": "intrinsics",
    "TemplateLoader": "loader",
    "is_template": "loader",
    "to_template_pointer": "properties",
    "Resolver": "resolver",
    "Template": "resources",
    "TemplateTaskDefinition": "resources",
    "load_template": "resources",
}

if TYPE_CHECKING:
    from ecs_admission.inputs.cloudformation.conditions import MAX_CONDITION_VARIANTS
    from ecs_admission.inputs.cloudformation.intrinsics import MAX_RESOLVE_STEPS, MAX_RESOLVED_CHARS, Unresolved
    from ecs_admission.inputs.cloudformation.loader import TemplateLoader, is_template
    from ecs_admission.inputs.cloudformation.properties import to_template_pointer
    from ecs_admission.inputs.cloudformation.resolver import Resolver
    from ecs_admission.inputs.cloudformation.resources import Template, TemplateTaskDefinition, load_template


__getattr__ = lazy_exports(__name__, _FROM)


__all__ = [
    "MAX_CONDITION_VARIANTS",
    "MAX_RESOLVED_CHARS",
    "MAX_RESOLVE_STEPS",
    "Resolver",
    "Template",
    "TemplateLoader",
    "TemplateTaskDefinition",
    "Unresolved",
    "is_template",
    "load_template",
    "to_template_pointer",
]
