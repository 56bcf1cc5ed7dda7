"""Resolve the task definition's role fields and attach what is known about each role.

Every role field that is set gets an entry in `input.task_roles`, known or not: a policy must be
able to say "I could not check this" rather than find nothing and allow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ecs_admission.inputs.shapes import PLACEHOLDER_RE

ROLE_FIELDS = ("taskRoleArn", "executionRoleArn")
ROLE_ARN_RE = re.compile(
    r"^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):iam::(\d{12}):role/((?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,64})$"
)
ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")


@dataclass(frozen=True)
class RoleReference:
    """A role field's value as written, and what it resolves to."""

    field: str
    reference: str
    arn: str | None
    name: str | None
    account: str | None
    valid: bool
    placeholder: bool

    def base_facts(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "reference": self.reference,
            "arn": self.arn,
            "name": self.name,
            "account": self.account,
            "valid": self.valid,
            "placeholder": self.placeholder,
        }


def parse_role_reference(field: str, reference: str, account: str | None, partition: str = "aws") -> RoleReference:
    """A full role ARN, or a bare role name resolved against the deploy account (ECS accepts both)."""
    placeholder = bool(PLACEHOLDER_RE.search(reference))
    match = ROLE_ARN_RE.match(reference)
    if match:
        return RoleReference(field, reference, reference, match.group(4), match.group(2), True, placeholder)
    if ROLE_NAME_RE.match(reference):
        arn = f"arn:{partition}:iam::{account}:role/{reference}" if account else None
        return RoleReference(field, reference, arn, reference, account, True, placeholder)
    return RoleReference(field, reference, None, None, None, False, placeholder)


def _supplied_for(reference: RoleReference, supplied: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """Find the caller's facts for a role: by the reference as written, by ARN, or by role name."""
    for key in (reference.reference, reference.arn):
        if key and key in supplied:
            return supplied[key]
    if reference.name:
        for key, facts in supplied.items():
            match = ROLE_ARN_RE.match(key)
            same_account = reference.account is None or (match and match.group(2) == reference.account)
            if match and match.group(4) == reference.name and same_account:
                return facts
    return None


def caller_facts(facts: dict[str, Any]) -> dict[str, Any]:
    """Package the caller's (already normalised) documents as known facts."""
    policies = facts.get("policies")
    return {
        "status": "known",
        "source": "caller",
        "reason": "",
        "trust_policy": facts.get("trustPolicy"),
        "policies": None
        if policies is None
        else [{"name": f"caller-{index}", "kind": "caller", "document": doc} for index, doc in enumerate(policies)],
        "permissions_boundary": facts.get("permissionsBoundary"),
    }


UNKNOWN = {
    "status": "unknown",
    "source": "none",
    "reason": "no facts were supplied for this role and IAM lookups are not enabled",
    "trust_policy": None,
    "policies": None,
    "permissions_boundary": None,
}


def build_task_roles(
    task_definition: dict[str, Any], supplied: dict[str, dict[str, Any]], account: str | None
) -> dict[str, dict[str, Any]]:
    """`input.task_roles`: one entry per role field that is set, with caller facts where given."""
    task_roles: dict[str, dict[str, Any]] = {}
    for field in ROLE_FIELDS:
        value = task_definition.get(field)
        if not isinstance(value, str) or value == "":
            continue
        reference = parse_role_reference(field, value, account)
        entry = {**reference.base_facts(), **UNKNOWN, "permissions": None, "access": None}
        found = _supplied_for(reference, supplied)
        if found:
            entry.update(caller_facts(found))
        elif reference.placeholder:
            entry["reason"] = "the role field is an unrendered placeholder"
        elif not reference.valid:
            entry["reason"] = "the role field is not a role ARN or role name"
        task_roles[field] = entry
    return task_roles
