"""The deploy account a task definition is judged against, and where it came from.

Rules compare principals and roles with `input.context.account` (ECS-ROLE-003, ECS-TRUST-002/
004/005). In order: the request's own context (`context.account` of the envelope), the
configured one (ECS_ADMISSION_ACCOUNT), else the task definition's own ARNs (its task and
execution role ARNs and, for describe output, its taskDefinitionArn) when they all name one
account. ARNs that disagree decide nothing: a cross-account role is exactly what some rules look for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ecs_admission.facts.roles import ROLE_ARN_RE, ROLE_FIELDS

TASK_DEFINITION_ARN_RE = re.compile(r"^arn:aws[\w-]*:ecs:[a-z0-9-]+:(\d{12}):task-definition/")

SOURCES = ("request", "configured", "task-definition", "none")


@dataclass(frozen=True)
class DeployAccount:
    account: str | None
    source: str  # one of SOURCES
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"account": self.account, "source": self.source}
        if self.detail:
            data["detail"] = self.detail
        return data


def arn_accounts(task_definition: dict[str, Any], task_definition_arn: str | None = None) -> dict[str, str]:
    """The account each of the task definition's own ARNs names: {field: account}."""
    found = {}
    for field in ROLE_FIELDS:
        match = (
            ROLE_ARN_RE.match(task_definition.get(field) or "") if isinstance(task_definition.get(field), str) else None
        )
        if match:
            found[field] = match.group(2)
    match = TASK_DEFINITION_ARN_RE.match(task_definition_arn or "")
    if match:
        found["taskDefinitionArn"] = match.group(1)
    return found


def deploy_account(
    requested: str | None,
    configured: str | None,
    task_definition: dict[str, Any],
    task_definition_arn: str | None = None,
) -> DeployAccount:
    if requested:
        return DeployAccount(requested, "request", "context.account of the request")
    if configured:
        return DeployAccount(configured, "configured", "ECS_ADMISSION_ACCOUNT")
    named = arn_accounts(task_definition, task_definition_arn)
    accounts = sorted(set(named.values()))
    if len(accounts) == 1:
        return DeployAccount(accounts[0], "task-definition", "the account of " + ", ".join(sorted(named)))
    if accounts:
        words = ", ".join(f"{field} in {account}" for field, account in sorted(named.items()))
        return DeployAccount(None, "none", f"the task definition's ARNs name different accounts ({words})")
    return DeployAccount(None, "none", "no deploy account is configured and no ARN of the task definition names one")
