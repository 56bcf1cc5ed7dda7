"""AWS managed policies known by name, shipped with the gate (issue 16)."""

from __future__ import annotations

import json

import pytest

from ecs_admission.config import Settings
from ecs_admission.facts.evaluator import EXECUTION_BASELINE, derive_permissions
from ecs_admission.gate import build_gate
from ecs_admission.gate.templates import decide_template
from ecs_admission.iam.managed import shipped_names, shipped_policy
from ecs_admission.inputs.cloudformation import load_template

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def template(*arns: str) -> dict:
    return {
        "Resources": {
            "TaskRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ]
                    },
                    "ManagedPolicyArns": list(arns),
                },
            },
            "Task": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": "app",
                    "TaskRoleArn": {"Fn::GetAtt": ["TaskRole", "Arn"]},
                    "ContainerDefinitions": [{"Name": "app", "Image": "nginx", "Essential": True}],
                },
            },
        }
    }


@pytest.fixture(scope="module")
def gate():
    return build_gate(Settings(iam_lookup="off"))


def rules(decision) -> set[str]:
    return {f.rule for f in decision.violations} | {f.rule for f in decision.warnings}


def test_administrator_access_is_an_administrator_without_iam(gate):
    ((_, decision),) = decide_template(gate, load_template(template(ADMIN)), dry_run=False).results
    admin = next(f for f in decision.violations if f.rule == "ECS-PERM-001")
    assert admin.path == "/Resources/TaskRole/Properties/ManagedPolicyArns/0"
    assert "ECS-ROLE-007" not in rules(decision)


def test_a_policy_not_shipped_still_needs_iam(gate):
    arns = (ADMIN, "arn:aws:iam::aws:policy/AmazonKinesisReadOnlyAccess")
    ((_, decision),) = decide_template(gate, load_template(template(*arns)), dry_run=False).results
    # Part of the role's policies is never judged as all of them.
    assert "ECS-PERM-001" not in rules(decision) and "ECS-ROLE-007" in rules(decision)


def test_the_arn_path_must_match():
    assert shipped_policy("arn:aws:iam::aws:policy/AmazonECSTaskExecutionRolePolicy") is None
    assert shipped_policy("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy") is not None
    assert shipped_policy("arn:aws-cn:iam::aws:policy/AdministratorAccess") is not None
    assert shipped_policy("arn:aws:iam::111122223333:policy/AdministratorAccess") is None


@pytest.mark.parametrize(
    ("name", "answer", "expected"),
    [
        ("AdministratorAccess", "admin_equivalent", True),
        ("IAMFullAccess", "admin_equivalent", True),
        ("PowerUserAccess", "admin_equivalent", False),
        ("ReadOnlyAccess", "admin_equivalent", False),
        ("SecretsManagerReadWrite", "wildcard_data_access", True),
        ("AmazonSSMReadOnlyAccess", "wildcard_data_access", True),
        ("AmazonECS_FullAccess", "escalation_paths", True),
        ("AmazonECSTaskExecutionRolePolicy", "beyond_execution_baseline", False),
    ],
)
def test_verdicts_of_the_shipped_documents(name, answer, expected):
    policy = next(p for p in map(shipped_policy, _arns()) if p and p.name == name)
    permissions = derive_permissions([policy.document], None)
    assert bool(permissions[answer]) is expected, permissions[answer]


def _arns() -> list[str]:
    return [
        f"arn:aws:iam::aws:policy{path}{name}"
        for name in shipped_names()
        for path in ("/", "/service-role/", "/aws-service-role/")
    ]


def test_execution_policy_is_the_baseline():
    policy = shipped_policy("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
    (statement,) = policy.document["Statement"]
    assert sorted(statement["Action"]) == sorted(EXECUTION_BASELINE) and policy.version_id == "v1"


def test_shipped_documents_are_the_aws_managed_copies():
    """The data file is what scripts/aws_managed_policies.py makes of moto's dump of IAM."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    from ecs_admission.iam.documents import normalise_policy_document

    dump = (
        json.loads(aws_managed_policies_data)
        if isinstance(aws_managed_policies_data, str)
        else aws_managed_policies_data
    )
    checked = 0
    for name in shipped_names():
        policy = next(p for p in map(shipped_policy, _arns()) if p and p.name == name)
        entry = dump[name]
        if entry["DefaultVersionId"] != policy.version_id:
            continue  # AWS published a newer version since: regenerate the data file to ship it
        assert normalise_policy_document(entry["Document"]) == policy.document, name
        assert entry["UpdateDate"] == policy.updated
        checked += 1
    assert checked >= len(shipped_names()) // 2
