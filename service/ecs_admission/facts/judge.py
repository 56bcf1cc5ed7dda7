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
