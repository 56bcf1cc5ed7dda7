"""The template as requests: every AWS::ECS::TaskDefinition, and its variants when conditions are undecided."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ecs_admission.errors import InputError
from ecs_admission.inputs.cloudformation.conditions import MAX_CONDITION_VARIANTS
from ecs_admission.inputs.cloudformation.intrinsics import ROLE_TYPE, Budget, Unresolved, _display
from ecs_admission.inputs.cloudformation.properties import TYPES, _Conversion, _convert, to_template_pointer
from ecs_admission.inputs.cloudformation.resolver import Resolver
from ecs_admission.inputs.cloudformation.roles import RoleFacts, choose
from ecs_admission.inputs.schema import escape, validate_task_definition
from ecs_admission.inputs.shapes import AdmissionRequest, drop_nulls, find_placeholders

TASK_DEFINITION_TYPE = "AWS::ECS::TaskDefinition"
ROLE_FIELDS = {"TaskRoleArn": "taskRoleArn", "ExecutionRoleArn": "executionRoleArn"}


@dataclass
class TemplateTaskDefinition:
    logical_id: str
    request: AdmissionRequest
    pointers: dict[str, str]
    map_pointers: set[str]
    # When conditions the template does not decide change this task definition: the combinations
    # of their values this one stands for ([{"IsProd": True}, ...]), and every variant (self first).
    assignments: list[dict[str, bool]] = field(default_factory=list)
    variants: list[TemplateTaskDefinition] = field(default_factory=list)

    def template_pointer(self, pointer: str) -> str:
        return to_template_pointer(pointer, self.pointers, self.map_pointers)

    @property
    def conditions(self) -> dict[str, bool]:
        """The condition values every combination of this variant shares (what names it)."""
        if not self.assignments:
            return {}
        first = self.assignments[0]
        return {name: value for name, value in first.items() if all(a.get(name) == value for a in self.assignments)}


@dataclass
class Template:
    task_definitions: list[TemplateTaskDefinition]
    skipped: list[dict[str, str]]
    parameters_defaulted: list[str]


def _role_target(raw: Any, resolver: Resolver, where: str) -> str | None:
    """The logical id of a template role that a role field names (through `Fn::If` branches), if any."""
    raw, _ = choose(resolver, raw, where)
    if isinstance(raw, dict) and len(raw) == 1:
        ((key, arg),) = raw.items()
        target = None
        if key == "Ref" and isinstance(arg, str):
            target = arg
        elif key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            if isinstance(parts, list) and len(parts) == 2 and parts[1] == "Arn":
                target = parts[0]
        resource = resolver.resources.get(target) if isinstance(target, str) else None
        if isinstance(resource, dict) and resource.get("Type") == ROLE_TYPE:
            return target
    return None


def _named_roles(raw: Any) -> set[str]:
    """Every resource a role field could name, whatever the conditions: the discovery pass visits each."""
    if isinstance(raw, dict):
        if set(raw) == {"Ref"} and isinstance(raw["Ref"], str):
            return {raw["Ref"]}
        if set(raw) == {"Fn::GetAtt"}:
            parts = raw["Fn::GetAtt"].split(".", 1) if isinstance(raw["Fn::GetAtt"], str) else raw["Fn::GetAtt"]
            return {parts[0]} if isinstance(parts, list) and parts and isinstance(parts[0], str) else set()
        return set().union(*(_named_roles(v) for v in raw.values())) if raw else set()
    if isinstance(raw, list):
        return set().union(*(_named_roles(v) for v in raw)) if raw else set()
    return set()


@dataclass
class _Resolved:
    """A task definition's properties and role facts, resolved but not yet converted to the API's form."""

    properties: dict[str, Any]
    template_roles: dict[str, dict[str, Any]]

    def fingerprint(self) -> str:
        # Cheap (C json) and before conversion: identical variants are converted and judged once.
        return json.dumps([self.properties, self.template_roles], sort_keys=True, default=repr)


def _task_definition(
    logical_id: str, resource: dict[str, Any], resolver: Resolver, roles: RoleFacts
) -> TemplateTaskDefinition:
    return _build(logical_id, _resolve_parts(logical_id, resource, resolver, roles), resolver)


def _resolve_parts(logical_id: str, resource: dict[str, Any], resolver: Resolver, roles: RoleFacts) -> _Resolved:
    root = f"/Resources/{escape(logical_id)}/Properties"
    properties = resource.get("Properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise InputError("must be an object", field=root)
    template_roles: dict[str, dict[str, Any]] = {}
    resolved = resolver.resolve(properties, root)
    if isinstance(resolved, Unresolved):
        raise InputError(f"the task definition's properties are unresolved: {resolved.reason}", field=root)
    for prop, field_name in ROLE_FIELDS.items():
        if prop not in properties:
            continue
        target = _role_target(properties[prop], resolver, f"{root}/{prop}")
        if target is None:
            value = resolved.get(prop)
            if isinstance(value, Unresolved):
                # Not a role of this template, and the template does not say which role it is.
                template_roles[field_name] = {
                    "status": "unknown",
                    "source": "none",
                    "reason": _display(
                        f"the role is {value.expression}, which the template does not decide: {value.reason}", 300
                    ),
                    "valid": True,
                }
            continue
        template_roles[field_name] = roles.facts(target)
        value = resolved.get(prop)
        if isinstance(value, Unresolved):
            # The role's own facts are known; only its generated name or ARN is not. No warning for that.
            resolved[prop] = value.expression
            template_roles[field_name]["valid"] = True
    return _Resolved(resolved, template_roles)


def _build(logical_id: str, parts: _Resolved, resolver: Resolver) -> TemplateTaskDefinition:
    root = f"/Resources/{escape(logical_id)}/Properties"
    template_roles = parts.template_roles
    state = _Conversion(origins=resolver.origins, budget=resolver.budget)
    task_definition = _convert(parts.properties, TYPES, root, "", state, data_keys=False)
    task_definition = drop_nulls(task_definition)
    try:
        validate_task_definition(task_definition)
    except InputError as exc:
        exc.field = to_template_pointer(exc.field or "", state.pointers, state.map_pointers)
        raise
    request = AdmissionRequest(
        task_definition=task_definition,
        source="cloudformation",
        envelope="cloudformation",
        template_roles=template_roles,
        template={
            "logical_id": logical_id,
            "unresolved": state.unresolved,
            "parameters_defaulted": sorted(resolver.defaulted),
        },
    )
    request.placeholders = find_placeholders(task_definition)
    return TemplateTaskDefinition(logical_id, request, state.pointers, state.map_pointers)


def _discover(document: dict[str, Any], context: dict[str, str], logical_id: str, budget: Budget) -> Resolver:
    """Resolve everything the task definition and its roles read, to find the conditions left undecided."""
    resolver = Resolver(document, context, budget=budget)
    resource = resolver.resources[logical_id]
    where = f"/Resources/{escape(logical_id)}"
    if isinstance(resource.get("Condition"), str):
        resolver.condition(resource["Condition"], f"{where}/Condition")
    properties = resource.get("Properties")
    if isinstance(properties, dict):
        resolver.resolve(properties, f"{where}/Properties")
        roles = RoleFacts(document, resolver)
        for prop in ROLE_FIELDS:
            for target in sorted(_named_roles(properties.get(prop))):
                role = resolver.resources.get(target)
                if isinstance(role, dict) and role.get("Type") == ROLE_TYPE:
                    roles.facts(target)
    return resolver


def _judged(
    document: dict[str, Any], context: dict[str, str], logical_id: str, resource: dict[str, Any], budget: Budget
) -> tuple[TemplateTaskDefinition | None, str]:
    """The task definition as the template decides it, or its variants when conditions are undecided.

    Returns (None, reason) when the task definition is not created.
    """
    where = f"/Resources/{escape(logical_id)}"
    discovery = _discover(document, context, logical_id, budget)
    unknowns = discovery.unknowns
    condition = resource.get("Condition")
    if not (unknowns.compared or unknowns.atoms):
        resolver = Resolver(document, context, budget=budget)
        if isinstance(condition, str) and resolver.condition(condition, f"{where}/Condition") is False:
            return None, f"condition {condition} is false"
        return _task_definition(logical_id, resource, resolver, RoleFacts(document, resolver)), ""
    variants: dict[str, TemplateTaskDefinition] = {}
    for assumed in unknowns.assignments(where):
        resolver = Resolver(document, context, assumed=assumed, budget=budget)
        if isinstance(condition, str) and resolver.condition(condition, f"{where}/Condition") is False:
            continue
        parts = _resolve_parts(logical_id, resource, resolver, RoleFacts(document, resolver))
        conditions = resolver.consulted(unknowns.conditions)
        key = parts.fingerprint()
        if key in variants:
            variants[key].assignments.append(conditions)
            continue
        if len(variants) == MAX_CONDITION_VARIANTS:
            raise InputError(
                f"conditions {', '.join(sorted(unknowns.conditions))} are not decided by the template and give "
                f"more than {MAX_CONDITION_VARIANTS} (MAX_CONDITION_VARIANTS) different task definitions; "
                "give the parameters they read defaults",
                field=where,
                error="template_too_complex",
            )
        built = _build(logical_id, parts, resolver)
        built.assignments = [conditions]
        variants[key] = built
    if not variants:
        return None, f"condition {condition} is false whatever the undecided parameters are"
    found = list(variants.values())
    first = found[0]
    first.variants = found
    for variant in found:
        variant.request.template = {**(variant.request.template or {}), "conditions": sorted(unknowns.conditions)}
    return first, ""


def load_template(document: dict[str, Any], context: dict[str, str] | None = None) -> Template:
    """Every AWS::ECS::TaskDefinition of a parsed template, as requests the gate can decide."""
    resources = document.get("Resources")
    if not isinstance(resources, dict):
        raise InputError("a template needs a Resources object", field="/Resources")
    context = context or {}
    budget = Budget()
    defaulted: set[str] = set()
    results, skipped = [], []
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") != TASK_DEFINITION_TYPE:
            continue
        judged, reason = _judged(document, context, logical_id, resource, budget)
        if judged is None:
            skipped.append({"logical_id": logical_id, "reason": reason})
            continue
        for variant in judged.variants or [judged]:
            defaulted.update((variant.request.template or {}).get("parameters_defaulted", []))
        results.append(judged)
    if not results and not skipped:
        raise InputError(f"the template has no {TASK_DEFINITION_TYPE} resource to judge", field="/Resources")
    return Template(results, skipped, sorted(defaulted))
