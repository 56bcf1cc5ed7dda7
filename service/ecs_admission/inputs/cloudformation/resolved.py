"""Properties CloudFormation has resolved already (what a Lambda Hook receives), as a template's task definition.

CloudFormation evaluates every intrinsic before it calls a hook and hands the values over with
scalars as strings ("true", "512"). Nothing is evaluated again here (a Docker label named "Ref"
stays a label): the properties take the conversion a template's task definition takes (PascalCase
to the API's camelCase, strings to the type the API gives the field, pointers back into the
resource), so the gate judges them exactly as it judges that task definition in a template.
"""

from __future__ import annotations

from typing import Any

from ecs_admission.errors import InputError
from ecs_admission.inputs.cloudformation.resolver import Resolver
from ecs_admission.inputs.cloudformation.resources import TASK_DEFINITION_TYPE, Template, _build, _Resolved
from ecs_admission.inputs.schema import escape


def load_resolved(logical_id: str, properties: Any, context: dict[str, str] | None = None) -> Template:
    """One resolved AWS::ECS::TaskDefinition's properties as a Template of that one task definition."""
    if not isinstance(properties, dict):
        raise InputError("must be an object", field=f"/Resources/{escape(logical_id)}/Properties")
    document = {"Resources": {logical_id: {"Type": TASK_DEFINITION_TYPE, "Properties": properties}}}
    resolver = Resolver(document, dict(context or {}))
    return Template([_build(logical_id, _Resolved(dict(properties), {}), resolver)], [], [])
