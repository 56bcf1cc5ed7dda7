"""Turn a role's known policy documents into the answers the Rego rules read.

Runs for every role whose policies are known, whatever their source (caller, template, IAM):
`permissions` for both roles, `access` for the execution role. Unknown policies leave both null,
so a rule can tell "could not check" from "checked and clean".
"""

from __future__ import annotations

from typing import Any

from .evaluator import derive_permissions
from .needs import execution_needs, judge_access, needed_actions, partition_of_region


def _partition(entry: dict[str, Any], region: str | None) -> str:
    arn = entry.get("arn")
    if isinstance(arn, str) and arn.startswith("arn:"):
        return arn.split(":")[1]
    return partition_of_region(region)


def known_documents(entry: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The role's identity policy documents, or None unless every one of them is known."""
    policies = entry.get("policies")
    if policies is None or entry.get("status") != "known":
        return None
    documents = [policy.get("document") for policy in policies]
    if any(document is None for document in documents):
        return None
    return documents


def judge_roles(
    task_roles: dict[str, dict[str, Any]], task_definition: dict[str, Any], context: dict[str, str]
) -> None:
    """Fill `permissions` (and, for the execution role, `access`) in place."""
    region = context.get("region")
    for field, entry in task_roles.items():
        documents = known_documents(entry)
        if documents is None:
            entry["permissions"], entry["access"] = None, None
            continue
        account = context.get("account") or entry.get("account")
        partition = _partition(entry, region)
        boundary = entry.get("permissions_boundary")
        needs = execution_needs(task_definition, region, account, partition)
        entry["permissions"] = derive_permissions(
            documents, boundary, needed_actions(needs), partition=partition, region=region, account=account
        )
        entry["access"] = judge_access(needs, documents, boundary) if field == "executionRoleArn" else None


# The `permissions` answer each permission rule reads (rego/permissions.rego). ECS-PERM-006 is
# left out: what lies beyond the baseline is usually spread over several policies.
RULE_PERMISSION = {
    "ECS-PERM-001": "admin_equivalent",
    "ECS-PERM-002": "escalation_paths",
    "ECS-PERM-003": "passrole_any",
    "ECS-PERM-004": "assumerole_any",
    "ECS-PERM-005": "wildcard_data_access",
}


def responsible_policy_path(finding: Any, roles: dict[str, dict[str, Any]]) -> str | None:
    """For a permission finding about a role written in a template: the template pointer of the first
    policy that grants it on its own (within the boundary), or None (then the role's field is the place)."""
    key = RULE_PERMISSION.get(finding.rule)
    field = finding.path.lstrip("/")
    entry = roles.get(field) if key else None
    if not entry or not entry.get("policies"):
        return None
    boundary = entry.get("permissions_boundary")
    for policy in entry["policies"]:
        document, where = policy.get("document"), policy.get("template_path")
        if document is None or not where:
            continue
        if derive_permissions([document], boundary).get(key):
            return where
    return None
