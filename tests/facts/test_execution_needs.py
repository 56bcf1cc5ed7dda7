"""What the execution role must allow for a task definition, and caller-supplied role facts end to end."""


import datetime

from ecs_admission.config import Settings
from ecs_admission.facts.evaluator import ALLOWED, CONDITIONAL, DENIED, EXECUTION_BASELINE
from ecs_admission.facts.needs import execution_needs, judge_access, needed_actions
from ecs_admission.gate import build_gate
from ecs_admission.inputs import normalise
from tests.facts.test_evaluator import ACCOUNT, SECRET, allow, doc

# -- what the execution role must allow, and the caller-supplied path end to end ---------------

TASK = {
    "family": "payments",
    "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/payments-exec",
    "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/payments-task",
    "containerDefinitions": [
        {
            "name": "api",
            "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/payments-api:1.4.2",
            "secrets": [
                {"name": "DB", "valueFrom": f"{SECRET}:password::"},
                {"name": "TOKEN", "valueFrom": "/payments/token"},
                {"name": "KEY", "valueFrom": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:api-key"},
            ],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/ecs/payments",
                    "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "ecs",
                },
            },
            "environmentFiles": [{"value": "arn:aws:s3:::payments-config/api.env", "type": "s3"}],
        },
        {
            "name": "sidecar",
            "image": "registry.example.com/agent:2",
            "repositoryCredentials": {"credentialsParameter": "registry-login"},
        },
    ],
}


def _needs():
    return {(n.purpose, n.action, n.resource, n.path) for n in execution_needs(TASK, "us-east-1", ACCOUNT)}


def test_execution_needs_cover_every_field_that_uses_the_role():
    repo = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team/payments-api"
    streams = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/ecs/payments:log-stream:ecs/api/*"
    assert _needs() == {
        ("secret", "secretsmanager:GetSecretValue", SECRET, "/containerDefinitions/0/secrets/0/valueFrom"),
        (
            "parameter",
            "ssm:GetParameters",
            f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/payments/token",
            "/containerDefinitions/0/secrets/1/valueFrom",
        ),
        (
            "secret",
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:api-key-??????",
            "/containerDefinitions/0/secrets/2/valueFrom",
        ),
        ("ecr-pull", "ecr:GetAuthorizationToken", "*", "/containerDefinitions/0/image"),
        ("ecr-pull", "ecr:BatchGetImage", repo, "/containerDefinitions/0/image"),
        ("ecr-pull", "ecr:GetDownloadUrlForLayer", repo, "/containerDefinitions/0/image"),
        ("logs", "logs:CreateLogStream", streams, "/containerDefinitions/0/logConfiguration/options/awslogs-group"),
        ("logs", "logs:PutLogEvents", streams, "/containerDefinitions/0/logConfiguration/options/awslogs-group"),
        (
            "environment-file",
            "s3:GetObject",
            "arn:aws:s3:::payments-config/api.env",
            "/containerDefinitions/0/environmentFiles/0/value",
        ),
        (
            "environment-file",
            "s3:GetBucketLocation",
            "arn:aws:s3:::payments-config",
            "/containerDefinitions/0/environmentFiles/0/value",
        ),
        (
            "private-registry",
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:registry-login-??????",
            "/containerDefinitions/1/repositoryCredentials/credentialsParameter",
        ),
    }


def test_needs_skip_placeholders_and_public_images():
    task = {"containerDefinitions": [{"name": "a", "image": "<IMAGE1_NAME>"}, {"name": "b", "image": "nginx:1.27"}]}
    assert execution_needs(task, "us-east-1", ACCOUNT) == []


def test_needs_skip_a_valuefrom_that_is_wholly_a_template_expression():
    # `ValueFrom: !Ref TokenSecretArn` (a parameter without a default): not a parameter named "${!Ref ...}".
    secrets = [{"name": "T", "valueFrom": "${!Ref TokenSecretArn}"}, {"name": "U", "valueFrom": "${!Sub arn:x}"}]
    assert execution_needs({"containerDefinitions": [{"name": "a", "secrets": secrets}]}, "us-east-1", ACCOUNT) == []


def test_needs_with_unknown_region_are_existential():
    task = {"containerDefinitions": [{"name": "a", "secrets": [{"name": "T", "valueFrom": "token"}]}]}
    (need,) = execution_needs(task, None, None)
    assert need.resource == "arn:aws:ssm:*:*:parameter/token" and need.mode == "some"
    exact = doc(allow("ssm:GetParameters", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/token"))
    assert judge_access([need], [exact], None)[0]["decision"] == CONDITIONAL


def test_needed_actions_add_kms_for_secrets():
    needs = execution_needs(TASK, "us-east-1", ACCOUNT)
    assert "kms:Decrypt" in needed_actions(needs)
    assert "kms:Decrypt" not in needed_actions([n for n in needs if n.purpose == "ecr-pull"])


EXECUTION_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": list(EXECUTION_BASELINE), "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": [f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-*"],
        },
        {
            "Effect": "Allow",
            "Action": "ssm:GetParameters",
            "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/payments/*",
        },
    ],
}


def test_caller_facts_get_permissions_and_access():
    body = {
        "taskDefinition": TASK,
        "roles": {
            TASK["executionRoleArn"]: {"policies": [EXECUTION_POLICY]},
            TASK["taskRoleArn"]: {"policies": [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]},
        },
        "context": {"account": ACCOUNT, "region": "us-east-1"},
    }
    gate = build_gate(Settings(iam_lookup="off"))
    roles = gate.input_document(normalise(body), now=datetime.datetime(2026, 1, 1))["task_roles"]
    execution, task = roles["executionRoleArn"], roles["taskRoleArn"]
    assert task["permissions"]["admin_equivalent"] is True and task["access"] is None
    decisions = {(a["purpose"], a["action"], a["path"]): a["decision"] for a in execution["access"]}
    assert (
        decisions[("secret", "secretsmanager:GetSecretValue", "/containerDefinitions/0/secrets/0/valueFrom")] == ALLOWED
    )
    assert decisions[("parameter", "ssm:GetParameters", "/containerDefinitions/0/secrets/1/valueFrom")] == ALLOWED
    assert (
        decisions[("secret", "secretsmanager:GetSecretValue", "/containerDefinitions/0/secrets/2/valueFrom")] == DENIED
    )
    assert (
        decisions[("logs", "logs:PutLogEvents", "/containerDefinitions/0/logConfiguration/options/awslogs-group")]
        == ALLOWED
    )
    assert decisions[("environment-file", "s3:GetObject", "/containerDefinitions/0/environmentFiles/0/value")] == DENIED
    permissions = execution["permissions"]
    assert permissions["admin_equivalent"] is False
    assert permissions["beyond_execution_baseline"] == []
    assert permissions["wildcard_data_access"] == []


def test_caller_facts_without_policies_leave_permissions_null():
    body = {"taskDefinition": TASK, "roles": {TASK["taskRoleArn"]: {"trustPolicy": {"Statement": []}}}}
    gate = build_gate(Settings(iam_lookup="off"))
    roles = gate.input_document(normalise(body), now=datetime.datetime(2026, 1, 1))["task_roles"]
    assert roles["taskRoleArn"]["permissions"] is None and roles["taskRoleArn"]["access"] is None
    assert roles["executionRoleArn"]["status"] == "unknown"
    assert "ECS_ADMISSION_IAM_LOOKUP=off" in roles["executionRoleArn"]["reason"]
