"""Detective mode end to end: ECS in moto, the CloudTrail event EventBridge would deliver, the Lambda
handler, Security Hub findings in moto.

moto emits no CloudTrail events, so each test builds the "AWS API Call via CloudTrail" event as AWS
documents it, around the real RegisterTaskDefinition / CreateService response moto gave. Every AWS
call goes through tests/support/moto_proxy.py over HTTP on 127.0.0.1, which records it and can refuse or
throttle chosen calls.
"""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from ecs_admission.facts.iam import aws_session
from ecs_admission.integrations import detective
from ecs_admission.integrations.cloudtrail import EventError
from ecs_admission.integrations.detective_config import DetectiveSettings
from ecs_admission.report.securityhub import SecurityHubError, finding_id
from tests.conftest import REPO
from tests.report.test_audit import container
from tests.support import cfn_yaml
from tests.support.moto_proxy import aws_proxy, fresh_account

ACCOUNT = "123456789012"
REGION = "us-east-1"
PIPELINE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/deploy-pipeline"
CONSOLE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Admin"
IMPORT = "POST /findings/import"


COMMON = {"networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512"}


@pytest.fixture(scope="module")
def proxy():
    with aws_proxy() as server:
        yield server


@pytest.fixture()
def aws(proxy, monkeypatch):
    """A fresh moto account behind the proxy; the handler's clients reach it through AWS_ENDPOINT_URL."""
    fresh_account(proxy, monkeypatch)
    proxy.calls.clear()
    for key in ("PIPELINE_ROLES", "RESPONSE", "TOUCH_SERVICES", "SCOPE"):
        monkeypatch.delenv(f"ECS_ADMISSION_DETECTIVE_{key}", raising=False)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("ECS_ADMISSION_IAM_LOOKUP", "off")
    monkeypatch.setenv("ECS_ADMISSION_DETECTIVE_PIPELINE_ROLES", PIPELINE_ROLE)
    session = aws_session()
    return session.client("ecs", region_name=REGION), session.client("securityhub", region_name=REGION)


def identity(role_arn: str) -> dict:
    """CloudTrail's userIdentity for a call made with an assumed role."""
    name = role_arn.rsplit("/", 1)[-1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{name}-session",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{name}-session",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": role_arn,
                "accountId": ACCOUNT,
                "userName": name,
            },
            "attributes": {"creationDate": "2026-12-03T09:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def event(name: str, request: dict, response: dict | None, principal: str = CONSOLE_ROLE, error: str = "") -> dict:
    """The EventBridge event for an ECS API call recorded by CloudTrail (detail is the CloudTrail record)."""
    detail = {
        "eventVersion": "1.08",
        "userIdentity": identity(principal),
        "eventTime": "2026-12-03T09:00:00Z",
        "eventSource": "ecs.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": "192.0.2.10",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request,
        "responseElements": response,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
    if error:
        detail.update(errorCode=error, errorMessage="denied", responseElements=None)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ecs",
        "account": ACCOUNT,
        "time": "2026-12-03T09:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def register(ecs, principal: str = CONSOLE_ROLE, family: str = "web", **changes) -> tuple[str, dict]:
    """Register through moto's ECS API; the event is built from that real response."""
    request = {"family": family, "containerDefinitions": [container(**changes)], **COMMON}
    response = ecs.register_task_definition(**request)
    response.pop("ResponseMetadata", None)
    arn = response["taskDefinition"]["taskDefinitionArn"]
    return arn, event("RegisterTaskDefinition", request, json.loads(json.dumps(response, default=str)), principal)


def deregister(ecs, arn: str, principal: str = CONSOLE_ROLE) -> dict:
    response = ecs.deregister_task_definition(taskDefinition=arn)
    response.pop("ResponseMetadata", None)
    return event("DeregisterTaskDefinition", {"taskDefinition": arn}, json.loads(json.dumps(response, default=str)))


def findings(hub) -> dict[str, dict]:
    return {f["Id"]: f for f in hub.get_findings()["Findings"]}


def imports(proxy) -> list:
    return [c for c in proxy.calls if c.operation == IMPORT]


def test_a_privileged_registration_becomes_a_security_hub_finding_naming_rule_and_pointer(aws, proxy, capsys):
    ecs, hub = aws
    arn, registered = register(ecs, privileged=True)
    outcome = detective.handler(registered, None)
    assert outcome["action"] == "judged" and outcome["verdict"] == "deny"
    assert "ECS-ISO-002" in outcome["rules"]
    found = findings(hub)
    finding = found[finding_id(arn, "ECS-ISO-002")]
    assert set(found) == {finding_id(arn, rule) for rule in outcome["rules"]}  # one per rule and revision
    assert finding["Resources"][0] == {
        "Type": "AwsEcsTaskDefinition",
        "Id": arn,
        "Partition": "aws",
        "Region": REGION,
        "Details": {"AwsEcsTaskDefinition": {"Family": "web"}},
    }
    assert finding["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
    assert finding["GeneratorId"] == "ecs-admission/ECS-ISO-002"
    assert finding["Title"].startswith("ECS-ISO-002: ")
    assert finding["ProductFields"]["ecs-admission/RuleId"] == "ECS-ISO-002"
    assert finding["ProductFields"]["ecs-admission/Path"] == "/containerDefinitions/0/privileged"
    assert "JSON pointer: /containerDefinitions/0/privileged" in finding["Description"]
    assert finding["ProductFields"]["ecs-admission/RegisteredBy"] == CONSOLE_ROLE
    assert finding["Severity"]["Label"] in {"CRITICAL", "HIGH"}
    assert finding["Remediation"]["Recommendation"]["Text"]
    assert finding["Compliance"] == {"Status": "FAILED"} and finding["RecordState"] == "ACTIVE"
    # ASFF's required fields, so the real BatchImportFindings accepts it.
    for required in ("SchemaVersion", "AwsAccountId", "Types", "CreatedAt", "UpdatedAt", "Description"):
        assert finding[required], required
    # The same decision record as the webhook's, with the event that caused it.
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    record = next(line for line in lines if line.get("record") == "decision")
    assert record["verdict"] == "deny" and "ECS-ISO-002" in record["violations"]
    assert record["caller"] == CONSOLE_ROLE and record["auth"] == "cloudtrail"
    assert record["detective"]["revision"] == arn and record["mode"] == "dry-run"


def test_judging_again_updates_the_same_findings(aws, proxy):
    ecs, hub = aws
    arn, registered = register(ecs, privileged=True)
    first = detective.handler(registered, None)
    created = findings(hub)[finding_id(arn, "ECS-ISO-002")]["CreatedAt"]
    second = detective.handler(registered, None)  # EventBridge delivers at least once
    assert first["findings"]["active"] == second["findings"]["active"]
    after = findings(hub)
    assert len(after) == len(first["findings"]["active"])
    assert after[finding_id(arn, "ECS-ISO-002")]["CreatedAt"] == created


def test_registering_a_fixed_revision_resolves_the_finding(aws, proxy):
    ecs, hub = aws
    bad, registered = register(ecs, privileged=True)
    detective.handler(registered, None)
    _good, fixed = register(ecs)
    outcome = detective.handler(fixed, None)
    assert outcome["verdict"] == "allow" and outcome["findings"]["active"] == []
    finding = findings(hub)[finding_id(bad, "ECS-ISO-002")]
    assert finding_id(bad, "ECS-ISO-002") in outcome["findings"]["resolved"]
    assert finding["RecordState"] == "ARCHIVED"
    assert finding["Compliance"] == {"Status": "PASSED"} and finding["Workflow"] == {"Status": "RESOLVED"}
    assert "superseded by web:2" in finding["ProductFields"]["ecs-admission/Resolution"]


def test_under_scope_all_only_deregistering_resolves(aws, proxy, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_DETECTIVE_SCOPE", "all")
    ecs, hub = aws
    bad, registered = register(ecs, privileged=True)
    detective.handler(registered, None)
    _, fixed = register(ecs)
    detective.handler(fixed, None)
    assert findings(hub)[finding_id(bad, "ECS-ISO-002")]["RecordState"] == "ACTIVE"
    outcome = detective.handler(deregister(ecs, bad), None)
    assert outcome["action"] == "resolved" and finding_id(bad, "ECS-ISO-002") in outcome["findings"]["resolved"]
    finding = findings(hub)[finding_id(bad, "ECS-ISO-002")]
    assert finding["RecordState"] == "ARCHIVED" and finding["Workflow"] == {"Status": "RESOLVED"}
    assert finding["ProductFields"]["ecs-admission/Resolution"] == f"deregistered by {CONSOLE_ROLE}"


def test_deregistering_the_latest_judges_the_revision_that_is_latest_again(aws, proxy):
    ecs, hub = aws
    older, first = register(ecs, privileged=True)
    detective.handler(first, None)
    newer, second = register(ecs, privileged=True)
    detective.handler(second, None)
    assert findings(hub)[finding_id(older, "ECS-ISO-002")]["RecordState"] == "ARCHIVED"  # superseded
    outcome = detective.handler(deregister(ecs, newer), None)
    assert finding_id(newer, "ECS-ISO-002") in outcome["findings"]["resolved"]
    assert finding_id(older, "ECS-ISO-002") in outcome["findings"]["active"]
    assert findings(hub)[finding_id(older, "ECS-ISO-002")]["RecordState"] == "ACTIVE"


def test_a_service_pointed_at_a_revision_is_judged_and_never_deregistered_without_the_second_opt_in(
    aws, proxy, monkeypatch, capsys
):
    monkeypatch.setenv("ECS_ADMISSION_DETECTIVE_RESPONSE", "tag,deregister")
    ecs, hub = aws
    arn, _ = register(ecs, principal=PIPELINE_ROLE, privileged=True)  # registered through the gate's pipeline...
    ecs.create_cluster(clusterName="prod")
    request = {"cluster": "prod", "serviceName": "web", "taskDefinition": "web", "desiredCount": 1}
    response = json.loads(json.dumps(ecs.create_service(**request), default=str))
    response.pop("ResponseMetadata", None)
    outcome = detective.handler(event("CreateService", request, response), None)  # ...deployed around it
    assert outcome["verdict"] == "deny" and outcome["revision"] == arn
    assert outcome["responses"] == ["tagged", "kept: a service runs it"]
    assert ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["status"] == "ACTIVE"
    tags = {t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert tags["ecs-admission:verdict"] == "deny" and "ECS-ISO-002" in tags["ecs-admission:rules"]
    finding = findings(hub)[finding_id(arn, "ECS-ISO-002")]
    assert finding["ProductFields"]["ecs-admission/Event"].startswith("CreateService arn:aws:ecs:")
    kept = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"action":"kept"' in line]
    assert kept and "TOUCH_SERVICES" in kept[0]["reason"]
    assert not [c for c in proxy.calls if c.operation == "DeregisterTaskDefinition"]

    monkeypatch.setenv("ECS_ADMISSION_DETECTIVE_TOUCH_SERVICES", "true")
    outcome = detective.handler(event("UpdateService", {**request, "service": "web"}, response), None)
    assert "deregistered" in outcome["responses"]
    assert ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["status"] == "INACTIVE"
    assert not [c for c in proxy.calls if c.operation == "UpdateService"]  # services are never updated


def test_deregister_response_removes_a_denied_registration(aws, proxy, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_DETECTIVE_RESPONSE", "deregister")
    ecs, _ = aws
    arn, registered = register(ecs, privileged=True)
    assert detective.handler(registered, None)["responses"] == ["deregistered"]
    assert ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["status"] == "INACTIVE"
    clean, registered = register(ecs, family="clean")
    assert "responses" not in detective.handler(registered, None)  # an allowed revision is left alone
    assert ecs.describe_task_definition(taskDefinition=clean)["taskDefinition"]["status"] == "ACTIVE"


def test_registrations_by_the_pipeline_roles_are_ignored_and_recorded(aws, proxy, capsys):
    ecs, hub = aws
    arn, registered = register(ecs, principal=PIPELINE_ROLE, privileged=True)
    proxy.calls.clear()
    outcome = detective.handler(registered, None)
    assert outcome["action"] == "ignored" and PIPELINE_ROLE in outcome["reason"]
    assert proxy.calls == []  # not described, nothing imported
    assert hub.get_findings()["Findings"] == []
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert {"record": "detective", "action": "ignored", "revision": arn, "principal": PIPELINE_ROLE}.items() <= lines[
        -1
    ].items()


def test_failed_calls_and_updates_without_a_task_definition_are_skipped_with_a_record(aws, proxy, capsys):
    outcome = detective.handler(event("RegisterTaskDefinition", {"family": "x"}, None, error="AccessDenied"), None)
    assert outcome["action"] == "skipped" and "AccessDenied" in outcome["reason"]
    scaled = event("UpdateService", {"service": "web", "desiredCount": 2}, {"service": {"serviceArn": "arn:x"}})
    assert detective.handler(scaled, None)["action"] == "skipped"
    assert imports(proxy) == []
    assert capsys.readouterr().out.count('"action":"skipped"') == 2


def test_describe_denied_fails_loudly(aws, proxy):
    ecs, _hub = aws
    _arn, registered = register(ecs, privileged=True)
    proxy.refused.append(("DescribeTaskDefinition", {}))
    with pytest.raises(detective.DetectiveError, match="AccessDeniedException"):
        detective.handler(registered, None)
    assert imports(proxy) == []


def test_import_throttled_is_retried_then_fails_loudly(aws, proxy, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_IAM_MAX_ATTEMPTS", "3")
    ecs, _hub = aws
    _, registered = register(ecs, privileged=True)
    proxy.throttled.append(IMPORT)
    with pytest.raises(SecurityHubError, match="ThrottlingException"):
        detective.handler(registered, None)
    assert len(imports(proxy)) == 3  # botocore's retries, then the error
    proxy.throttled.clear()
    assert detective.handler(registered, None)["verdict"] == "deny"  # Lambda's retry then succeeds


def test_an_event_the_detective_cannot_read_is_an_error(aws):
    with pytest.raises(EventError, match="detail-type"):
        detective.handler({"detail-type": "Scheduled Event"}, None)
    broken = event("RegisterTaskDefinition", {"family": "x"}, {"taskDefinition": {}})
    with pytest.raises(EventError, match="taskDefinitionArn"):
        detective.handler(broken, None)


@pytest.mark.parametrize("region", [1, ["us-east-1"], "us-east-1/../x", "US-EAST-1", "us-east-1.evil.example"])
def test_a_region_that_is_not_one_is_the_handlers_failed_line_not_a_type_error(aws, region, caplog):
    """An int or list raised a bare TypeError, `us-east-1/../x` botocore's InvalidRegionError (issue 21)."""
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:1"
    bad = event("RegisterTaskDefinition", {"family": "web"}, {"taskDefinition": {"taskDefinitionArn": arn}})
    bad["detail"]["awsRegion"] = region
    with caplog.at_level(logging.ERROR, logger="ecs_admission.detective"), pytest.raises(EventError, match="Region"):
        detective.handler(bad, None)
    assert "FAILED" in caplog.text and "not an AWS Region" in caplog.text


def test_a_region_in_the_revision_arn_is_checked_too_and_anything_else_is_still_a_failed_line(aws, caplog):
    arn = f"arn:aws:ecs:us-east-1/../x:{ACCOUNT}:task-definition/web:1"
    bad = event("RegisterTaskDefinition", {"family": "web"}, {"taskDefinition": {"taskDefinitionArn": arn}})
    del bad["detail"]["awsRegion"]
    bad.pop("region", None)
    with caplog.at_level(logging.ERROR, logger="ecs_admission.detective"), pytest.raises(EventError):
        detective.handler(bad, None)
    assert "FAILED" in caplog.text


def test_a_megabyte_arn_is_not_logged_whole(aws, caplog):
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/" + "w" * 1_000_000 + ":1"
    huge = event("RegisterTaskDefinition", {"family": "web"}, {"taskDefinition": {"taskDefinitionArn": arn}})
    failed = (detective.DetectiveError, EventError)
    with caplog.at_level(logging.ERROR, logger="ecs_admission.detective"), pytest.raises(failed):
        detective.handler(huge, None)
    assert "FAILED" in caplog.text and "more characters" in caplog.text
    assert max(len(record.getMessage()) for record in caplog.records) < 5_000


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ECS_ADMISSION_DETECTIVE_RESPONSE": "delete"}, "expected none"),
        ({"ECS_ADMISSION_DETECTIVE_PIPELINE_ROLES": "deploy-pipeline"}, "not an ARN"),
        ({"ECS_ADMISSION_DETECTIVE_SCOPE": "some"}, "expected one of latest, all"),
        ({"ECS_ADMISSION_DETECTIVE_TOUCH_SERVICES": "maybe"}, "expected true or false"),
    ],
)
def test_settings_refuse_what_they_cannot_use(env, message):
    from ecs_admission.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        DetectiveSettings.from_env(env)


def test_settings_defaults_and_patterns():
    assert DetectiveSettings.from_env({}) == DetectiveSettings((), frozenset(), False, "latest")
    settings = DetectiveSettings.from_env(
        {"ECS_ADMISSION_DETECTIVE_PIPELINE_ROLES": f"{PIPELINE_ROLE}, arn:aws:iam::*:role/gate-*  # comment"}
    )
    assert settings.pipeline_role(PIPELINE_ROLE) == PIPELINE_ROLE
    assert settings.pipeline_role("arn:aws:iam::999999999999:role/gate-ci") == "arn:aws:iam::*:role/gate-*"
    assert settings.pipeline_role(CONSOLE_ROLE) is None and settings.pipeline_role(None) is None


# --- what the handler calls, and what deploy/detective/detective.yaml grants ------------------------

TEMPLATE = REPO / "deploy" / "detective" / "detective.yaml"
# The proxy names a REST call by method and path; Security Hub is a REST service.
REST_ACTIONS = {"POST /findings": "securityhub:GetFindings", IMPORT: "securityhub:BatchImportFindings"}


def template() -> dict:
    return cfn_yaml.load(TEMPLATE)


def actions_of(policy: dict) -> set[str]:
    found = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions)
        if any(a.startswith(("iam:", "securityhub:", "ecs:TagResource")) for a in actions):
            assert statement["Resource"] != "*", actions  # these have resource-level permissions
        found |= set(actions)
    return found


def test_the_handler_makes_only_the_calls_its_role_is_granted(aws, proxy, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_DETECTIVE_RESPONSE", "tag,deregister")
    ecs, _ = aws
    _, registered = register(ecs, privileged=True)
    _older, first = register(ecs, family="batch", privileged=True)
    newer, second = register(ecs, family="batch")
    gone = deregister(ecs, newer)
    proxy.calls.clear()
    for each in (registered, first, second, gone):
        detective.handler(each, None)
    made = {REST_ACTIONS.get(c.operation, f"{c.service}:{c.operation}") for c in proxy.calls}
    granted = set(detective.DETECTIVE_ACTIONS) | set(detective.RESPONSE_ACTIONS.values())
    assert made <= granted, made - granted
    assert {"ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions", *REST_ACTIONS.values()} <= made


def test_template_passes_cfn_lint():
    from cfnlint.api import lint_file

    problems = [str(m) for m in lint_file(TEMPLATE) if m.rule.id[0] in "EW"]
    assert problems == []


def test_template_grants_exactly_the_calls_the_handler_makes():
    resources = template()["Resources"]
    base = resources["Role"]["Properties"]["Policies"]
    assert len(base) == 1 and "ManagedPolicyArns" not in resources["Role"]["Properties"]
    # Its logs, its dead letters, and its key (the dead-letter queue and the environment are encrypted).
    own = {"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage", "kms:Decrypt", "kms:GenerateDataKey"}
    assert actions_of(base[0]["PolicyDocument"]) == set(detective.DETECTIVE_ACTIONS) | own
    # The responses are granted only when the Response parameter turns them on.
    assert resources["TagPolicy"]["Condition"] == "Tag"
    assert actions_of(resources["TagPolicy"]["Properties"]["PolicyDocument"]) == {detective.RESPONSE_ACTIONS["tag"]}
    assert resources["DeregisterPolicy"]["Condition"] == "Deregister"
    deregister_actions = actions_of(resources["DeregisterPolicy"]["Properties"]["PolicyDocument"])
    assert deregister_actions == {detective.RESPONSE_ACTIONS["deregister"]}
    granted = " ".join(json.dumps(r) for r in resources.values())
    assert "ecs:UpdateService" not in granted  # services are never touched


def test_template_wires_the_rule_the_handler_and_the_dead_letter_queue():
    from ecs_admission.integrations.cloudtrail import DETAIL_TYPE, EVENT_NAMES
    from ecs_admission.integrations.detective_config import PREFIX, parse_responses

    document = template()
    resources = document["Resources"]
    function = resources["Function"]["Properties"]
    assert function["Handler"] == "ecs_admission.integrations.detective.handler"
    assert function["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    variables = function["Environment"]["Variables"]
    assert {name for name in variables if name.startswith(PREFIX)} == {
        PREFIX + suffix for suffix in ("PIPELINE_ROLES", "RESPONSE", "TOUCH_SERVICES", "SCOPE")
    }
    pattern = resources["Rule"]["Properties"]["EventPattern"]
    assert pattern["detail-type"] == [DETAIL_TYPE] and pattern["detail"]["eventSource"] == ["ecs.amazonaws.com"]
    matched = [name for branch in pattern["detail"]["$or"] for name in branch["eventName"]]
    assert sorted(matched) == sorted(EVENT_NAMES)
    update = next(b for b in pattern["detail"]["$or"] if b["eventName"] == ["UpdateService"])
    assert update["requestParameters"] == {"taskDefinition": [{"exists": True}]}
    target = resources["Rule"]["Properties"]["Targets"][0]
    assert target["Arn"] == {"Fn::GetAtt": ["Function", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert resources["AsyncConfig"]["Properties"]["MaximumRetryAttempts"] >= 1
    for value in document["Parameters"]["Response"]["AllowedValues"]:
        parse_responses("Response", value)  # every choice the template offers, the handler reads
    assert document["Parameters"]["Response"]["Default"] == "none"
    assert document["Parameters"]["TouchServices"]["Default"] == "false"


def test_the_rule_delivers_what_the_handler_reads_and_not_scaling(aws, proxy):
    """The template's event pattern on moto's EventBridge: the event goes in through PutEvents, comes out
    of a queue target as EventBridge delivers it, and that is what the handler is given."""
    ecs, hub = aws
    session = aws_session()
    events, sqs = session.client("events", region_name=REGION), session.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="delivered")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = template()["Resources"]["Rule"]["Properties"]["EventPattern"]
    events.put_rule(Name="detective", EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule="detective", Targets=[{"Id": "queue", "Arn": queue_arn}])
    arn, registered = register(ecs, privileged=True)
    scaled = event("UpdateService", {"service": "web", "desiredCount": 3}, {"service": {"serviceArn": "arn:x"}})
    for each in (scaled, registered):  # CloudTrail's side: the record becomes an event on the default bus
        entry = {"Source": each["source"], "DetailType": each["detail-type"], "Detail": json.dumps(each["detail"])}
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    delivered = [json.loads(m["Body"]) for m in messages]
    assert [d["detail"]["eventName"] for d in delivered] == ["RegisterTaskDefinition"]  # scaling is not delivered
    outcome = detective.handler(delivered[0], None)
    assert outcome["revision"] == arn and "ECS-ISO-002" in outcome["rules"]
    assert finding_id(arn, "ECS-ISO-002") in findings(hub)
