"""What the CodePipeline tests share (tests/integrations/test_codepipeline.py, tests/deploy/
test_codepipeline_deploy.py): a task definition as a pipeline builds it, and deploy/codepipeline's
CloudFormation templates read with their short-form tags (!Ref, !Sub, ...) as the long form."""

from __future__ import annotations

import yaml

from tests.conftest import REPO

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


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !Sub, ...) as their long form."""


def intrinsic(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if name == "Fn::GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


CfnLoader.add_multi_constructor("!", intrinsic)


def template(name: str) -> dict:
    return yaml.load((DEPLOY / name).read_text(), Loader=CfnLoader)


def role_actions() -> set[str]:
    role = template("gate-lambda.yaml")["Resources"]["Role"]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    assert all(s["Effect"] == "Allow" for s in statements)
    return {action for s in statements for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
