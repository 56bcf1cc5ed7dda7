"""What the CodePipeline tests share (tests/integrations/test_codepipeline.py, tests/deploy/
test_codepipeline_deploy.py): a task definition as a pipeline builds it, and deploy/codepipeline's
CloudFormation templates (read by tests/support/cfn_yaml.py)."""

from __future__ import annotations

from tests.conftest import REPO
from tests.support import cfn_yaml

IMAGE = "111122223333.dkr.ecr.us-east-1.amazonaws.com/payments-api@sha256:" + "a" * 64


def taskdef(privileged: bool = False, image: str = "<IMAGE1_NAME>", **extra) -> dict:
    container = {"name": "api", "image": image, "essential": True, "portMappings": [{"containerPort": 8080}]}
    if privileged:
        container["privileged"] = True
    return {
        "family": "payments-api",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "executionRoleArn": "arn:aws:iam::111122223333:role/payments-api-execution",
        "containerDefinitions": [container],
        **extra,
    }


DEPLOY = REPO / "deploy" / "codepipeline"


def template(name: str) -> dict:
    return cfn_yaml.load(DEPLOY / name)


def role_actions() -> set[str]:
    role = template("gate-lambda.yaml")["Resources"]["Role"]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    assert all(s["Effect"] == "Allow" for s in statements)
    return {action for s in statements for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
