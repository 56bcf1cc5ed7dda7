"""The deploy account: from the request, the configuration, else the task definition's own ARNs (issue 16)."""

from __future__ import annotations

import pytest

from ecs_admission.config import Settings
from ecs_admission.facts.account import deploy_account
from ecs_admission.gate import build_gate
from ecs_admission.inputs import normalise

HOME, OTHER = "111122223333", "999988887777"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": HOME}},
        },
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "sts:AssumeRole"},
    ],
}


def envelope(context: dict | None = None, execution: str = f"arn:aws:iam::{HOME}:role/exec") -> dict:
    return {
        "taskDefinition": {
            "family": "app",
            "taskRoleArn": "app",  # a bare name: its account is the deploy account
            "executionRoleArn": execution,
            "containerDefinitions": [{"name": "app", "image": "public.ecr.aws/nginx/nginx:1.27", "essential": True}],
        },
        "roles": {"app": {"trustPolicy": TRUST, "policies": []}},
        **({"context": context} if context else {}),
    }


@pytest.fixture(scope="module")
def gate():
    return build_gate(Settings(iam_lookup="off", default_account=None, default_region="us-east-1"))


def rules(findings) -> dict[str, str]:
    return {f.rule: f.message for f in findings}


def test_account_from_the_task_definitions_role_arns_judges_a_foreign_root(gate):
    decision = gate.decide(normalise(envelope()), dry_run=False)
    assert decision.deploy_account["account"] == HOME
    assert decision.deploy_account["source"] == "task-definition"
    assert "executionRoleArn" in decision.deploy_account["detail"]
    denied = rules(decision.violations)
    assert "ECS-TRUST-002" in denied and f"every principal in account {OTHER}" in denied["ECS-TRUST-002"]
    assert "ECS-TRUST-005" not in rules(decision.warnings)
    assert decision.to_dict()["deploy_account"]["source"] == "task-definition"


def test_without_any_source_the_principal_cannot_be_compared(gate):
    decision = gate.decide(normalise(envelope(execution="exec")), dry_run=False)
    assert decision.deploy_account["account"] is None and decision.deploy_account["source"] == "none"
    assert "could not be compared" in rules(decision.warnings)["ECS-TRUST-005"]


def test_the_request_context_wins(gate):
    decision = gate.decide(normalise(envelope({"account": OTHER})), dry_run=False)
    assert decision.deploy_account == {
        "account": OTHER,
        "source": "request",
        "detail": "context.account of the request",
    }
    # The foreign root is now the deploy account's own: a warning, not a deny.
    assert "ECS-TRUST-002" not in rules(decision.violations)
    context = gate.input_document(normalise(envelope({"account": OTHER})), __import__("datetime").datetime.now())
    assert context["context"]["account"] == OTHER and context["context"]["account_source"] == "request"


def test_configured_account_comes_before_the_arns():
    gate = build_gate(Settings(iam_lookup="off", default_account=OTHER, default_region="us-east-1"))
    decision = gate.decide(normalise(envelope()), dry_run=False)
    assert (decision.deploy_account["account"], decision.deploy_account["source"]) == (OTHER, "configured")


def test_arns_that_disagree_decide_nothing():
    task_definition = {
        "taskRoleArn": f"arn:aws:iam::{OTHER}:role/app",
        "executionRoleArn": f"arn:aws:iam::{HOME}:role/exec",
    }
    found = deploy_account(None, None, task_definition)
    assert found.account is None and found.source == "none"
    assert f"taskRoleArn in {OTHER}" in found.detail and f"executionRoleArn in {HOME}" in found.detail


def test_describe_outputs_task_definition_arn_names_the_account():
    arn = f"arn:aws:ecs:us-east-1:{HOME}:task-definition/app:3"
    request = normalise(
        {
            "taskDefinition": {
                "taskDefinitionArn": arn,
                "family": "app",
                "revision": 3,
                "containerDefinitions": [{"name": "a", "image": "nginx"}],
            }
        }
    )
    assert request.task_definition_arn == arn
    found = deploy_account(None, None, request.task_definition, request.task_definition_arn)
    assert (found.account, found.detail) == (HOME, "the account of taskDefinitionArn")
