"""Role facts from the plan: the aws_iam_role a task definition names, and every policy the plan gives it.

A role created in the same plan is known from the plan alone: its trust policy
(`assume_role_policy`, or the `aws_iam_policy_document` data source it is built from), its inline
policies (`inline_policy`, `aws_iam_role_policy`), and its managed policies (`managed_policy_arns`,
`aws_iam_role_policy_attachment`, with the `aws_iam_policy` document when that policy is in the
plan too). A document unknown until apply makes the role's facts unknown with the reason; part of
a role's policies is never judged as if it were all of them.
"""

from __future__ import annotations

from typing import Any

from ecs_admission.iam.documents import normalise_policy_document
from ecs_admission.iam.managed import shipped_entry
from ecs_admission.inputs.terraform.plan import Instance, Plan

ROLE = "aws_iam_role"
ROLE_POLICY = "aws_iam_role_policy"
ATTACHMENT = "aws_iam_role_policy_attachment"
# Attaches one managed policy to several roles, users and groups at once.
SHARED_ATTACHMENT = "aws_iam_policy_attachment"
POLICY = "aws_iam_policy"
POLICY_DOCUMENT = "aws_iam_policy_document"
# Actions after which the instance exists: a role being destroyed grants nothing afterwards.
LIVING = {"create", "update", "no-op", "read"}


def _living(instance: Instance) -> bool:
    return bool(set(instance.actions) & LIVING) or not instance.actions


class PlanRoles:
    def __init__(self, plan: Plan):
        self.plan = plan

    def role_for(self, task_definition: Instance, attribute: str) -> Instance | None:
        """The plan's aws_iam_role that the task definition's role attribute names, by reference or by ARN."""
        found = self.plan.follow(task_definition.address, attribute, (ROLE,))
        if found is not None:
            # data.aws_iam_role is a role that exists outside the plan: its policies are not here, so
            # it is not a plan role (its ARN is known while planning, and IAM lookups read it).
            return found if found.address.mode == "managed" else None
        value = task_definition.value(attribute)
        if isinstance(value, str) and value:
            for role in self.plan.of_type(ROLE):
                if role.address.mode == "managed" and role.value("arn") == value:
                    return role
        return None

    def facts(self, role: Instance) -> dict[str, Any]:
        problems: list[str] = []
        where = str(role.address)
        trust = self._document(role, "assume_role_policy", f"{where}.assume_role_policy", problems)
        policies: list[dict[str, Any]] = []
        configured_inline = self.plan.configured(role.address, "inline_policy")
        if role.unknown("inline_policy") and configured_inline:
            problems.append(f"{where}.inline_policy is known only after apply")
        for index, inline in enumerate(role.value("inline_policy") or []):
            if not isinstance(inline, dict) or not inline.get("policy"):
                continue
            path = f"{where}.inline_policy[{index}].policy"
            policies.append(self._policy(inline.get("name") or f"inline-{index}", inline["policy"], path, problems))
        configured_managed = self.plan.configured(role.address, "managed_policy_arns")
        if role.unknown("managed_policy_arns") and configured_managed:
            problems.append(f"{where}.managed_policy_arns is known only after apply")
        for index, arn in enumerate(role.value("managed_policy_arns") or []):
            if isinstance(arn, str):
                policies.append(self._managed(arn, f"{where}.managed_policy_arns[{index}]"))
        for policy in self._attached(role, ROLE_POLICY):
            path = f"{policy.address}.policy"
            document = self._document(policy, "policy", path, problems)
            name = policy.value("name") or str(policy.address)
            policies.append({"name": name, "kind": "template", "document": document, "template_path": path})
        for attachment in self._attached(role, ATTACHMENT):
            policies.append(self._attachment(attachment, problems))
        for attachment in self._shared(role):
            policies.append(self._attachment(attachment, problems))
        boundary = role.value("permissions_boundary")
        if role.unknown("permissions_boundary"):
            problems.append(f"{where}.permissions_boundary is known only after apply")
        tags = role.value("tags")
        facts: dict[str, Any] = {
            "status": "known",
            "source": "template",
            "reason": "",
            "trust_policy": trust,
            "policies": policies,
            "permissions_boundary": None,
            "valid": True,
            "details": {
                "logical_id": where,
                "terraform_address": where,
                "path": role.value("path") or "/",
                "tags": tags if isinstance(tags, dict) else {},
                "max_session_duration": role.value("max_session_duration"),
                "permissions_boundary_arn": boundary if isinstance(boundary, str) and boundary else None,
            },
        }
        if problems:
            facts.update(status="unknown", policies=None, reason="; ".join(problems)[:600])
        return facts

    # -- the pieces -------------------------------------------------------------------------------

    def _attached(self, role: Instance, kind: str) -> list[Instance]:
        """Instances of `kind` whose `role` is this role: by reference in the configuration, or by its known name."""
        name = role.value("name")
        found = []
        for candidate in self.plan.of_type(kind):
            if candidate.address.mode != "managed" or not _living(candidate):
                continue
            target = self.plan.follow(candidate.address, "role", (ROLE,))
            if target is role or (target is None and isinstance(name, str) and candidate.value("role") == name):
                found.append(candidate)
        return found

    def _shared(self, role: Instance) -> list[Instance]:
        """aws_iam_policy_attachment instances whose `roles` name this role, by reference or by known name."""
        name = role.value("name")
        found = []
        for candidate in self.plan.of_type(SHARED_ATTACHMENT):
            if candidate.address.mode != "managed" or not _living(candidate):
                continue
            named = candidate.value("roles") or []
            targets = self.plan.follow_all(candidate.address, "roles", (ROLE,))
            if any(t is role for t in targets) or (isinstance(name, str) and name in named):
                found.append(candidate)
        return found

    def _document(self, owner: Instance, attribute: str, path: str, problems: list[str]) -> dict[str, Any] | None:
        """A policy document attribute: its JSON when planned, else the policy document data source it reads."""
        raw = owner.value(attribute)
        if not isinstance(raw, str) or not raw:
            source = self.plan.follow(owner.address, attribute, (POLICY_DOCUMENT,))
            if source is not None and source.address.mode == "data":
                raw = source.value("json")
                path = f"{source.address}.json"
        if not isinstance(raw, str) or not raw:
            problems.append(f"{path} is known only after apply")
            return None
        try:
            return normalise_policy_document(raw, path)
        except ValueError as exc:
            problems.append(f"{path} cannot be read: {exc}")
            return None

    def _policy(self, name: str, raw: Any, path: str, problems: list[str]) -> dict[str, Any]:
        try:
            document = normalise_policy_document(raw, path)
        except ValueError as exc:
            problems.append(f"{path} cannot be read: {exc}")
            document = None
        return {"name": name, "kind": "template", "document": document, "template_path": path}

    def _managed(self, arn: str, path: str) -> dict[str, Any]:
        shipped = shipped_entry(arn)
        if shipped is not None:
            return {**shipped, "template_path": path}
        for policy in self.plan.of_type(POLICY):
            if policy.value("arn") == arn:
                return {
                    "name": arn.rsplit("/", 1)[-1],
                    "kind": "template",
                    "arn": arn,
                    "template_path": path,
                    "document": self._document(policy, "policy", f"{policy.address}.policy", []),
                }
        kind = "aws-managed" if ":iam::aws:policy/" in arn else "managed"
        return {"name": arn.rsplit("/", 1)[-1], "kind": kind, "arn": arn, "document": None, "template_path": path}

    def _attachment(self, attachment: Instance, problems: list[str]) -> dict[str, Any]:
        path = f"{attachment.address}.policy_arn"
        arn = attachment.value("policy_arn")
        policy = self.plan.follow(attachment.address, "policy_arn", (POLICY,))
        if policy is not None:
            # An aws_iam_policy of the same plan: its document is here, even when its ARN is not yet.
            document_path = f"{policy.address}.policy"
            document = self._document(policy, "policy", document_path, problems)
            name = policy.value("name") or str(policy.address)
            return {"name": name, "kind": "template", "document": document, "template_path": document_path}
        if isinstance(arn, str) and arn:
            return self._managed(arn, path)
        problems.append(f"{path} is known only after apply")
        return {
            "name": str(attachment.address),
            "kind": "managed",
            "arn": None,
            "document": None,
            "template_path": path,
        }


def unfollowed(attribute: str, expression: str) -> dict[str, Any]:
    """Facts for a role the plan does not decide: unknown, with the reason, never an allow."""
    return {
        "status": "unknown",
        "source": "none",
        "reason": f"{expression} is known only after apply and is not a role of this plan, so the role is undecided",
        "valid": True,
    }
