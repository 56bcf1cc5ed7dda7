"""Role judgements are worked out once per distinct content (facts/judge.py), with the same verdicts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ecs_admission.facts import judge
from ecs_admission.facts.evaluator import derive_permissions
from ecs_admission.facts.needs import execution_needs, judge_access, needed_actions

ACCOUNT = "111122223333"
REGION = "eu-west-1"
EXECUTION_ARN = f"arn:aws:iam::{ACCOUNT}:role/exec"
TASK_ARN = f"arn:aws:iam::{ACCOUNT}:role/app"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf"
TASK_DEFINITION = {
    "family": "api",
    "requiresCompatibilities": ["FARGATE"],
    "containerDefinitions": [
        {
            "name": "api",
            "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/api:1",
            "secrets": [{"name": "DB", "valueFrom": SECRET}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/api"}},
        }
    ],
}


def allow(action: Any, resource: Any = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


def roles(execution_policy: dict[str, Any], boundary: Any = None) -> dict[str, dict[str, Any]]:
    return {
        "executionRoleArn": {
            "arn": EXECUTION_ARN,
            "status": "known",
            "policies": [{"name": "exec", "document": execution_policy}],
            "permissions_boundary": boundary,
        },
        "taskRoleArn": {
            "arn": TASK_ARN,
            "status": "known",
            "policies": [{"name": "admin", "document": allow("*")}],
        },
    }


def uncached(entry: dict[str, Any], field: str, task_definition: dict[str, Any]) -> tuple[Any, Any]:
    """The judgement worked out directly, as judge_roles did before it had a cache."""
    documents = [policy["document"] for policy in entry["policies"]]
    boundary = entry.get("permissions_boundary")
    needs = execution_needs(task_definition, REGION, ACCOUNT, "aws")
    permissions = derive_permissions(
        documents, boundary, needed_actions(needs), partition="aws", region=REGION, account=ACCOUNT
    )
    access = judge_access(needs, documents, boundary) if field == "executionRoleArn" else None
    return permissions, access


@pytest.fixture(autouse=True)
def empty_cache():
    judge.JUDGEMENTS.clear()
    yield
    judge.JUDGEMENTS.clear()


EXECUTION_POLICIES = {
    "baseline-only": allow(["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "logs:CreateLogStream"]),
    "secret-readable": allow(["secretsmanager:GetSecretValue", "ecr:*", "logs:*"]),
    "everything": allow("*"),
}


@pytest.mark.parametrize("policy", sorted(EXECUTION_POLICIES))
def test_a_cached_judgement_is_the_judgement(policy):
    context = {"account": ACCOUNT, "region": REGION}
    first = roles(EXECUTION_POLICIES[policy])
    judge.judge_roles(first, TASK_DEFINITION, context)
    assert judge.JUDGEMENTS.misses == 2 and judge.JUDGEMENTS.hits == 0
    second = roles(EXECUTION_POLICIES[policy])
    judge.judge_roles(second, TASK_DEFINITION, context)
    assert judge.JUDGEMENTS.hits == 2
    for field in ("executionRoleArn", "taskRoleArn"):
        expected = uncached(first[field], field, TASK_DEFINITION)
        assert (first[field]["permissions"], first[field]["access"]) == expected
        assert (second[field]["permissions"], second[field]["access"]) == expected


@pytest.mark.parametrize(
    "change",
    ["boundary", "task needs", "account", "region", "field"],
)
def test_anything_a_judgement_reads_makes_a_new_key(change):
    policy = EXECUTION_POLICIES["secret-readable"]
    context = {"account": ACCOUNT, "region": REGION}
    judge.judge_roles(roles(policy), TASK_DEFINITION, context)
    task_definition, execution_roles = TASK_DEFINITION, roles(policy)
    if change == "boundary":
        execution_roles = roles(policy, boundary=allow("logs:*"))
    elif change == "task needs":
        task_definition = copy.deepcopy(TASK_DEFINITION)
        task_definition["containerDefinitions"][0]["secrets"] = []
    elif change == "account":
        context = {"account": "444455556666", "region": REGION}
    elif change == "region":
        context = {"account": ACCOUNT, "region": "us-east-1"}
    else:  # the same documents on the task role are judged without execution access
        execution_roles = {"taskRoleArn": {**execution_roles["executionRoleArn"], "arn": TASK_ARN}}
    judge.judge_roles(execution_roles, task_definition, context)
    assert judge.JUDGEMENTS.misses >= 3
    if change == "boundary":
        assert (execution_roles["executionRoleArn"]["permissions"], execution_roles["executionRoleArn"]["access"]) == (
            uncached(execution_roles["executionRoleArn"], "executionRoleArn", task_definition)
        )
    if change == "field":
        assert execution_roles["taskRoleArn"]["access"] is None


def test_each_request_gets_its_own_copy():
    context = {"account": ACCOUNT, "region": REGION}
    first = roles(EXECUTION_POLICIES["everything"])
    judge.judge_roles(first, TASK_DEFINITION, context)
    first["taskRoleArn"]["permissions"].clear()
    second = roles(EXECUTION_POLICIES["everything"])
    judge.judge_roles(second, TASK_DEFINITION, context)
    assert second["taskRoleArn"]["permissions"] == uncached(second["taskRoleArn"], "taskRoleArn", TASK_DEFINITION)[0]


def test_the_cache_is_bounded():
    cache = judge.JudgementCache(size=3)
    for index in range(5):
        cache.put(str(index), {"n": index}, None)
    assert cache.get("0") is None and cache.get("1") is None
    assert cache.get("4") == ({"n": 4}, None)
    cache.get("2")  # recently used: survives the next insertion
    cache.put("5", {}, None)
    assert cache.get("2") is not None and cache.get("3") is None


def test_a_needs_key_holds_every_field():
    import dataclasses

    from ecs_admission.facts.needs import Need

    resource = "arn:aws:secretsmanager:*:*:secret:x-??????"
    need = Need("secret", "secretsmanager:GetSecretValue", resource, "/p", True, "some")
    assert need.key() == dataclasses.astuple(need)
    assert len(need.key()) == len(dataclasses.fields(Need))
