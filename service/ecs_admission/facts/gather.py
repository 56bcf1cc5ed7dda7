"""The facts provider the gate uses: caller-supplied facts, then the template's, then IAM lookups.

Precedence is what a platform engineer would expect: what the request says about a role wins
(`source: caller`), a role defined in the same CloudFormation template comes next
(`source: template`), and only then is IAM asked (`source: iam`). Whatever is known is then
judged by the policy evaluator (`permissions`, `access`).
"""

from __future__ import annotations

import time
from typing import Any

from ecs_admission.facts.iam import IamLookup, LookupFailure
from ecs_admission.facts.judge import judge_roles
from ecs_admission.facts.roles import ROLE_FIELDS, ROLE_NAME_RE, build_task_roles


class RoleFactsProvider:
    """A FactsProvider (gate/__init__.py); `lookup` is None when IAM lookups are off."""

    def __init__(self, lookup: IamLookup | None = None, lookup_off_reason: str = ""):
        self.lookup = lookup
        self.lookup_off_reason = lookup_off_reason

    def gather(
        self, request: Any, context: dict[str, str], timings: dict[str, float] | None = None
    ) -> dict[str, dict[str, Any]]:
        started = time.perf_counter()
        deadline = self.lookup.deadline() if self.lookup else 0.0
        account = context.get("account")
        account_problem = ""
        if self.lookup and not account and _has_bare_name(request.task_definition):
            found = self.lookup.account_within(deadline)
            if isinstance(found, LookupFailure):
                account_problem = found.reason
            else:
                account = found
        task_roles = build_task_roles(request.task_definition, request.roles, account)
        template_roles: dict[str, dict[str, Any]] = getattr(request, "template_roles", None) or {}
        pending: dict[str, str] = {}
        for field, entry in task_roles.items():
            entry.setdefault("details", None)
            if entry["source"] != "none":
                continue
            if field in template_roles:
                entry.update(template_roles[field])
                self._complete_template_role(entry, deadline)
            elif self.lookup is None:
                if entry["valid"] and not entry["placeholder"] and self.lookup_off_reason:
                    entry["reason"] = f"no facts were supplied for this role and {self.lookup_off_reason}"
            elif entry["arn"] and not entry["placeholder"]:
                pending[field] = entry["arn"]
            elif entry["valid"] and not entry["placeholder"] and not entry["arn"]:
                entry["reason"] = "a bare role name needs the deploy account, which is unknown" + (
                    f": {account_problem}" if account_problem else ""
                )
        if pending and self.lookup:
            found_facts = self.lookup.lookup(pending.values(), deadline)
            for field, arn in pending.items():
                task_roles[field].update(found_facts[arn])
        judge_roles(task_roles, request.task_definition, {**context, **({"account": account} if account else {})})
        if timings is not None:
            timings["iam"] = (time.perf_counter() - started) * 1000
        return task_roles

    def _complete_template_role(self, entry: dict[str, Any], deadline: float) -> None:
        """Resolve the managed policies (and boundary) a template role names only by ARN.

        With IAM lookups on they are read from IAM, the AWS managed policies the gate ships too
        (IAM has the current version; the shipped one stands if IAM cannot answer). Otherwise a
        policy that is not shipped stays unresolved and the role's policies are unknown:
        permissions are never judged from part of a role's policies.
        """
        details = entry.get("details") or {}
        boundary_arn = details.get("permissions_boundary_arn") if entry.get("permissions_boundary") is None else None
        policies = entry.get("policies") or []
        shipped = [p["arn"] for p in policies if p.get("source") == "shipped" and p.get("arn")] if self.lookup else []
        wanted = [p["arn"] for p in policies if p.get("document") is None and p.get("arn")]
        wanted += [boundary_arn] if boundary_arn else []
        if not wanted and not shipped:
            return
        found: dict[str, Any] = self.lookup.policy_documents_within(wanted + shipped, deadline) if self.lookup else {}
        problems = []
        for policy in policies:
            result = found.get(policy.get("arn"))
            if result is None or isinstance(result, LookupFailure):
                continue
            if policy.get("document") is None or policy.get("source") == "shipped":
                policy["document"] = result[1]
                if policy.pop("source", None) == "shipped":
                    policy.pop("version_id", None)
                    policy.pop("updated", None)
        if boundary_arn and found.get(boundary_arn) is not None and not isinstance(found[boundary_arn], LookupFailure):
            entry["permissions_boundary"] = found[boundary_arn][1]
        for arn in wanted:
            result = found.get(arn)
            if isinstance(result, LookupFailure):
                problems.append(result.reason)
            elif result is None:
                problems.append(f"managed policy {arn} is not defined in the template and {self.lookup_off_reason}")
        if problems:
            entry["status"] = "unknown"
            entry["policies"] = None
            entry["reason"] = "; ".join(problems)


def _has_bare_name(task_definition: dict[str, Any]) -> bool:
    return any(
        isinstance(task_definition.get(field), str) and ROLE_NAME_RE.match(task_definition[field]) is not None
        for field in ROLE_FIELDS
    )
