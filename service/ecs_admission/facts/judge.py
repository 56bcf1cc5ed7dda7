"""Turn a role's known policy documents into the answers the Rego rules read.

Runs for every role whose policies are known, whatever their source (caller, template, IAM):
`permissions` for both roles, `access` for the execution role. Unknown policies leave both null,
so a rule can tell "could not check" from "checked and clean".

A judgement depends only on what it reads (the documents, the boundary, what the task needs, and
where), and the same roles come back on request after request, so each distinct content is judged
once and remembered in a bounded cache.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

from ecs_admission.errors import InputError
from ecs_admission.facts.evaluator import derive_permissions
from ecs_admission.facts.needs import Need, execution_needs, judge_access, needed_actions
from ecs_admission.facts.wildcards import WorkBudgetExceeded, work_budget
from ecs_admission.iam.partitions import partition_of_region
from ecs_admission.parsing import compact_json


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


CACHE_SIZE = 1024

# Pattern-matching steps (facts/wildcards.py) the evaluator may spend on one request's roles. The
# statement budget (iam/documents.py) does not bound the size of each Action/Resource list: one
# statement of 200 many-star patterns against 200 secrets took 38 s. 750,000 steps cost about
# 0.17 s of CPU; ReadOnlyAccess (the largest AWS managed policy) with 60 secrets needs 354,000, and
# with six FullAccess policies beside it 558,000 (docs/hardening.md).
EVALUATION_BUDGET = 750_000


class JudgementCache:
    """The last CACHE_SIZE judgements, keyed by a digest of everything a judgement reads.

    Values are kept as JSON text, so every request gets its own copy to place in its input.
    """

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[Any, Any] | None:
        with self._lock:
            text = self._entries.get(key)
            if text is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        permissions, access = compact_json.loads(text)
        return permissions, access

    def put(self, key: str, permissions: Any, access: Any) -> None:
        text = compact_json.dumps([permissions, access])
        with self._lock:
            self._entries[key] = text
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0


JUDGEMENTS = JudgementCache()


def judgement_key(*parts: Any) -> str:
    return hashlib.sha256(compact_json.dumps(parts, sort_keys=True, default=str)).hexdigest()


def needs_digest(needs_written: list[tuple[Any, ...]]) -> str:
    """The needs as judgement_key takes them in their place: the SHA-256 of their JSON text, as the
    key itself is, so the key still tells every judgement apart, and each role's key hashes 64
    characters instead of the whole list again (measured: the text itself made the keys dearer)."""
    return hashlib.sha256(compact_json.dumps(needs_written, sort_keys=True, default=str)).hexdigest()


def judge_roles(
    task_roles: dict[str, dict[str, Any]],
    task_definition: dict[str, Any],
    context: dict[str, str],
    budget: int = EVALUATION_BUDGET,
) -> None:
    """Fill `permissions` (and, for the execution role, `access`) in place, within `budget` steps.

    Past the budget, facts the caller brought (in the request or its template) are the caller's
    input: InputError, a 400 naming the role. Facts read from IAM are not: the role's facts become
    unknown with the reason, so ECS-ROLE-006 denies (fail closed) and the operator sees why.
    """
    with work_budget(budget):
        _judge_roles(task_roles, task_definition, context)


def _judge_roles(
    task_roles: dict[str, dict[str, Any]], task_definition: dict[str, Any], context: dict[str, str]
) -> None:
    region = context.get("region")
    # Both roles of a task usually share account and partition: what the task needs is worked out
    # once for them, not once per role.
    needs_for: dict[tuple[Any, str], tuple[list[Need], list[tuple[Any, ...]]]] = {}
    for field, entry in task_roles.items():
        documents = known_documents(entry)
        if documents is None:
            entry["permissions"], entry["access"] = None, None
            continue
        account = context.get("account") or entry.get("account")
        partition = _partition(entry, region)
        boundary = entry.get("permissions_boundary")
        if (account, partition) not in needs_for:
            found = execution_needs(task_definition, region, account, partition)
            # Written out and hashed once for the cache keys of both roles (the encoder would call
            # str on each Need).
            needs_for[account, partition] = found, needs_digest([need.key() for need in found])
        needs, needs_written = needs_for[account, partition]
        is_execution = field == "executionRoleArn"
        key = judgement_key(documents, boundary, needs_written, partition, region, account, is_execution)
        cached = JUDGEMENTS.get(key)
        if cached is None:
            try:
                permissions = derive_permissions(
                    documents, boundary, needed_actions(needs), partition=partition, region=region, account=account
                )
                access = judge_access(needs, documents, boundary) if is_execution else None
            except WorkBudgetExceeded as exc:
                _over_budget(field, entry, exc)
                continue
            JUDGEMENTS.put(key, permissions, access)
        else:
            permissions, access = cached
        entry["permissions"], entry["access"] = permissions, access


def _over_budget(field: str, entry: dict[str, Any], exc: WorkBudgetExceeded) -> None:
    problem = (
        f"{exc}, more than the gate spends on one request (docs/hardening.md): its policies hold too many "
        "wildcard patterns for the resources this task definition names"
    )
    if entry.get("source") in ("caller", "template"):
        raise InputError(
            f"the facts supplied for {field} ({entry.get('reference')}): {problem}; "
            "let the gate read the role from IAM",
            field="/roles" if entry.get("source") == "caller" else None,
            error="limit_exceeded",
        )
    entry.update(status="unknown", reason=problem, policies=None, permissions=None, access=None)


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
    try:
        with work_budget(EVALUATION_BUDGET):
            for policy in entry["policies"]:
                document, where = policy.get("document"), policy.get("template_path")
                if document is None or not where:
                    continue
                if derive_permissions([document], boundary).get(key):
                    return where
    except WorkBudgetExceeded:
        pass  # the role's field is the place, as when no single policy grants it
    return None
