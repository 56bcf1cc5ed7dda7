"""The role facts rego_variants.py draws its variants from: trust policies, identity policies, and
facts laid over the gathered ones as the IAM provider would produce them (missing, unknown, the
permissions and access verdicts). Data only; the order of each list is part of the frozen variants.
"""

from __future__ import annotations

from typing import Any

ACCOUNT = "111122223333"
OTHER = "444455556666"

ECS = {"Service": "ecs-tasks.amazonaws.com"}
SOURCE = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
TRUST_STATEMENTS: list[list[dict[str, Any]]] = [
    [{"Effect": "Allow", "Principal": ECS, "Action": "sts:AssumeRole", "Condition": SOURCE}],
    [{"Effect": "Allow", "Principal": ECS, "Action": "sts:AssumeRole"}],
    [{"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}],
    [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
        }
    ],
    [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "sts:AssumeRole"}],
    [
        {
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:role/ci"]},
            "Action": "sts:AssumeRole",
        },
        {"Effect": "Allow", "Principal": ECS, "Action": "sts:AssumeRole", "Condition": SOURCE},
    ],
    [
        {
            "Effect": "Allow",
            "Principal": {"AWS": OTHER, "Federated": "cognito-identity.amazonaws.com"},
            "Action": ["sts:AssumeRoleWithWebIdentity", "sts:AssumeRole"],
        }
    ],
    [{"Sid": "Tasks", "Effect": "Allow", "Principal": ECS, "Action": "sts:*"}],
    [{"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "sts:AssumeRole"}],
    [{"Effect": "Allow", "Principal": ECS, "NotAction": "sts:TagSession"}],
    [
        {"Effect": "Allow", "Principal": ECS, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
    ],
    [
        {"Effect": "Allow", "Principal": ECS, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "NotPrincipal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:*"},
    ],
    [
        {
            "Effect": "Allow",
            "Principal": ECS,
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": OTHER},
                "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:us-east-1:{OTHER}:*"},
            },
        }
    ],
    [
        {
            "Effect": "Allow",
            "Principal": ECS,
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "${account_id}"}},
        }
    ],
    [
        {
            "Effect": "Allow",
            "Principal": ECS,
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringNotEquals": {"aws:SourceAccount": OTHER},
                "StringLikeIfExists": {"aws:SourceArn": "*"},
            },
        }
    ],
    [
        {
            "Effect": "Allow",
            "Principal": ECS,
            "Action": "sts:AssumeRole",
            "Condition": {
                "ForAnyValue:StringEquals": {"aws:SourceOrgID": "o-abc123"},
                "ArnLike": {"aws:SourceArn": "arn:aws:ecs:*:*:*"},
            },
        }
    ],
    [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com"], "AWS": "123456789012"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "ArnEquals": {
                    "aws:SourceArn": [f"arn:aws:ecs:us-east-1:{ACCOUNT}:*", "arn:aws:ecs:eu-west-1:999988887777:*"]
                }
            },
        }
    ],
    [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::{{account}}:role/deployer", "CanonicalUser": "abc"},
            "Action": "sts:AssumeRole",
        }
    ],
    [
        {"Effect": "Deny", "Principal": ECS, "Action": "sts:AssumeRole", "Condition": SOURCE},
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringLike": {"aws:PrincipalArn": "*"}},
        },
    ],
]

POLICIES: list[list[dict[str, Any]]] = [
    [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}],
    [
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["iam:PassRole", "sts:AssumeRole"], "Resource": "*"}],
        }
    ],
    [
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameters", "kms:Decrypt"],
                    "Resource": "*",
                }
            ],
        }
    ],
    [
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "iam:CreatePolicyVersion",
                        "iam:AttachRolePolicy",
                        "lambda:CreateFunction",
                        "iam:PassRole",
                    ],
                    "Resource": "*",
                }
            ],
        }
    ],
    [
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}],
        }
    ],
    [],
]


# Facts laid over the gathered ones (the engine's input), as the IAM provider would produce them.
FACT_OVERLAYS: list[dict[str, Any]] = [
    {"status": "missing", "source": "iam", "reason": "NoSuchEntity"},
    {"status": "unknown", "source": "iam", "reason": "AccessDenied"},
    {
        "access": [
            {
                "action": "secretsmanager:GetSecretValue",
                "resource": "arn:aws:secretsmanager:us-east-1:1:secret:x",
                "purpose": "secret",
                "path": "/containerDefinitions/0/secrets/0",
                "decision": "denied",
            },
            {
                "action": "ecr:BatchGetImage",
                "resource": "*",
                "purpose": "ecr-pull",
                "path": "/containerDefinitions/0/image",
                "decision": "conditional",
            },
            {"action": "logs:CreateLogStream", "decision": "allowed"},
            {"action": "s3:GetObject", "resource": "arn:aws:s3:::b/app.env", "purpose": "environment-file"},
        ]
    },
    {"access": []},
    {
        "access": [
            {"path": "/containerDefinitions/0/secrets", "decision": "allowed", "action": "ssm:GetParameters"},
            {"path": "/containerDefinitions/1/repositoryCredentials/credentialsParameter", "decision": "denied"},
            {"path": "/containerDefinitions/0/logConfiguration/secretOptions/0", "decision": "maybe"},
        ]
    },
    {
        "permissions": {
            "admin_equivalent": True,
            "escalation_paths": [
                {
                    "id": "PassRole-Lambda",
                    "actions": ["iam:PassRole", "lambda:CreateFunction"],
                    "description": "run code as another role",
                }
            ],
            "passrole_any": True,
            "assumerole_any": True,
            "wildcard_data_access": [{"action": "secretsmanager:GetSecretValue", "resource": "*"}],
            "beyond_execution_baseline": ["s3:GetObject", "kms:Decrypt"],
        }
    },
    {"permissions": {"escalation_paths": [{"id": "a", "actions": ["x"]}, {"id": "b", "actions": ["y", "z"]}]}},
    {"trust_policy": None, "permissions": None},
]
