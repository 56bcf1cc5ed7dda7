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

from ecs_admission.cli.commands import main as cli_main
from ecs_admission.facts.iam import READ_ACTIONS
from tests.conftest import REPO

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
    assert environment["ECS_ADMISSION_MODE"] == "enforce"


def test_break_glass_is_one_stack_parameter_each_closed_by_default():
    parameters = template()["Parameters"]
    assert (parameters["GateMode"]["Default"], parameters["GateMode"]["AllowedValues"]) == (
        "enforce",
        ["enforce", "dry-run"],
    )
    assert (parameters["FailurePolicy"]["Default"], parameters["FailurePolicy"]["AllowedValues"]) == (
        "fail",
        ["fail", "ignore"],
    )
    environment = template()["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][1]["Environment"]
    values = {v["Name"]: v["Value"] for v in environment}
    assert values["ECS_ADMISSION_MODE"] == {"Ref": "GateMode"}
    assert values["ECS_ADMISSION_FAILURE_POLICY"] == {"Ref": "FailurePolicy"}


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
    # The break-glass parameters at their defaults: the gate closed.
    "GateMode": "enforce",
    "FailurePolicy": "fail",
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


# --- running it as a service: scaling, metrics, alarms (docs/operations.md, docs/capacity.md) ---

ADOT_CONFIG = DEPLOY / "ecs" / "adot-config.yaml"
OPERATIONS = REPO / "docs" / "operations.md"
SSM_STANDARD_LIMIT = 4096  # bytes in a Standard-tier SSM parameter


def resources_of(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == kind}


def exported_metrics() -> set[str]:
    """The sample names /metrics exposes, read from prometheus-client's own registry of ours."""
    from ecs_admission import metrics

    names = set()
    for metric in metrics._get().values():
        family = metric.describe()[0]
        names.add(family.name + "_total" if family.type == "counter" else family.name)
    return names


def adot() -> dict[str, Any]:
    return yaml.safe_load(ADOT_CONFIG.read_text())


def declared_dimensions(metric: str) -> list[set[str]]:
    """The dimension sets the collector gives `metric` in CloudWatch."""
    found = []
    for declaration in adot()["exporters"]["awsemf"]["metric_declarations"]:
        if any(re.search(selector, metric) for selector in declaration["metric_name_selectors"]):
            found += [set(dimensions) for dimensions in declaration["dimensions"]]
    return found


def alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric an alarm reads: {Namespace, MetricName, Dimensions, stat}, single or math."""
    properties = alarm["Properties"]
    if "MetricName" in properties:
        stat = properties.get("Statistic") or properties.get("ExtendedStatistic")
        return [{**{k: properties[k] for k in ("Namespace", "MetricName", "Dimensions")}, "stat": stat}]
    return [
        {**query["MetricStat"]["Metric"], "stat": query["MetricStat"]["Stat"]}
        for query in properties["Metrics"]
        if "MetricStat" in query
    ]


def test_service_runs_at_least_two_tasks_across_availability_zones_and_scales():
    resources = template()["Resources"]
    parameters = template()["Parameters"]
    service = resources["Service"]["Properties"]
    # The load balancer refuses subnets in fewer than two AZs, and the tasks use the same subnets.
    assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"] == {"Ref": "SubnetIds"}
    assert resources["LoadBalancer"]["Properties"]["Subnets"] == {"Ref": "SubnetIds"}
    assert service["AvailabilityZoneRebalancing"] == "ENABLED"
    assert service["DesiredCount"] == {"Ref": "MinTasks"}
    assert parameters["MinTasks"]["MinValue"] >= 2 and parameters["MinTasks"]["Default"] >= 2

    [(target_id, target)] = resources_of("AWS::ApplicationAutoScaling::ScalableTarget").items()
    properties = target["Properties"]
    assert (properties["ServiceNamespace"], properties["ScalableDimension"]) == ("ecs", "ecs:service:DesiredCount")
    assert properties["ResourceId"] == {"Fn::Sub": "service/${Cluster}/${Service.Name}"}
    assert properties["MinCapacity"] == {"Ref": "MinTasks"} and properties["MaxCapacity"] == {"Ref": "MaxTasks"}

    policies = resources_of("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    tracked = {}
    for policy in policies:
        assert policy["Properties"]["PolicyType"] == "TargetTrackingScaling"
        assert policy["Properties"]["ScalingTargetId"] == {"Ref": target_id}
        configuration = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        predefined = configuration["PredefinedMetricSpecification"]
        tracked[predefined["PredefinedMetricType"]] = (configuration["TargetValue"], predefined.get("ResourceLabel"))
    assert set(tracked) == {"ALBRequestCountPerTarget", "ECSServiceAverageCPUUtilization"}
    target_value, label = tracked["ALBRequestCountPerTarget"]
    assert target_value == {"Ref": "RequestsPerTaskPerMinute"}
    # app/<lb>/<id>/targetgroup/<tg>/<id>: this stack's load balancer and target group.
    assert label == {"Fn::Sub": "${LoadBalancer.LoadBalancerFullName}/${TargetGroup.TargetGroupFullName}"}
    assert tracked["ECSServiceAverageCPUUtilization"][0] == {"Ref": "CpuTargetPercent"}


def test_alarms_watch_metrics_that_exist_and_notify_the_topic():
    alarms = resources_of("AWS::CloudWatch::Alarm")
    exported = exported_metrics()
    alb_dimensions = {
        "LoadBalancer": {"Fn::GetAtt": ["LoadBalancer", "LoadBalancerFullName"]},
        "TargetGroup": {"Fn::GetAtt": ["TargetGroup", "TargetGroupFullName"]},
    }
    watched = set()
    for name, alarm in alarms.items():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopicArn"}], name
        assert properties["OKActions"] == [{"Ref": "AlarmTopicArn"}], name
        assert properties["TreatMissingData"] == "notBreaching", name
        for metric in alarm_metrics(alarm):
            dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            watched.add((metric["Namespace"], metric["MetricName"], metric["stat"]))
            if metric["Namespace"] == "ECSAdmission":
                # A name /metrics exports, with dimensions the collector gives it, for this stack only.
                assert metric["MetricName"] in exported, (name, metric["MetricName"])
                assert set(dimensions) in declared_dimensions(metric["MetricName"]), (name, dimensions)
                assert dimensions["Service"] == {"Fn::Sub": "${AWS::StackName}"}, name
            else:
                assert metric["Namespace"] == "AWS/ApplicationELB", name
                assert dimensions["LoadBalancer"] == alb_dimensions["LoadBalancer"], name
                if "TargetGroup" in dimensions:
                    assert dimensions["TargetGroup"] == alb_dimensions["TargetGroup"], name
    # The list: 503s, 5xx, p99 latency, unhealthy targets, reload and IAM failures, deny rate.
    assert {
        ("ECSAdmission", "ecs_admission_engine_errors_total", "Sum"),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum"),
        ("AWS/ApplicationELB", "TargetResponseTime", "p99"),
        ("AWS/ApplicationELB", "UnHealthyHostCount", "Maximum"),
        ("ECSAdmission", "ecs_admission_policy_reload_failing", "Maximum"),
        ("ECSAdmission", "ecs_admission_iam_lookup_failures_total", "Sum"),
        ("ECSAdmission", "ecs_admission_break_glass", "Maximum"),
        ("ECSAdmission", "ecs_admission_fail_open_total", "Sum"),
    } <= watched


def test_deny_rate_alarm_is_an_anomaly_band_over_the_share_of_denies():
    [alarm] = [a for a in resources_of("AWS::CloudWatch::Alarm").values() if "ThresholdMetricId" in a["Properties"]]
    properties = alarm["Properties"]
    queries = {q["Id"]: q for q in properties["Metrics"]}
    band = queries[properties["ThresholdMetricId"]]
    assert properties["ComparisonOperator"] == "LessThanLowerOrGreaterThanUpperThreshold"
    watched = re.fullmatch(r"ANOMALY_DETECTION_BAND\((\w+), \d+\)", band["Expression"]).group(1)
    assert re.search(r"\bdenied\b.*/ decisions", queries[watched]["Expression"])
    denied = {d["Name"]: d["Value"] for d in queries["denied"]["MetricStat"]["Metric"]["Dimensions"]}
    assert queries["denied"]["MetricStat"]["Metric"]["MetricName"] == "ecs_admission_decisions_total"
    assert denied["verdict"] == "deny"


def test_every_alarm_links_a_runbook_section_that_exists():
    text = OPERATIONS.read_text()
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', text))
    for name, alarm in resources_of("AWS::CloudWatch::Alarm").items():
        description = alarm["Properties"]["AlarmDescription"]["Fn::Sub"]
        match = re.search(r"Runbook: \$\{RunbookUrl\}#([a-z0-9-]+)$", description)
        assert match and match.group(1) in anchors, (name, description)
        assert len(description) <= 1024  # CloudWatch's limit, before ${RunbookUrl} is filled in


def test_collector_scrapes_metrics_and_exports_what_the_alarms_read():
    config = adot()
    assert len(ADOT_CONFIG.read_bytes()) < SSM_STANDARD_LIMIT
    [job] = config["receivers"]["prometheus"]["config"]["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["static_configs"][0]["targets"] == ["127.0.0.1:8080"]
    assert job["authorization"] == {"type": "Bearer", "credentials": "${env:METRICS_BEARER_TOKEN}"}
    assert job["static_configs"][0]["labels"] == {"Service": "${env:ECS_ADMISSION_SERVICE}"}
    emf = config["exporters"]["awsemf"]
    assert emf["namespace"] == "ECSAdmission" and emf["log_group_name"] == "${env:METRICS_LOG_GROUP}"
    assert config["service"]["pipelines"]["metrics"]["exporters"] == ["awsemf"]
    exported = exported_metrics()
    kept = config["processors"]["filter/alarmed"]["metrics"]["include"]["metric_names"]
    for declaration in emf["metric_declarations"]:
        for selector in declaration["metric_name_selectors"]:
            matched = {m for m in exported if re.search(selector, m)}
            assert matched, f"{selector} matches nothing /metrics exports"
            assert all(any(re.search(k, m) for k in kept) for m in matched), selector

    # The container provides every ${env:...} the configuration reads, and gets it from the SSM parameter.
    collector = containers()["metrics"]
    provided = {v["name"] for v in collector["environment"]} | {s["name"] for s in collector["secrets"]}
    assert set(re.findall(r"\$\{env:(\w+)\}", ADOT_CONFIG.read_text())) <= provided
    # The Service label the collector puts on every series is what the alarms' Service dimension names.
    [metrics_container] = [
        c
        for c in template()["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
        if c["Name"] == "metrics"
    ]
    labels = {v["Name"]: v["Value"] for v in metrics_container["Environment"]}
    assert labels["ECS_ADMISSION_SERVICE"] == {"Fn::Sub": "${AWS::StackName}"}
    assert labels["METRICS_LOG_GROUP"] == {"Ref": "MetricsLogGroup"}
    secrets = {s["name"]: s["valueFrom"] for s in collector["secrets"]}
    assert secrets["AOT_CONFIG_CONTENT"].endswith(
        ":parameter" + template()["Parameters"]["AdotConfigParameterName"]["Default"]
    )
    assert collector["healthCheck"]["command"] == ["CMD", "/healthcheck"]
    assert PINNED.match(collector["image"]) and collector["image"].startswith("public.ecr.aws/aws-observability/")


def test_the_anomaly_model_is_the_alarms_expression():
    [(model_id, model)] = resources_of("AWS::CloudWatch::AnomalyDetector").items()
    alarm = next(a for a in resources_of("AWS::CloudWatch::Alarm").values() if "ThresholdMetricId" in a["Properties"])
    band = alarm["Properties"]["ThresholdMetricId"]
    assert alarm["DependsOn"] == model_id
    queries = [q for q in alarm["Properties"]["Metrics"] if q["Id"] != band]
    assert model["Properties"]["MetricMathAnomalyDetector"]["MetricDataQueries"] == queries


def test_the_webhook_has_a_writable_temporary_directory_under_its_read_only_root():
    """Without one, gunicorn exits 1 in the shipped task: "No usable temporary directory found" (issue 21)."""
    definition, webhook = task_definition(), containers()["webhook"]
    environment = {v["name"]: v["value"] for v in webhook["environment"]}
    tmp_dir = environment["ECS_ADMISSION_TMP_DIR"]
    (mount,) = [m for m in webhook.get("mountPoints", []) if m["containerPath"] == tmp_dir]
    assert mount["readOnly"] is False
    (volume,) = [v for v in definition["volumes"] if v["name"] == mount["sourceVolume"]]
    assert volume == {"name": mount["sourceVolume"]}  # the task's own ephemeral storage, not a host path
