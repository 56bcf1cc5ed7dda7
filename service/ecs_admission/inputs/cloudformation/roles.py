"""Roles defined in the template: the facts of the AWS::IAM::Role resources a task definition names."""

from __future__ import annotations

from typing import Any

from ecs_admission.iam.documents import normalise_policy_document
from ecs_admission.iam.managed import shipped_entry
from ecs_admission.inputs.cloudformation.intrinsics import NO_VALUE, Unresolved, _display, _scalar_text, render
from ecs_admission.inputs.cloudformation.resolver import Resolver
from ecs_admission.inputs.schema import escape


def _policy_strings(value: Any) -> Any:
    """Unresolved parts of a policy document become ${...}: the evaluator treats them as conditional."""
    if isinstance(value, Unresolved):
        return value.as_string()
    if isinstance(value, dict):
        return {k: _policy_strings(v) for k, v in value.items() if v is not NO_VALUE}
    if isinstance(value, list):
        return [_policy_strings(v) for v in value if v is not NO_VALUE]
    return _scalar_text(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def choose(resolver: Resolver, value: Any, where: str) -> tuple[Any, str]:
    """Follow `Fn::If` to the raw value the conditions choose, with its pointer.

    AWS::NoValue gives NO_VALUE; an undecided condition gives Unresolved. Used where the raw form
    matters (a `!Ref` to a policy of the template), so the value itself is not resolved here.
    """
    while isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref" and arg == "AWS::NoValue":
            return NO_VALUE, where
        if key != "Fn::If" or not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
            break
        resolver.budget.step(where)
        chosen = resolver.condition(arg[0], f"{where}/Fn::If/0")
        if isinstance(chosen, Unresolved):
            return Unresolved(render(value), chosen.reason), where
        branch = 1 if chosen else 2
        value, where = arg[branch], f"{where}/Fn::If/{branch}"
    return value, where


def chosen_items(resolver: Resolver, value: Any, where: str, problems: list[str], what: str) -> list[tuple[Any, str]]:
    """The raw elements of a list property (and their pointers) after `Fn::If`; NoValue elements removed."""
    value, where = choose(resolver, value, where)
    if value is NO_VALUE or value is None:
        return []
    if isinstance(value, Unresolved):
        problems.append(f"{what} at {where} is {value.expression}: {value.reason}")
        return []
    if not isinstance(value, list):
        return []
    items = []
    for index, item in enumerate(value):
        item, item_where = choose(resolver, item, f"{where}/{index}")
        if item is NO_VALUE:
            continue
        if isinstance(item, Unresolved):
            problems.append(f"{what} at {item_where} is {item.expression}: {item.reason}")
            continue
        items.append((item, item_where))
    return items


def _refers_to(raw: Any, logical_id: str) -> bool:
    return raw == {"Ref": logical_id}


class RoleFacts:
    """The facts of the AWS::IAM::Role resources a task definition names."""

    def __init__(self, template: dict[str, Any], resolver: Resolver):
        self.resources = resolver.resources
        self.resolver = resolver

    def _created(self, resource: dict[str, Any], where: str) -> bool:
        """A resource whose Condition is undecided counts as created: its policies are judged, not dropped."""
        condition = resource.get("Condition")
        return not isinstance(condition, str) or self.resolver.condition(condition, f"{where}/Condition") is not False

    def attached(self, logical_id: str, problems: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """Policy resources of the template that attach to the role (AWS::IAM::Policy, ManagedPolicy, RolePolicy)."""
        found = []
        for policy_id, resource in self.resources.items():
            kind = resource.get("Type") if isinstance(resource, dict) else None
            if kind not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
                continue
            where = f"/Resources/{escape(policy_id)}"
            properties = resource.get("Properties") or {}
            if not isinstance(properties, dict) or not self._created(resource, where):
                continue
            if kind == "AWS::IAM::RolePolicy":
                roles = [choose(self.resolver, properties.get("RoleName"), f"{where}/Properties/RoleName")[0]]
            else:
                roles = [
                    role
                    for role, _ in chosen_items(
                        self.resolver, properties.get("Roles"), f"{where}/Properties/Roles", problems, "Roles"
                    )
                ]
            if any(_refers_to(role, logical_id) for role in roles):
                found.append((policy_id, properties))
        return found

    def facts(self, logical_id: str) -> dict[str, Any]:
        resource = self.resources[logical_id]
        properties = resource.get("Properties") or {}
        properties = properties if isinstance(properties, dict) else {}
        base = f"/Resources/{escape(logical_id)}/Properties"
        resolve = self.resolver.resolve
        problems: list[str] = []
        trust_where = f"{base}/AssumeRolePolicyDocument"
        try:
            trust = normalise_policy_document(
                _policy_strings(resolve(properties.get("AssumeRolePolicyDocument"), trust_where)), trust_where
            )
        except ValueError as exc:
            trust = None
            problems.append(f"the trust policy cannot be read: {exc}")
        policies: list[dict[str, Any]] = []
        for index, (policy, where) in enumerate(
            chosen_items(self.resolver, properties.get("Policies"), f"{base}/Policies", problems, "a policy")
        ):
            if not isinstance(policy, dict):
                continue
            name = _policy_strings(resolve(policy.get("PolicyName", f"policy-{index}"), f"{where}/PolicyName"))
            policies.append(self._template_policy(name, policy, where, problems))
        for policy_id, policy in self.attached(logical_id, problems):
            policies.append(self._template_policy(policy_id, policy, f"/Resources/{escape(policy_id)}", problems))
        for raw, where in chosen_items(
            self.resolver,
            properties.get("ManagedPolicyArns"),
            f"{base}/ManagedPolicyArns",
            problems,
            "a managed policy",
        ):
            policies.append(self._managed(raw, where, problems))
        boundary = resolve(properties.get("PermissionsBoundary"), f"{base}/PermissionsBoundary")
        if isinstance(boundary, Unresolved):
            problems.append(f"the permissions boundary is {boundary.expression}: {boundary.reason}")
            boundary = None
        tags = resolve(properties.get("Tags"), f"{base}/Tags")
        facts: dict[str, Any] = {
            "status": "known",
            "source": "template",
            "reason": "",
            "trust_policy": trust,
            "policies": policies,
            "permissions_boundary": None,
            "details": {
                "logical_id": logical_id,
                "path": _policy_strings(resolve(properties.get("Path", "/"), f"{base}/Path")),
                "tags": {
                    str(_policy_strings(t.get("Key"))): _policy_strings(t.get("Value"))
                    for t in (tags if isinstance(tags, list) else [])
                    if isinstance(t, dict)
                },
                "max_session_duration": _policy_strings(
                    resolve(properties.get("MaxSessionDuration"), f"{base}/MaxSessionDuration")
                ),
                "permissions_boundary_arn": boundary if isinstance(boundary, str) else None,
            },
        }
        if problems:
            facts.update(status="unknown", policies=None, reason=_display("; ".join(problems), 600))
        return facts

    def _template_policy(self, name: Any, policy: dict[str, Any], where: str, problems: list[str]) -> dict[str, Any]:
        """A policy written in the template; `template_path` is where, so a finding can point at it."""
        document_where = f"{where}/Properties/PolicyDocument" if where.count("/") == 2 else f"{where}/PolicyDocument"
        return {
            "name": name,
            "kind": "template",
            "document": self._document(policy, document_where, problems),
            "template_path": document_where,
        }

    def _document(self, policy: dict[str, Any], where: str, problems: list[str]) -> dict[str, Any] | None:
        try:
            return normalise_policy_document(
                _policy_strings(self.resolver.resolve(policy.get("PolicyDocument"), where)), where
            )
        except ValueError as exc:
            problems.append(f"a policy cannot be read: {exc}")
            return None

    def _managed(self, raw: Any, where: str, problems: list[str]) -> dict[str, Any]:
        # A ManagedPolicyArns entry that !Refs an AWS::IAM::ManagedPolicy of the template: its document is here.
        if isinstance(raw, dict) and set(raw) == {"Ref"} and isinstance(raw["Ref"], str):
            target = self.resources.get(raw["Ref"])
            if isinstance(target, dict) and target.get("Type") == "AWS::IAM::ManagedPolicy":
                properties = target.get("Properties") or {}
                return self._template_policy(raw["Ref"], properties, f"/Resources/{escape(raw['Ref'])}", problems)
        arn = self.resolver.resolve(raw, where)
        if not isinstance(arn, str):
            reason = arn.reason if isinstance(arn, Unresolved) else "not a policy ARN"
            problems.append(f"managed policy {render(raw)} at {where} is unresolved: {reason}")
            return {"name": render(raw), "kind": "managed", "arn": None, "document": None, "template_path": where}
        # An AWS managed policy the gate ships is known without IAM (a lookup, when on, replaces it).
        shipped = shipped_entry(arn)
        if shipped is not None:
            return {**shipped, "template_path": where}
        kind = "aws-managed" if ":iam::aws:policy/" in arn else "managed"
        return {"name": arn.rsplit("/", 1)[-1], "kind": kind, "arn": arn, "document": None, "template_path": where}
