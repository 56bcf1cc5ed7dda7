"""deploy/: our own task definition passes our own gate; the CloudFormation template and the compose
file say the same thing, keep OPA on loopback, and give the webhook only the IAM reads it makes."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecs_admission.cli import main as cli_main
from ecs_admission.facts.iam import READ_ACTIONS

from .conftest import REPO

DEPLOY = REPO / "deploy"
TASK_DEFINITION = DEPLOY / "ecs" / "task-definition.json"
TEMPLATE = DEPLOY / "ecs" / "webhook.yaml"
COMPOSE = DEPLOY / "docker-compose.yml"
OPA_DOCKERFILE = DEPLOY / "opa" / "Dockerfile"
# Exactly the calls the IAM lookups make (test_iam_lookup.py holds the lookups to this list).
WEBHOOK_READS = set(READ_ACTIONS)
PINNED = re.compile(r"^[^:@\s]+(:(?!latest$)[A-Za-z0-9_.-]+|@sha256:[a-f0-9]{64})$")


def task_definition() -> dict[str, Any]:
    return json.loads(TASK_DEFINITION.read_text())


def template() -> dict[str, Any]:
    return yaml.safe_load(TEMPLATE.read_text())


def containers() -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in task_definition()["containerDefinitions"]}


def test_our_task_definition_passes_our_gate():
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["check", "--format", "json", str(TASK_DEFINITION)], stdout=out, stderr=err)
    decision = json.loads(out.getvalue())
    assert code == 0, decision
    assert decision["allowed"] is True
    assert decision["violations"] == []
    # Offline nothing is known about the two roles; that is the only thing the gate may say.
    assert {w["rule"] for w in decision["warnings"]} <= {"ECS-ROLE-007"}


def test_our_cloudformation_template_passes_our_gate():
    """The template defines the roles too, so the trust and permission rules judge them here."""
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["check", "--format", "json", str(TASK_DEFINITION.parent / "webhook.yaml")], stdout=out, stderr=err)
    decision = json.loads(out.getvalue())
    assert code == 0, decision
    assert decision["violations"] == []
    # Only values CloudFormation fills in at deploy time (image and secret parameters, stack name,
    # Region): the collector's secrets cannot be matched to the execution role's grants before then,
    # so those grants look like more than the task needs (ECS-PERM-006).
    assert {w["rule"] for w in decision["warnings"]} <= {"ECS-TPL-001", "ECS-EXEC-003", "ECS-PERM-006"}


def test_task_definition_hardening():
    definition = task_definition()
    assert definition["networkMode"] == "awsvpc" and definition["requiresCompatibilities"] == ["FARGATE"]
    # The gate and its engine are essential; losing the metrics collector must not stop the gate.
    assert {c["name"]: c["essential"] for c in definition["containerDefinitions"]} == {
        "opa": True,
        "webhook": True,
        "metrics": False,
    }
    for container in definition["containerDefinitions"]:
        name = container["name"]
        assert container.get("healthCheck"), name
        assert container["readonlyRootFilesystem"] is True, name
        uid = container["user"].split(":")[0]
        assert uid.isdigit() and int(uid) > 0, name
        assert container["memory"] >= container["memoryReservation"] > 0, name
        assert PINNED.match(container["image"]), name
        assert container["logConfiguration"]["logDriver"] == "awslogs", name
        assert container["linuxParameters"]["capabilities"]["drop"] == ["ALL"], name
        assert not container.get("privileged"), name
        for variable in container.get("environment", []):
            # A secret's ARN may be named in the environment (the webhook reads it itself), never a value.
            if variable["name"].endswith("_ARN"):
                assert variable["value"].startswith("arn:aws:secretsmanager:"), variable
            else:
                assert not re.search(r"SECRET|PASSWORD|TOKEN|KEY", variable["name"]), variable
        # Secrets reach a container only by reference, injected by the agent with the execution role.
        for secret in container.get("secrets", []):
            assert re.match(r"^arn:aws:(ssm|secretsmanager):", secret["valueFrom"]), secret
    assert "secrets" not in containers()["webhook"] and "secrets" not in containers()["opa"]
    assert sum(c["memory"] for c in definition["containerDefinitions"]) <= int(definition["memory"])
    assert sum(c["cpu"] for c in definition["containerDefinitions"]) <= int(definition["cpu"])


def test_opa_sidecar_listens_on_loopback_and_the_webhook_waits_for_it():
    opa, webhook = containers()["opa"], containers()["webhook"]
    assert "--addr=127.0.0.1:8181" in opa["command"] and "--disable-telemetry" in opa["command"]
    assert "portMappings" not in opa
    assert "http://127.0.0.1:8181/health?bundles" in " ".join(opa["healthCheck"]["command"])
    assert webhook["dependsOn"] == [{"containerName": "opa", "condition": "HEALTHY"}]
    environment = {v["name"]: v["value"] for v in webhook["environment"]}
    assert environment["ECS_ADMISSION_OPA_URL"] == "http://127.0.0.1:8181"
    assert environment["ECS_ADMISSION_FAILURE_POLICY"] == "fail"


def test_opa_image_is_the_official_one_pinned():
    versions = set(re.findall(r"openpolicyagent/opa:(\S+)", OPA_DOCKERFILE.read_text() + COMPOSE.read_text()))
    assert len(versions) == 1 and re.fullmatch(r"\d+\.\d+\.\d+", versions.pop())
    assert "ecs-admission policy bundle -o /bundles/ecs-admission.tar.gz" in OPA_DOCKERFILE.read_text()


# --- CloudFormation -------------------------------------------------------------------------

SUBSTITUTIONS = {
    "AWS::StackName": "ecs-admission",
    "AWS::Region": "us-east-1",
    "LogGroup": "/ecs/ecs-admission",
    "OpaImage": "111122223333.dkr.ecr.us-east-1.amazonaws.com/ecs-admission-opa:0.1.0",
    "WebhookImage": "111122223333.dkr.ecr.us-east-1.amazonaws.com/ecs-admission:0.1.0",
    "TaskRole": "arn:aws:iam::111122223333:role/ecs-admission-task",
    "ExecutionRole": "arn:aws:iam::111122223333:role/ecs-admission-execution",
    "AWS::Partition": "aws",
    "AWS::AccountId": "111122223333",
    "TokensSecretArn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:ecs-admission/tokens-AbCdEf",
    "MetricsTokenSecretArn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:ecs-admission/metrics-token-AbCdEf",
    "AdotImage": "public.ecr.aws/aws-observability/aws-otel-collector:v0.45.1",
    "AdotConfigParameterName": "/ecs-admission/adot-config",
    "MetricsLogGroup": "/ecs/ecs-admission/metrics",
}
# Keys whose children are data (log driver options), not CloudFormation property names.
VERBATIM = {"Options"}


def to_api(value: Any, verbatim: bool = False) -> Any:
    """CloudFormation ECS properties -> register-task-definition input, resolving our intrinsics."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return SUBSTITUTIONS[value["Ref"]]
        if set(value) == {"Fn::GetAtt"}:
            return SUBSTITUTIONS[value["Fn::GetAtt"][0]]
        if set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: SUBSTITUTIONS[m.group(1)], value["Fn::Sub"])
        return {
            (key if verbatim else key[0].lower() + key[1:]): to_api(item, key in VERBATIM)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [to_api(item) for item in value]
    return value


def test_template_task_definition_is_the_json_task_definition():
    properties = template()["Resources"]["TaskDefinition"]["Properties"]
    assert to_api(properties) == task_definition()


def test_template_passes_cfn_lint():
    from cfnlint.api import lint_file

    # Errors and warnings against CloudFormation's resource schemas (informational notes aside).
    problems = [str(m) for m in lint_file(TEMPLATE) if m.rule.id[0] in "EW"]
    assert problems == []


def task_role_policies() -> dict[str, list[dict[str, Any]]]:
    policies = template()["Resources"]["TaskRole"]["Properties"]["Policies"]
    return {p["PolicyName"]: p["PolicyDocument"]["Statement"] for p in policies}


def test_task_role_grants_only_the_iam_reads_the_webhook_makes():
    resources = template()["Resources"]
    statements = task_role_policies()["read-iam-role-facts"]
    assert "ManagedPolicyArns" not in resources["TaskRole"]["Properties"]
    granted = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions)
        granted |= set(actions)
        if any(a.startswith("iam:") for a in actions):
            assert statement["Resource"] != "*"
    assert granted == WEBHOOK_READS
    trust = resources["TaskRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"} and "aws:SourceAccount" in str(trust)


def test_task_role_beyond_the_iam_reads_names_one_secret_and_one_log_group():
    policies = task_role_policies()
    assert set(policies) == {"read-iam-role-facts", "read-caller-tokens", "publish-metrics"}
    [tokens] = policies["read-caller-tokens"]
    assert tokens["Action"] == "secretsmanager:GetSecretValue" and tokens["Resource"] == {"Ref": "TokensSecretArn"}
    [emf] = policies["publish-metrics"]
    assert set(emf["Action"]) == {"logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"}
    assert all("${MetricsLogGroup" in resource["Fn::Sub"] for resource in emf["Resource"])
    environment = {v["name"]: v["value"] for v in containers()["webhook"]["environment"]}
    assert environment["ECS_ADMISSION_TOKENS_SECRET_ARN"].startswith("arn:aws:secretsmanager:")


def test_execution_role_only_pulls_images_and_writes_logs():
    policy = template()["Resources"]["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    actions = {
        a for s in policy["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert actions == {
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        # The collector's configuration and its /metrics token, injected as `secrets`.
        "ssm:GetParameters",
        "secretsmanager:GetSecretValue",
    }
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["CollectorToken"]["Resource"] == {"Ref": "MetricsTokenSecretArn"}
    assert statements["CollectorConfig"]["Resource"]["Fn::Sub"].endswith(":parameter${AdotConfigParameterName}")


def test_service_sits_behind_an_internal_https_load_balancer():
    resources = template()["Resources"]
    assert resources["LoadBalancer"]["Properties"]["Scheme"] == "internal"
    assert resources["Listener"]["Properties"]["Protocol"] == "HTTPS"
    assert resources["TargetGroup"]["Properties"]["HealthCheckPath"] == "/readyz"
    service = resources["Service"]["Properties"]
    assert service["LaunchType"] == "FARGATE"
    assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    assert service["LoadBalancers"][0]["ContainerName"] == "webhook"
    assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}


# --- docker compose -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_runs_the_real_sidecar_on_loopback(compose):
    opa, webhook = compose["services"]["opa"], compose["services"]["webhook"]
    assert PINNED.match(opa["image"]) and opa["image"].startswith("openpolicyagent/opa:")
    assert "--addr=127.0.0.1:8181" in opa["command"]
    assert opa["command"][opa["command"].index("--bundle") + 1] == "/bundles/ecs-admission.tar.gz"
    source = opa["volumes"][0].split(":")[0]
    assert (DEPLOY / source).resolve() == (REPO / "deploy/bundle/ecs-admission.tar.gz").resolve()
    assert "deploy/bundle/ecs-admission.tar.gz" in (REPO / "Makefile").read_text()
    assert webhook["network_mode"] == "service:opa"
    assert webhook["depends_on"] == {"opa": {"condition": "service_healthy"}}
    assert webhook["environment"]["ECS_ADMISSION_OPA_URL"] == "http://127.0.0.1:8181"
    assert all(p.startswith("127.0.0.1:") for p in opa["ports"])
    for service in (opa, webhook):
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert int(str(service["user"]).split(":")[0]) > 0
        assert service["healthcheck"]["test"][0] == "CMD"
    assert (REPO / webhook["build"]["context"].replace("..", ".")).is_dir()
    assert Path(DEPLOY / webhook["build"]["context"] / webhook["build"]["dockerfile"]).is_file()
