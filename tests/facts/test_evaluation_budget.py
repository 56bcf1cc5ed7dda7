"""The evaluator's work budget (issue 21 row 4): patterns x resources, not statements, bound the work.

One statement of 200 many-star patterns against 200 secret ARNs took 38 s although it is one
statement; now every comparison is charged its steps and a request's roles share one budget.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from ecs_admission.errors import InputError
from ecs_admission.facts.evaluator import derive_permissions
from ecs_admission.facts.judge import EVALUATION_BUDGET, JUDGEMENTS, judge_roles
from ecs_admission.facts.needs import execution_needs, judge_access, needed_actions
from ecs_admission.facts.roles import build_task_roles
from ecs_admission.facts.wildcards import (
    WorkBudgetExceeded,
    covers,
    intersects,
    resource_matches,
    resource_tokens,
    work_budget,
)
from ecs_admission.iam.managed import shipped_policy
from ecs_admission.inputs import normalise
from tests.conftest import REPO

# Wall-clock bound for the refusal; relaxed only on a development machine shared with heavy work.
SECONDS = float(os.environ.get("ECS_ADMISSION_HOSTILE_BUDGET", "1.0"))
ROLE = "arn:aws:iam::111122223333:role/exec"
ECS_TASKS = {"Service": "ecs-tasks.amazonaws.com"}
TRUST = {"Statement": [{"Effect": "Allow", "Principal": ECS_TASKS, "Action": "sts:AssumeRole"}]}


def many_stars(patterns: int, secrets: int) -> dict:
    """The red team's body: one statement of many-star patterns, a task definition with many secrets."""
    resources = [
        "arn:aws:secretsmanager:*:*:secret:" + "*".join(f"saaa{chr(65 + (i + j) % 26)}" for j in range(8)) + f"*Q{i}*N*"
        for i in range(patterns)
    ]
    valued = [
        {"name": f"S{i}", "valueFrom": f"arn:aws:secretsmanager:us-east-1:111122223333:secret:saaaXs{i}-AbCdEf"}
        for i in range(secrets)
    ]
    document = {
        "family": "many-stars",
        "executionRoleArn": ROLE,
        "containerDefinitions": [{"name": "a", "image": "nginx:1.27", "secrets": valued}],
    }
    policy = {"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": resources}]}
    return {"taskDefinition": document, "roles": {ROLE: {"trustPolicy": TRUST, "policies": [policy]}}}


def judged(body: dict, source: str = "caller", budget: int = EVALUATION_BUDGET) -> dict:
    request = normalise(body)
    roles = build_task_roles(request.task_definition, request.roles, "111122223333")
    for entry in roles.values():
        entry["source"] = source
    judge_roles(roles, request.task_definition, {"region": "us-east-1", "account": "111122223333"}, budget)
    return roles


@pytest.fixture(autouse=True)
def fresh_cache():
    JUDGEMENTS.clear()
    yield
    JUDGEMENTS.clear()


def test_comparisons_are_charged_and_stop_at_the_budget():
    assert resource_matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/x")  # no budget: unbounded, as before
    with work_budget(10_000) as budget:
        assert resource_matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/x")
        assert 0 < budget.spent < 100
    pattern, subject = resource_tokens("a*" * 400 + "b", True), resource_tokens("a" * 2000 + "b", False)
    with work_budget(5_000) as budget, pytest.raises(WorkBudgetExceeded, match="5,000 pattern-matching steps"):
        covers(pattern, subject)
    assert budget.spent <= 5_000 + len(pattern) + 1  # stopped at the budget, not after the whole walk
    with work_budget(5_000), pytest.raises(WorkBudgetExceeded):
        intersects(pattern, resource_tokens("a?" * 400 + "ab", True))


def test_an_inner_budget_gets_what_the_outer_has_left_and_spends_it():
    with work_budget(1_000) as outer:
        with work_budget(10_000) as inner:
            assert inner.limit == 1_000
            resource_matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/x")
        assert outer.spent == inner.spent > 0


def test_two_hundred_patterns_by_two_hundred_secrets_is_a_400_well_within_a_second():
    # CPU time, which is what the budget bounds: wall time on a shared machine also counts the others.
    started = time.thread_time()
    with pytest.raises(InputError) as refused:
        judged(many_stars(200, 200))
    elapsed = time.thread_time() - started
    assert refused.value.error == "limit_exceeded" and refused.value.field == "/roles"
    assert "executionRoleArn" in refused.value.problem and "pattern-matching steps" in refused.value.problem
    assert elapsed < SECONDS, elapsed


def test_a_small_role_of_the_same_shape_is_judged():
    roles = judged(many_stars(5, 5))
    assert roles["executionRoleArn"]["access"] is not None


def test_facts_read_from_iam_past_the_budget_are_unknown_so_the_role_rules_deny():
    roles = judged(many_stars(200, 200), source="iam")
    entry = roles["executionRoleArn"]
    assert entry["status"] == "unknown" and entry["permissions"] is None and entry["access"] is None
    assert "pattern-matching steps" in entry["reason"]


def test_the_largest_aws_managed_policies_fit_the_budget():
    """ReadOnlyAccess (98 KB) and six FullAccess policies, against ten containers' worth of secrets."""
    names = [
        "ReadOnlyAccess",
        "CloudWatchFullAccessV2",
        "AmazonECS_FullAccess",
        "AWSGlueConsoleFullAccess",
        "AmazonDynamoDBFullAccess",
        "SecretsManagerReadWrite",
        "AWSLambda_FullAccess",
    ]
    documents = [shipped_policy(f"arn:aws:iam::aws:policy/{name}").document for name in names]
    secrets = [
        {"name": f"S{i}", "valueFrom": f"arn:aws:secretsmanager:us-east-1:111122223333:secret:app/s{i}-AbCdEf"}
        for i in range(60)
    ]
    logs = {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/x", "awslogs-region": "us-east-1"}}
    task = {
        "family": "f",
        "containerDefinitions": [
            {"name": f"c{j}", "image": "nginx:1", "secrets": secrets[j * 6 : (j + 1) * 6], "logConfiguration": logs}
            for j in range(10)
        ],
    }
    needs = execution_needs(task, "us-east-1", "111122223333", "aws")
    with work_budget(EVALUATION_BUDGET) as budget:
        derive_permissions(documents, None, needed_actions(needs), "aws", "us-east-1", "111122223333")
        judge_access(needs, documents, None)
    assert budget.spent < EVALUATION_BUDGET * 0.8, budget.spent


def test_the_cli_says_so_with_exit_2(tmp_path, capsys):
    from ecs_admission.cli.commands import main

    path = tmp_path / "envelope.json"
    path.write_text(json.dumps(many_stars(200, 200)))
    assert main(["check", str(path), "--policy-dir", str(REPO / "rego")]) == 2
    assert "pattern-matching steps" in capsys.readouterr().err
