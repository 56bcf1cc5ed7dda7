"""`ecs-admission audit --report securityhub`: a one-off sweep leaves the same Security Hub findings
(the same Ids) as the detective Lambda does for each revision, in moto behind the recording proxy."""

from __future__ import annotations

import json

from ecs_admission.cli import commands as cli
from ecs_admission.facts.iam import aws_session
from ecs_admission.report.securityhub import finding_id
from tests.integrations.test_detective import event
from tests.report.test_audit import MOTO_ACCOUNT, account, audit, proxy  # noqa: F401 - fixtures shared with test_audit

WEB_2 = f"arn:aws:ecs:us-east-1:{MOTO_ACCOUNT}:task-definition/web:2"
WEB_1 = f"arn:aws:ecs:us-east-1:{MOTO_ACCOUNT}:task-definition/web:1"


def findings() -> dict[str, dict]:
    hub = aws_session().client("securityhub", region_name="us-east-1")
    return {f["Id"]: f for f in hub.get_findings()["Findings"]}


def test_audit_reports_denied_revisions_to_security_hub(account):  # noqa: F811
    code, _, stderr = audit("--region", "us-east-1", "--report", "securityhub", "--format", "json")
    assert code == 1, stderr  # web:2 is denied; the report does not change the exit code
    found = findings()
    assert finding_id(WEB_2, "ECS-ISO-002") in found
    assert all(f["Resources"][0]["Id"] == WEB_2 for f in found.values())  # worker:1 passes, batch is gone
    finding = found[finding_id(WEB_2, "ECS-ISO-002")]
    assert finding["ProductFields"]["ecs-admission/Source"] == "audit"
    assert finding["ProductFields"]["ecs-admission/Path"] == "/containerDefinitions/0/privileged"
    assert f"Security Hub (us-east-1): {len(found)} active finding(s), 0 resolved" in stderr
    # A second sweep updates the same findings.
    assert audit("--region", "us-east-1", "--report", "securityhub")[0] == 1
    assert set(findings()) == set(found)


def test_audit_and_the_detective_keep_the_same_findings(account, monkeypatch):  # noqa: F811
    from ecs_admission.integrations import detective

    audit("--region", "us-east-1", "--report", "securityhub")
    swept = findings()
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("ECS_ADMISSION_DETECTIVE_PIPELINE_ROLES", "")
    described = account.describe_task_definition(taskDefinition="web:2")["taskDefinition"]
    response = json.loads(json.dumps({"taskDefinition": described}, default=str))
    registered = event("RegisterTaskDefinition", {"family": "web"}, response)
    outcome = detective.handler(registered, None)
    assert set(outcome["findings"]["active"]) == set(swept)  # the same Ids: updated, not added
    assert set(findings()) == set(swept)
    assert findings()[finding_id(WEB_2, "ECS-ISO-002")]["ProductFields"]["ecs-admission/Source"] == "detective"


def test_every_revision_sweep_keeps_each_revisions_findings(account):  # noqa: F811
    account.register_task_definition(
        family="web",
        containerDefinitions=[
            {"name": "api", "image": "public.ecr.aws/nginx/nginx:1.27", "memory": 256, "privileged": True}
        ],
    )
    audit("--region", "us-east-1", "--all-revisions", "--report", "securityhub")
    assert findings()[finding_id(WEB_2, "ECS-ISO-002")]["RecordState"] == "ACTIVE"
    # The latest-only sweep then resolves web:2's findings as superseded by web:3.
    audit("--region", "us-east-1", "--report", "securityhub")
    resolved = findings()[finding_id(WEB_2, "ECS-ISO-002")]
    assert resolved["RecordState"] == "ARCHIVED" and "superseded by web:3" in str(resolved["ProductFields"])


def test_a_throttled_import_makes_the_audit_exit_3(account, proxy):  # noqa: F811
    proxy.throttled.append("POST /findings/import")
    try:
        code, _, stderr = audit("--region", "us-east-1", "--report", "securityhub")
    finally:
        proxy.throttled.clear()
    assert code == 3
    assert "cannot report to Security Hub in us-east-1: " in stderr
    assert "securityhub:BatchImportFindings failed: ThrottlingException" in stderr


def test_securityhub_is_a_report_of_audit_only():
    import io

    stderr = io.StringIO()
    code = cli.main(["check", "--report", "securityhub", "x.json"], stdout=io.StringIO(), stderr=stderr)
    assert code == 2 and "--report securityhub is for audit" in stderr.getvalue()
    code = cli.main(["audit", "--report", "securityhab"], stdout=io.StringIO(), stderr=stderr)
    assert code == 2 and "or securityhub for audit" in stderr.getvalue()
