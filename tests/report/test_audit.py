"""`ecs-admission audit`: the registered task definitions of an account, judged by the same gate.

ECS is moto's server over real HTTP on 127.0.0.1; the roles the task definitions name are in
moto's IAM, so the audit's IAM lookups (on, as they are wherever a Region and credentials are
configured) find them.
"""

from __future__ import annotations

import io
import json
import os
import re
import select
import socket

import pytest

from ecs_admission.cli import commands as cli
from ecs_admission.cli.progress import AuditProgress
from ecs_admission.facts.iam import READ_ACTIONS, aws_session
from ecs_admission.report.audit import AUDIT_ACTIONS
from tests.conftest import REPO
from tests.support.moto_proxy import aws_proxy, fresh_account

MOTO_ACCOUNT = "123456789012"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": MOTO_ACCOUNT}},
        }
    ],
}


def container(**changes) -> dict:
    return {
        "name": "api",
        "image": "public.ecr.aws/nginx/nginx:1.27",
        "essential": True,
        "memory": 256,
        "readonlyRootFilesystem": True,
        "user": "1000",
        "logConfiguration": {"logDriver": "json-file"},
        "healthCheck": {"command": ["CMD-SHELL", "true"]},
        **changes,
    }


@pytest.fixture(scope="module")
def proxy():
    """moto behind the recording proxy (tests/support/moto_proxy.py): it sees every call and can refuse some."""
    with aws_proxy() as server:
        yield server


@pytest.fixture()
def account(proxy, monkeypatch):
    """Three families in moto: web (two revisions, the latest privileged), worker (clean), batch (deregistered)."""
    fresh_account(proxy, monkeypatch)
    monkeypatch.setenv("ECS_ADMISSION_IAM_LOOKUP", "on")
    session = aws_session()  # not boto3.client: the default session would keep these credentials
    iam = session.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="web-task", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    ecs = session.client("ecs", region_name="us-east-1")
    common = {"networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512"}
    ecs.register_task_definition(family="web", taskRoleArn=role, containerDefinitions=[container()], **common)
    ecs.register_task_definition(
        family="web", taskRoleArn=role, containerDefinitions=[container(privileged=True)], **common
    )
    ecs.register_task_definition(family="worker", taskRoleArn=role, containerDefinitions=[container()], **common)
    batch = ecs.register_task_definition(family="batch", containerDefinitions=[container(privileged=True)], **common)[
        "taskDefinition"
    ]["taskDefinitionArn"]
    ecs.deregister_task_definition(taskDefinition=batch)
    return ecs


def audit(*args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = cli.main(["audit", *args], stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def decisions(stdout: str) -> dict[str, dict]:
    parsed = json.loads(stdout)
    items = parsed if isinstance(parsed, list) else [parsed]
    return {f"{d['task_definition']['family']}:{d['task_definition']['revision']}": d for d in items}


def rules(decision: dict, bucket: str = "violations") -> set[str]:
    return {finding["rule"] for finding in decision[bucket]}


def test_audit_judges_the_latest_active_revision_of_each_family(account):
    code, stdout, stderr = audit("--region", "us-east-1", "--format", "json")
    assert code == 1, stderr  # web:2 runs privileged
    found = decisions(stdout)
    assert set(found) == {"web:2", "worker:1"}  # batch is deregistered, web:1 is not the latest
    assert "ECS-ISO-002" in rules(found["web:2"]) and found["web:2"]["allowed"] is False
    assert found["worker:1"]["allowed"] is True
    # The role was looked up in IAM (moto): its trust policy is known, so no "facts unavailable" warning.
    assert not {"ECS-ROLE-006", "ECS-ROLE-007"} & (rules(found["worker:1"], "warnings") | rules(found["worker:1"]))


def test_audit_every_revision_and_by_family_prefix(account):
    code, stdout, _ = audit("--region", "us-east-1", "--all-revisions", "--family-prefix", "we", "--format", "json")
    assert code == 1
    found = decisions(stdout)
    assert set(found) == {"web:1", "web:2"}
    assert found["web:1"]["allowed"] is True


def test_audit_dry_run_exits_0_and_text_names_each_task_definition(account):
    code, stdout, _ = audit("--region", "us-east-1", "--dry-run")
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0].startswith("web:2: WOULD DENY (dry-run) (family web, 1 violation(s), 0 warning(s)")
    assert "ECS-ISO-002" in lines[1]
    assert any(line.startswith("worker:1: ALLOWED") for line in lines)


def test_audit_with_nothing_registered_says_so(account):
    code, _, stderr = audit("--region", "us-east-1", "--family-prefix", "absent")
    assert code == 0
    assert "no ACTIVE task definitions in us-east-1 with family prefix 'absent'" in stderr


def test_audit_needs_a_region(account):
    code, _, stderr = audit()
    assert code == 2
    assert stderr.strip().splitlines() == [
        "ecs-admission: no AWS Region: pass --region or set AWS_REGION (see ecs-admission --help)"
    ]


def test_audit_fails_closed_when_ecs_cannot_be_reached(account, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ECS_ADMISSION_IAM_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("ECS_ADMISSION_IAM_CONNECT_TIMEOUT", "0.5")
    code, _, stderr = audit("--region", "us-east-1")
    assert code == 3
    assert "cannot list the task definitions in us-east-1: ecs:ListTaskDefinitionFamilies failed" in stderr


def test_the_auditor_policy_grants_exactly_what_the_audit_calls():
    document = json.loads((REPO / "deploy" / "audit-iam-policy.json").read_text())
    granted = {
        action
        for statement in document["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert granted == set(AUDIT_ACTIONS) | set(READ_ACTIONS)
    assert all(statement["Effect"] == "Allow" for statement in document["Statement"])


def test_a_task_definition_that_cannot_be_read_is_an_error_and_the_rest_are_judged(account, proxy):
    proxy.refused.append(("DescribeTaskDefinition", {"taskDefinition": "worker"}))
    code, stdout, stderr = audit("--region", "us-east-1", "--dry-run", "--format", "json")
    assert code == 3  # never 0: one task definition went unjudged, even in dry-run
    assert "worker: ecs:DescribeTaskDefinition failed: AccessDeniedException: not authorized" in stderr
    assert set(decisions(stdout)) == {"web:2"}


def test_the_audit_calls_only_the_ecs_reads_it_declares(account, proxy):
    proxy.calls.clear()  # the fixture's own set-up registered task definitions
    assert audit("--region", "us-east-1", "--all-revisions", "--dry-run")[0] == 0
    ecs_calls = {f"ecs:{call.operation}" for call in proxy.calls if call.service == "ecs"}
    assert ecs_calls == set(AUDIT_ACTIONS)


# -- progress on stderr ---------------------------------------------------------------------------


def audit_on_a_terminal(*args: str) -> tuple[int, str, str]:
    """The audit with stderr on a pseudo-terminal (as in an interactive shell); what the terminal showed."""
    master, slave = os.openpty()
    terminal = os.fdopen(slave, "w", encoding="utf-8")
    stdout = io.StringIO()
    try:
        assert terminal.isatty()
        code = cli.main(["audit", *args], stdout=stdout, stderr=terminal)
        terminal.flush()
        shown = b""
        while select.select([master], [], [], 0.2)[0]:
            chunk = os.read(master, 65536)
            if not chunk:
                break
            shown += chunk
    finally:
        terminal.close()
        os.close(master)
    return code, stdout.getvalue(), shown.decode()


def test_audit_shows_progress_on_a_terminal(account):
    code, stdout, shown = audit_on_a_terminal("--region", "us-east-1", "--dry-run")
    assert code == 0
    counts = re.findall(r"audit: (\d+)/(\d+) families, (\d+) task definition\(s\) judged, ([\d.]+)/s", shown)
    assert counts, shown
    # Drawn as soon as the families are listed (batch's family is still listed; its revision is not ACTIVE).
    assert counts[0][:2] == ("0", "3")
    assert counts[-1][:3] == ("3", "3", "2")  # the final line: every family, the two ACTIVE latest revisions
    assert shown.endswith("\r\n")  # the summary keeps its own line
    assert "web:2" in stdout and "audit:" not in stdout  # the report itself is untouched


def test_audit_progress_is_off_with_quiet_or_without_a_terminal(account):
    _, _, shown = audit_on_a_terminal("--region", "us-east-1", "--dry-run", "--quiet")
    assert "audit:" not in shown
    code, _, stderr = audit("--region", "us-east-1", "--dry-run")  # stderr is not a terminal here
    assert code == 0 and "audit:" not in stderr


def test_progress_rate_counts_task_definitions_per_second():
    ticks = iter([10.0, 10.0, 10.1, 14.0, 14.0])
    stream = io.StringIO()
    progress = AuditProgress(stream, enabled=True, clock=lambda: next(ticks))
    progress.start(3)
    for _ in range(8):
        progress.judged += 1
    progress.family_done()  # 0.1 s after the last draw: not redrawn
    progress.family_done()  # 4 s after the start: 8 in 4 s
    assert stream.getvalue().count("\r\x1b[K") == 2
    assert progress.line() == "audit: 2/3 families, 8 task definition(s) judged, 2.0/s, 4 s"
