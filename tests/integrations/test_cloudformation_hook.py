"""The CloudFormation Lambda Hook handler, with events built as the CloudFormation Hooks user guide
documents them ("Create Lambda functions to evaluate resources for Lambda Hooks"): resource targets
with `targetModel.resourceProperties`, stack and change-set targets with the template behind a
presigned URL. AWS is moto's server on 127.0.0.1 behind tests/support/moto_proxy.py: the presigned
URLs are moto S3's own, and IAM role lookups go to moto's IAM.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from ecs_admission.config import ConfigError
from ecs_admission.facts.iam import aws_session
from ecs_admission.integrations import cloudformation_hook
from ecs_admission.integrations.cloudformation_hook import (
    MAX_PAYLOAD_BYTES,
    MESSAGE_LIMIT,
    CannotJudge,
    HookSettings,
    handler,
    payload_url_allowed,
)
from tests.conftest import REPO
from tests.support.moto_proxy import aws_proxy, fresh_account

ACCOUNT = "111122223333"
REGION = "us-east-1"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/payments/1a2345b6-0000-00a0-a123-00abc0abc000"
BUCKET = "cfn-hook-payloads"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ],
}


def cfn_strings(value: Any) -> Any:
    """Property values as CloudFormation hands them to a hook: every scalar a string."""
    if isinstance(value, dict):
        return {k: cfn_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cfn_strings(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def container(**changes: Any) -> dict[str, Any]:
    return {
        "Name": "api",
        "Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/payments-api:1.4.2",
        "Essential": True,
        "ReadonlyRootFilesystem": True,
        "User": "1000:1000",
        "LogConfiguration": {
            "LogDriver": "awslogs",
            "Options": {"awslogs-group": "/ecs/payments-api", "awslogs-region": REGION, "awslogs-stream-prefix": "api"},
        },
        **changes,
    }


def properties(task_changes: dict[str, Any] | None = None, **container_changes: Any) -> dict[str, Any]:
    """The clean example (examples/taskdef-clean.json) as CloudFormation resource properties."""
    return {
        "Family": "payments-api",
        "NetworkMode": "awsvpc",
        "RequiresCompatibilities": ["FARGATE"],
        "Cpu": "256",
        "Memory": "512",
        "TaskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/payments-api-task",
        "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/payments-api-execution",
        "ContainerDefinitions": [container(**container_changes)],
        **(task_changes or {}),
    }


def hook_event(
    target_properties: dict[str, Any] | None,
    point: str = "CREATE_PRE_PROVISION",
    target: str = "AWS::ECS::TaskDefinition",
    logical_id: str = "TaskDefinition",
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A resource-target request as the user guide shows it, scalars as strings."""
    model: dict[str, Any] = {"resourceProperties": cfn_strings(target_properties)}
    if previous is not None:
        model["previousResourceProperties"] = cfn_strings(previous)
    return {
        "clientRequestToken": str(uuid.uuid4()),
        "awsAccountId": ACCOUNT,
        "stackId": STACK_ID,
        "changeSetId": None,
        "hookTypeName": "Private::EcsAdmission::TaskDefinitionHook",
        "hookTypeVersion": "00000001",
        "hookModel": {"LambdaFunction": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ecs-admission-hook"},
        "actionInvocationPoint": point,
        "requestData": {
            "targetName": target,
            "targetType": target,
            "targetLogicalId": logical_id,
            "targetModel": model,
        },
        "requestContext": {"invocation": 1, "callbackContext": None},
    }


def template_event(url: str, target: str = "STACK", point: str = "CREATE_PRE_PROVISION") -> dict[str, Any]:
    event = hook_event(None, point=point, target=target, logical_id="payments" if target == "STACK" else "cs-1")
    event["requestData"].pop("targetModel")
    event["requestData"]["payload"] = url
    if target == "CHANGE_SET":
        event["changeSetId"] = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/cs-1/{uuid.uuid4()}"
    return event


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No IAM unless a test asks for it; the policies' defaults; no test host admitted."""
    for key in ("ECS_ADMISSION_MODE", "ECS_ADMISSION_HOOK_PAYLOAD_TEST_HOST", "ECS_ADMISSION_ACCOUNT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ECS_ADMISSION_IAM_LOOKUP", "off")
    cloudformation_hook._gate.cache_clear()


def rules_named(answer: dict[str, Any]) -> set[str]:
    return {a["annotationName"] for a in answer.get("annotations", []) if a["status"] == "FAILED"}


# ---- the "Done when" -----------------------------------------------------------------------


def test_a_privileged_container_in_a_create_fails_naming_ecs_iso_002():
    event = hook_event(properties(Privileged=True))
    answer = handler(event, None)
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "NonCompliant"
    assert answer["clientRequestToken"] == event["clientRequestToken"]
    assert "ECS-ISO-002" in answer["message"]
    assert "/Resources/TaskDefinition/Properties/ContainerDefinitions/0/Privileged" in answer["message"]
    [iso] = [a for a in answer["annotations"] if a["annotationName"] == "ECS-ISO-002"]
    assert iso["status"] == "FAILED" and iso["severityLevel"] in ("CRITICAL", "HIGH")
    assert iso["remediationMessage"] and iso["remediationLink"].startswith("https://")


def test_host_network_mode_on_an_update_fails_naming_ecs_iso_001():
    event = hook_event(properties({"NetworkMode": "host"}), point="UPDATE_PRE_PROVISION", previous=properties())
    answer = handler(event, None)
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "NonCompliant"
    assert "ECS-ISO-001" in answer["message"] and "ECS-ISO-001" in rules_named(answer)


def test_a_clean_task_definition_succeeds():
    answer = handler(hook_event(properties()), None)
    assert answer["hookStatus"] == "SUCCESS" and "errorCode" not in answer
    assert answer["message"].startswith("ecs-admission allowed TaskDefinition: no violations")


@pytest.mark.parametrize(
    ("point", "target", "props"),
    [
        ("DELETE_PRE_PROVISION", "AWS::ECS::TaskDefinition", properties(Privileged=True)),
        ("CREATE_PRE_PROVISION", "AWS::S3::Bucket", {"BucketName": "x"}),
        ("UPDATE_PRE_PROVISION", "AWS::ECS::Service", {"Cluster": "prod", "TaskDefinition": "web:3"}),
    ],
    ids=["delete", "bucket", "service"],
)
def test_delete_and_other_resource_types_pass(point, target, props):
    answer = handler(hook_event(props, point=point, target=target), None)
    assert answer["hookStatus"] == "SUCCESS" and "errorCode" not in answer


def _malformed() -> list[tuple[str, Any]]:
    no_token = hook_event(properties())
    del no_token["clientRequestToken"]
    no_data = hook_event(properties())
    del no_data["requestData"]
    no_point = hook_event(properties())
    del no_point["actionInvocationPoint"]
    no_model = hook_event(properties())
    del no_model["requestData"]["targetModel"]
    bad_properties = hook_event(properties())
    bad_properties["requestData"]["targetModel"]["resourceProperties"] = ["not", "an", "object"]
    unreadable = hook_event(properties({"ContainerDefinitions": "none"}))
    unknown_point = hook_event(properties(), point="IMPORT_PRE_PROVISION")
    stack_without_payload = template_event("https://b.s3.amazonaws.com/k")
    del stack_without_payload["requestData"]["payload"]
    return [
        ("not an object", ["a", "list"]),
        ("no token", no_token),
        ("no requestData", no_data),
        ("no invocation point", no_point),
        ("no targetModel", no_model),
        ("properties not an object", bad_properties),
        ("properties the gate cannot read", unreadable),
        ("unknown invocation point", unknown_point),
        ("stack without payload", stack_without_payload),
    ]


@pytest.mark.parametrize(("case", "event"), _malformed(), ids=[c for c, _ in _malformed()])
def test_a_malformed_event_fails_closed(case, event):
    answer = handler(event, None)
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "InternalFailure", case
    assert "failing closed" in answer["message"] and len(answer["message"]) <= MESSAGE_LIMIT
    if isinstance(event, dict) and "clientRequestToken" in event:
        assert answer["clientRequestToken"] == event["clientRequestToken"]


def test_an_internal_error_fails_closed(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the engine fell over")

    monkeypatch.setattr(cloudformation_hook, "decide_template", broken)
    answer = handler(hook_event(properties()), None)
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "InternalFailure"
    assert "RuntimeError: the engine fell over" in answer["message"]


def test_a_policy_that_does_not_compile_fails_closed(monkeypatch, tmp_path):
    (tmp_path / "broken.rego").write_text("package ecs.checks.broken\nthis is not rego\n")
    monkeypatch.setenv("ECS_ADMISSION_POLICY_DIR", str(tmp_path))
    answer = handler(hook_event(properties()), None)
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "InternalFailure"


def test_a_bad_setting_fails_closed(monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_MODE", "sometimes")
    answer = handler(hook_event(properties()), None)
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "InternalFailure"
    assert "ECS_ADMISSION_MODE" in answer["message"]


# ---- strings, warnings, dry-run, the message ---------------------------------------------------------


def test_string_scalars_are_judged_as_their_types():
    """Strings as CloudFormation sends them ("true", "512") decide exactly as true and 512 in a template."""
    event = hook_event(properties(Privileged=True, Memory=512))
    props = event["requestData"]["targetModel"]["resourceProperties"]
    assert props["ContainerDefinitions"][0]["Privileged"] == "true"
    assert props["ContainerDefinitions"][0]["Memory"] == "512"
    assert "ECS-ISO-002" in rules_named(handler(event, None))


def test_warn_level_findings_succeed_and_say_so():
    # No health check and a writable root filesystem: warn-level hardening rules only.
    answer = handler(hook_event(properties(ReadonlyRootFilesystem=False)), None)
    assert answer["hookStatus"] == "SUCCESS" and "errorCode" not in answer
    assert "(warning)" in answer["message"]
    warned = [a for a in answer["annotations"] if "warning: not enforced" in a["statusMessage"]]
    assert warned and all(a["status"] == "FAILED" for a in warned)


def test_dry_run_succeeds_with_the_would_be_verdict(monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_MODE", "dry-run")
    answer = handler(hook_event(properties(Privileged=True)), None)
    assert answer["hookStatus"] == "SUCCESS" and "errorCode" not in answer
    assert answer["message"].startswith("ecs-admission would deny TaskDefinition (dry-run")
    assert "ECS-ISO-002" in answer["message"]


def test_message_is_most_severe_first_and_within_the_limit():
    many = [container(Name=f"c{i}", Privileged=True, User="root", ReadonlyRootFilesystem=False) for i in range(10)]
    answer = handler(hook_event(properties({"ContainerDefinitions": many, "NetworkMode": "host"})), None)
    message = answer["message"]
    assert answer["hookStatus"] == "FAILED" and len(message) <= MESSAGE_LIMIT
    assert "more line(s)" in message.splitlines()[-1]
    listed = [line for line in message.splitlines() if line.startswith("- ")]
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    severities = [order[line.split("[", 1)[1].split("]", 1)[0]] for line in listed if "(warning)" not in line]
    assert severities == sorted(severities) and severities[0] == 0


def test_a_decision_record_is_written_per_judged_task_definition(capsys):
    event = hook_event(properties(Privileged=True))
    answer = handler(event, None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [record] = [r for r in lines if r.get("record") == "decision"]
    assert record["verdict"] == "deny" and "ECS-ISO-002" in record["violations"]
    assert record["hook"]["stack_id"] == STACK_ID and record["hook"]["logical_id"] == "TaskDefinition"
    assert record["hook"]["invocation_point"] == "CREATE_PRE_PROVISION"
    assert record["auth"] == "cloudformation-hook"
    assert f"decision {record['decision_id']}" in answer["message"]  # the message leads to the record


# ---- stack and change-set targets: the template behind a presigned URL -----------------------------


@pytest.fixture(scope="module")
def proxy():
    with aws_proxy() as server:
        yield server


@pytest.fixture()
def aws(proxy, monkeypatch):
    fresh_account(proxy, monkeypatch)
    monkeypatch.setenv("AWS_REGION", REGION)
    proxy.calls.clear()
    session = aws_session()
    s3 = session.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    return session


def presigned(session, body: Any) -> str:
    s3 = session.client("s3", region_name=REGION)
    key = f"hook/{uuid.uuid4()}.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(body).encode())
    return s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)


TEMPLATE_YAML = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Privileged:
    Type: String
    Default: "true"
Resources:
  Web:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: web
      NetworkMode: awsvpc
      RequiresCompatibilities: [FARGATE]
      Cpu: "256"
      Memory: "512"
      ContainerDefinitions:
        - Name: web
          Image: public.ecr.aws/nginx/nginx:1.27
          Essential: true
          Privileged: !Ref Privileged
  Bucket:
    Type: AWS::S3::Bucket
"""


@pytest.mark.parametrize("target", ["STACK", "CHANGE_SET"])
def test_a_stack_or_change_set_template_is_fetched_and_judged_whole(aws, proxy, monkeypatch, target):
    monkeypatch.setenv("ECS_ADMISSION_HOOK_PAYLOAD_TEST_HOST", proxy.url.removeprefix("http://"))
    if target == "STACK":
        payload = {"template": TEMPLATE_YAML, "previousTemplate": ""}
    else:
        changed = {"action": "CREATE", "logicalResourceId": "Web", "resourceType": "AWS::ECS::TaskDefinition"}
        payload = {"template": TEMPLATE_YAML, "changedResources": [changed]}
    event = template_event(presigned(aws, payload), target=target)
    answer = handler(event, None)
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "NonCompliant", answer
    assert (
        "ECS-ISO-002" in answer["message"]
        and "/Resources/Web/Properties/ContainerDefinitions/0/Privileged" in (answer["message"])
    )
    assert any(c.method == "GET" and BUCKET in c.path for c in proxy.calls)


def test_resource_properties_behind_a_payload_url_are_fetched_and_judged(aws, proxy, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_HOOK_PAYLOAD_TEST_HOST", proxy.url.removeprefix("http://"))
    event = hook_event(properties(Privileged=True))
    model = event["requestData"].pop("targetModel")
    event["requestData"]["payload"] = presigned(aws, {"targetModel": model})
    answer = handler(event, None)
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "NonCompliant", answer["message"]
    assert "ECS-ISO-002" in rules_named(answer)


def test_a_template_without_task_definitions_passes(aws, proxy, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_HOOK_PAYLOAD_TEST_HOST", proxy.url.removeprefix("http://"))
    body = {"template": json.dumps({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}})}
    answer = handler(template_event(presigned(aws, body)), None)
    assert answer["hookStatus"] == "SUCCESS"


def test_payload_problems_fail_closed(aws, proxy, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_HOOK_PAYLOAD_TEST_HOST", proxy.url.removeprefix("http://"))
    missing = presigned(aws, {"template": TEMPLATE_YAML}).replace("/hook/", "/hook/missing-")
    not_a_template = presigned(aws, {"template": "::: not yaml :::\n  - ["})
    no_template = presigned(aws, {"changedResources": []})
    too_large = presigned(aws, {"template": TEMPLATE_YAML, "padding": "x" * (MAX_PAYLOAD_BYTES + 1)})
    for url, reason in (
        (missing, "answered HTTP 404"),
        (not_a_template, "cannot be read"),
        (no_template, "has no template"),
        (too_large, "is larger than"),
    ):
        answer = handler(template_event(url), None)
        assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "InternalFailure", url
        assert reason in answer["message"] and "X-Amz-Signature" not in answer["message"]


def test_only_https_s3_urls_are_fetched_without_the_test_setting(aws, proxy):
    url = presigned(aws, {"template": TEMPLATE_YAML})
    answer = handler(template_event(url), None)
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "InternalFailure"
    assert "not an https Amazon S3 URL" in answer["message"]
    assert not any(c.method == "GET" and BUCKET in c.path for c in proxy.calls)


@pytest.mark.parametrize(
    "url",
    [
        "https://cfn-hooks-payloads.s3.amazonaws.com/k?X-Amz-Signature=x",
        "https://cfn-hooks-payloads.s3.us-west-2.amazonaws.com/k",
        "https://s3.eu-central-1.amazonaws.com/bucket/k",
        "https://bucket.s3.dualstack.us-east-1.amazonaws.com/k",
        "https://bucket.s3.cn-north-1.amazonaws.com.cn/k",
    ],
)
def test_s3_urls_are_allowed(url):
    assert payload_url_allowed(url, HookSettings()) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://bucket.s3.amazonaws.com/k",
        "https://bucket.s3.amazonaws.com.evil.example/k",
        "https://s3.amazonaws.com@evil.example/k",
        "https://evil.example/s3.amazonaws.com",
        "https://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "http://127.0.0.1:9000/k",
    ],
)
def test_other_urls_are_refused(url):
    with pytest.raises(CannotJudge):
        payload_url_allowed(url, HookSettings())


def test_the_test_host_setting_admits_only_loopback():
    assert HookSettings.from_env({"ECS_ADMISSION_HOOK_PAYLOAD_TEST_HOST": "127.0.0.1:9000"}).payload_test_host == (
        "127.0.0.1:9000"
    )
    for bad in ("10.0.0.5:9000", "example.com:80", "127.0.0.1", "127.0.0.1:9000/path"):
        with pytest.raises(ConfigError, match="PAYLOAD_TEST_HOST"):
            HookSettings.from_env({"ECS_ADMISSION_HOOK_PAYLOAD_TEST_HOST": bad})
    admitted = HookSettings.from_env({"ECS_ADMISSION_HOOK_PAYLOAD_TEST_HOST": "127.0.0.1:9000"})
    assert payload_url_allowed("http://127.0.0.1:9000/b/k?X-Amz-Signature=x", admitted)
    with pytest.raises(CannotJudge):
        payload_url_allowed("http://127.0.0.1:9001/b/k", admitted)


# ---- IAM: the role ARNs CloudFormation resolved, looked up like any other ---------------------------


def test_role_arns_are_looked_up_in_iam(aws, proxy, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_IAM_LOOKUP", "on")
    iam = aws.client("iam", region_name=REGION)
    moto_account = aws_session().client("sts", region_name=REGION).get_caller_identity()["Account"]
    trust = json.loads(json.dumps(TRUST).replace(ACCOUNT, moto_account))
    iam.create_role(RoleName="payments-api-task", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="payments-api-task",
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    iam.create_role(RoleName="payments-api-execution", AssumeRolePolicyDocument=json.dumps(trust))
    props = json.loads(json.dumps(properties()).replace(ACCOUNT, moto_account))
    event = hook_event(props)
    event["awsAccountId"] = moto_account
    event["stackId"] = STACK_ID.replace(ACCOUNT, moto_account)
    answer = handler(event, None)
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "NonCompliant", answer["message"]
    assert "ECS-PERM-001" in rules_named(answer)
    assert any(c.service == "iam" for c in proxy.calls)  # asked IAM, through moto's server


def test_an_iam_lookup_that_fails_denies_naming_ecs_role_006(aws, proxy, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_IAM_LOOKUP", "on")
    monkeypatch.setenv("ECS_ADMISSION_IAM_MAX_ATTEMPTS", "1")
    moto_account = aws_session().client("sts", region_name=REGION).get_caller_identity()["Account"]
    proxy.throttled.append("POST /")  # IAM (a query API: every call is POST /) throttles every attempt
    event = hook_event(json.loads(json.dumps(properties()).replace(ACCOUNT, moto_account)))
    event["awsAccountId"] = moto_account
    answer = handler(event, None)
    assert answer["hookStatus"] == "FAILED" and answer["errorCode"] == "NonCompliant", answer["message"]
    assert "ECS-ROLE-006" in rules_named(answer)


# ---- the documentation says what the handler does ---------------------------------------------------


def test_the_doc_states_the_handlers_limits_and_answers():
    page = (REPO / "docs" / "cloudformation-hook.md").read_text()
    assert f"{MESSAGE_LIMIT:,}" in page and f"{cloudformation_hook.CLOUD_CONTROL_MESSAGE_LIMIT:,}" in page
    assert f"up to {cloudformation_hook.MAX_ANNOTATIONS}" in " ".join(page.split())
    assert f"{MAX_PAYLOAD_BYTES // (1024 * 1024)} MiB" in page
    assert f"{cloudformation_hook.FETCH_TIMEOUT_SECONDS:g} seconds" in page
    for fragment in ("ecs-admission denied", "ecs-admission would deny", "ecs-admission allowed", "(failing closed)"):
        assert fragment in page and fragment in Path(cloudformation_hook.__file__).read_text(), fragment
    assert "ECS_ADMISSION_HOOK_PAYLOAD_TEST_HOST" in page
    assert "ECS_ADMISSION_HOOK_PAYLOAD_TEST_HOST" in (REPO / "docs" / "configuration.md").read_text()
