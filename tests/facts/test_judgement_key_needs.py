"""The needs are written out and hashed once per request for both roles' cache keys
(facts/judge.py needs_digest): the keys still tell apart exactly the judgements the previous keys
told apart, and a run of judgements through the cache gives what each gives worked out afresh
(issue 26)."""

from __future__ import annotations

import copy
import itertools
import random
from typing import Any

import pytest

from ecs_admission.facts import judge
from ecs_admission.facts.needs import execution_needs
from tests.facts.test_judgement_cache import ACCOUNT, EXECUTION_POLICIES, REGION, TASK_DEFINITION, roles, uncached


def previous_key(documents, boundary, needs, partition, region, account, is_execution) -> str:
    """The key as it was: the needs' fields inside the one JSON text."""
    return judge.judgement_key(
        documents, boundary, [need.key() for need in needs], partition, region, account, is_execution
    )


def new_key(documents, boundary, needs, partition, region, account, is_execution) -> str:
    written = judge.needs_digest([need.key() for need in needs])
    return judge.judgement_key(documents, boundary, written, partition, region, account, is_execution)


def task_definitions(rng: random.Random) -> list[dict[str, Any]]:
    """The test task definition with its secrets, images and log groups changed, so the needs differ."""
    variants = [TASK_DEFINITION]
    for secret, image, group in itertools.product(
        ["db-AbCdEf", "db", "other-XyZ123"], ["api:1", "api:2", "other:1"], ["/ecs/api", "/ecs/b"]
    ):
        changed = copy.deepcopy(TASK_DEFINITION)
        container = changed["containerDefinitions"][0]
        container["secrets"][0]["valueFrom"] = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret}"
        container["image"] = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{image}"
        container["logConfiguration"]["options"]["awslogs-group"] = group
        variants.append(changed)
    rng.shuffle(variants)
    return variants


def test_the_keys_tell_apart_what_the_previous_keys_told_apart():
    rng = random.Random(26)
    cases = []
    for task_definition in task_definitions(rng)[:8]:
        for region, account in ((REGION, ACCOUNT), ("us-east-1", ACCOUNT), (REGION, None)):
            needs = execution_needs(task_definition, region, account, "aws")
            for _name, policy in sorted(EXECUTION_POLICIES.items()):
                for boundary, is_execution in ((None, True), (policy, False)):
                    cases.append(([policy], boundary, needs, "aws", region, account, is_execution))
    old = [previous_key(*case) for case in cases]
    new = [new_key(*case) for case in cases]
    assert len(set(old)) > 100
    for i, j in itertools.combinations(range(len(cases)), 2):
        assert (old[i] == old[j]) == (new[i] == new[j])


@pytest.fixture(autouse=True)
def empty_cache():
    judge.JUDGEMENTS.clear()
    yield
    judge.JUDGEMENTS.clear()


def test_judgements_through_the_cache_are_the_judgements_worked_out_afresh():
    rng = random.Random(62)
    context = {"account": ACCOUNT, "region": REGION}
    variants = task_definitions(rng)
    for _ in range(3):  # the second and third rounds are answered from the cache
        for task_definition in variants:
            for policy in EXECUTION_POLICIES.values():
                task_roles = roles(policy)
                judge.judge_roles(task_roles, task_definition, context)
                for field in ("executionRoleArn", "taskRoleArn"):
                    expected = uncached(task_roles[field], field, task_definition)
                    assert (task_roles[field]["permissions"], task_roles[field]["access"]) == expected
    assert judge.JUDGEMENTS.hits > judge.JUDGEMENTS.misses > 0
