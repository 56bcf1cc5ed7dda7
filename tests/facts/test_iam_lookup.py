"""IAM lookups with boto3 against moto's server over real HTTP on 127.0.0.1.

A small recording proxy sits between boto3 and moto: it proves which IAM operations the webhook
calls (only the read calls docs/iam-facts.md lists), and injects what moto does not do by itself: an
AccessDenied answer, throttling, and a slow endpoint for the timeout and budget paths.
"""

from __future__ import annotations

import datetime
import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import boto3
import pytest

from ecs_admission.config import ConfigError, Settings
from ecs_admission.engines.factory import build_engine
from ecs_admission.facts.iam import READ_ACTIONS, IamLookup, TTLCache, resolve_mode
from ecs_admission.gate import build_gate
from ecs_admission.inputs import normalise
from ecs_admission.web import create_app
from tests.support.moto_proxy import managed_policies

MOTO_ACCOUNT = "123456789012"
EXEC_ARN = f"arn:aws:iam::{MOTO_ACCOUNT}:role/payments-exec"
TASK_ARN = f"arn:aws:iam::{MOTO_ACCOUNT}:role/service/payments-task"
ECS_MANAGED = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
SECRET = f"arn:aws:secretsmanager:us-east-1:{MOTO_ACCOUNT}:secret:payments/db-AbCdEf"
ALLOWED_OPERATIONS = {action.split(":")[1] for action in READ_ACTIONS}


# -- moto and the proxy ---------------------------------------------------------------------------


class Proxy:
    """Forwards AWS query-protocol calls to moto, recording each Action; rules answer or delay some."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.calls: list[str] = []
        self.errors: dict[str, tuple[int, str]] = {}
        self.delays: dict[str, float] = {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                action = parse_qs(body.decode()).get("Action", ["?"])[0]
                proxy.calls.append(action)
                time.sleep(proxy.delays.get(action, 0))
                try:
                    if action in proxy.errors:
                        status, code = proxy.errors[action]
                        self._answer(status, {"Content-Type": "text/xml"}, _error_body(code, action).encode())
                        return
                    connection = http.client.HTTPConnection(*proxy.upstream, timeout=10)
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    connection.request("POST", self.path, body, headers)
                    response = connection.getresponse()
                    payload = response.read()
                    skip = ("transfer-encoding", "connection", "content-length")
                    self._answer(
                        response.status, {k: v for k, v in response.getheaders() if k.lower() not in skip}, payload
                    )
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def _answer(self, status, headers, payload):
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self) -> None:
        self.calls.clear()
        self.errors.clear()
        self.delays.clear()


def _error_body(code: str, action: str) -> str:
    return (
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>User: arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/gate/x is not authorized "
        f"to perform: iam:{action}</Message></Error><RequestId>test</RequestId></ErrorResponse>"
    )


@pytest.fixture(scope="module")
def moto():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # The roles attach AWS's AmazonECSTaskExecutionRolePolicy by name.
    with managed_policies(f"http://{host}:{port}"):
        proxy = Proxy((host, port))
        proxy.thread.start()
        _seed(f"http://{host}:{port}")
        yield proxy
        proxy.server.shutdown()
    server.stop()


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _seed(endpoint: str) -> None:
    iam = boto3.client(
        "iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="x"
    )
    boundary = iam.create_policy(
        PolicyName="payments-boundary",
        PolicyDocument=json.dumps(
            policy({"Effect": "Allow", "Action": ["ecr:*", "logs:*", "secretsmanager:GetSecretValue"], "Resource": "*"})
        ),
    )["Policy"]["Arn"]
    iam.create_role(
        RoleName="payments-exec",
        AssumeRolePolicyDocument=json.dumps(TRUST),
        PermissionsBoundary=boundary,
        Tags=[{"Key": "team", "Value": "payments"}],
        MaxSessionDuration=7200,
    )
    iam.attach_role_policy(RoleName="payments-exec", PolicyArn=ECS_MANAGED)
    secrets = iam.create_policy(
        PolicyName="payments-secrets",
        PolicyDocument=json.dumps(
            policy({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": SECRET})
        ),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="payments-exec", PolicyArn=secrets)
    iam.put_role_policy(
        RoleName="payments-exec",
        PolicyName="s3-env-files",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}
        ),
    )
    iam.create_role(RoleName="payments-task", Path="/service/", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(
        RoleName="payments-task",
        PolicyName="deployer",
        PolicyDocument=json.dumps(
            policy(
                {
                    "Effect": "Allow",
                    "Action": ["iam:PassRole", "ecs:RegisterTaskDefinition", "ecs:RunTask"],
                    "Resource": "*",
                }
            )
        ),
    )


@pytest.fixture()
def aws(moto, monkeypatch):
    """Point the standard AWS chain at the proxy in front of moto, with test credentials."""
    moto.reset()
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL_STS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    return moto


def settings(**changes) -> Settings:
    return Settings(**{"auth": "none", "iam_lookup": "on", "iam_read_timeout": 5, "iam_budget_seconds": 10, **changes})


def task_definition(**roles) -> dict:
    return {
        "family": "payments",
        **roles,
        "containerDefinitions": [
            {
                "name": "api",
                "image": f"{MOTO_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/payments:1",
                "secrets": [{"name": "DB", "valueFrom": SECRET + ":password::"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/ecs/payments", "awslogs-region": "us-east-1"},
                },
                "environmentFiles": [{"value": "arn:aws:s3:::payments-config/api.env", "type": "s3"}],
            }
        ],
    }


_ENGINE = []


def gate_for(config: Settings):
    """A gate with the given settings; the compiled policies are shared, each gate has its own cache."""
    if not _ENGINE:
        _ENGINE.append(build_engine(Settings()))
    return build_gate(config, engine=_ENGINE[0])


def roles_for(gate, document) -> dict:
    return gate.input_document(normalise(document), datetime.datetime(2026, 1, 1))["task_roles"]


# -- the facts ------------------------------------------------------------------------------------


def test_role_with_inline_managed_aws_managed_policies_and_boundary(aws):
    gate = gate_for(settings())
    roles = roles_for(gate, task_definition(executionRoleArn=EXEC_ARN))
    role = roles["executionRoleArn"]
    assert (role["status"], role["source"], role["reason"]) == ("known", "iam", "")
    assert role["trust_policy"]["Statement"][0]["Principal"] == {"Service": ["ecs-tasks.amazonaws.com"]}
    kinds = {(p["name"], p["kind"]) for p in role["policies"]}
    assert kinds == {
        ("AmazonECSTaskExecutionRolePolicy", "aws-managed"),
        ("payments-secrets", "managed"),
        ("s3-env-files", "inline"),
    }
    managed = next(p for p in role["policies"] if p["kind"] == "aws-managed")
    assert managed["arn"] == ECS_MANAGED
    assert "ecr:GetAuthorizationToken" in managed["document"]["Statement"][0]["Action"]
    assert role["permissions_boundary"]["Statement"][0]["Action"] == [
        "ecr:*",
        "logs:*",
        "secretsmanager:GetSecretValue",
    ]
    assert role["details"]["tags"] == {"team": "payments"} and role["details"]["max_session_duration"] == 7200
    # The boundary removes s3 even though the inline policy grants s3:* on *.
    access = {(a["action"], a["path"]): a["decision"] for a in role["access"]}
    assert access[("secretsmanager:GetSecretValue", "/containerDefinitions/0/secrets/0/valueFrom")] == "allowed"
    assert access[("ecr:BatchGetImage", "/containerDefinitions/0/image")] == "allowed"
    assert access[("logs:PutLogEvents", "/containerDefinitions/0/logConfiguration/options/awslogs-group")] == "allowed"
    assert access[("s3:GetObject", "/containerDefinitions/0/environmentFiles/0/value")] == "denied"
    assert role["permissions"]["beyond_execution_baseline"] == []
    assert set(aws.calls) <= ALLOWED_OPERATIONS
    assert {
        "GetRole",
        "ListAttachedRolePolicies",
        "GetPolicy",
        "GetPolicyVersion",
        "ListRolePolicies",
        "GetRolePolicy",
    } <= set(aws.calls)


def test_bare_role_name_resolves_against_the_callers_account(aws):
    gate = gate_for(settings())
    roles = roles_for(gate, task_definition(taskRoleArn="payments-exec"))
    assert roles["taskRoleArn"]["arn"] == EXEC_ARN and roles["taskRoleArn"]["status"] == "known"
    assert "GetCallerIdentity" in aws.calls


def test_task_role_escalation_path_and_role_path(aws):
    roles = roles_for(gate_for(settings()), task_definition(taskRoleArn=TASK_ARN))
    role = roles["taskRoleArn"]
    assert role["status"] == "known" and role["details"]["path"] == "/service/"
    assert [p["id"] for p in role["permissions"]["escalation_paths"]] == ["PassExistingRoleToNewECSTaskViaRunTask"]
    assert role["permissions"]["passrole_any"] is True and role["access"] is None


def test_role_that_does_not_exist_is_missing(aws):
    roles = roles_for(gate_for(settings()), task_definition(taskRoleArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/ghost"))
    role = roles["taskRoleArn"]
    assert (role["status"], role["source"]) == ("missing", "iam")
    assert role["reason"] == f"role ghost does not exist in account {MOTO_ACCOUNT}"
    assert role["permissions"] is None


def test_arn_whose_path_differs_from_the_role_is_missing(aws):
    roles = roles_for(
        gate_for(settings()), task_definition(taskRoleArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/payments-exec2")
    )
    assert roles["taskRoleArn"]["status"] == "missing"
    roles = roles_for(
        gate_for(settings()), task_definition(taskRoleArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/other/payments-exec")
    )
    assert roles["taskRoleArn"]["status"] == "missing" and EXEC_ARN in roles["taskRoleArn"]["reason"]


def test_access_denied_makes_the_role_unknown(aws):
    aws.errors["GetRole"] = (403, "AccessDenied")
    before = failures("access_denied")
    role = roles_for(gate_for(settings()), task_definition(executionRoleArn=EXEC_ARN))["executionRoleArn"]
    assert failures("access_denied") == before + 1
    assert (role["status"], role["source"]) == ("unknown", "iam")
    assert "access denied to IAM GetRole (AccessDenied" in role["reason"]
    assert role["permissions"] is None and role["access"] is None


def test_access_denied_on_a_policy_read_makes_the_role_unknown(aws):
    aws.errors["ListAttachedRolePolicies"] = (403, "AccessDenied")
    role = roles_for(gate_for(settings()), task_definition(executionRoleArn=EXEC_ARN))["executionRoleArn"]
    assert role["status"] == "unknown" and "ListAttachedRolePolicies" in role["reason"]


def test_throttling_after_retries_makes_the_role_unknown(aws):
    aws.errors["GetRole"] = (400, "Throttling")
    before = failures("throttled")
    role = roles_for(gate_for(settings(iam_max_attempts=2)), task_definition(taskRoleArn=TASK_ARN))["taskRoleArn"]
    assert failures("throttled") == before + 1  # one failed lookup, however many attempts it took
    assert role["status"] == "unknown" and "throttled after 2 attempt(s)" in role["reason"]
    assert aws.calls.count("GetRole") == 2


def test_slow_endpoint_times_out(aws):
    aws.delays["GetRole"] = 2.0
    gate = gate_for(settings(iam_read_timeout=0.3, iam_max_attempts=1))
    before = failures("timeout")
    role = roles_for(gate, task_definition(taskRoleArn=TASK_ARN))["taskRoleArn"]
    assert failures("timeout") == before + 1
    assert role["status"] == "unknown" and "did not answer in time" in role["reason"]


def test_lookup_budget_bounds_the_request(aws):
    aws.delays["GetRole"] = 0.8
    gate = gate_for(settings(iam_budget_seconds=0.2))
    before = failures("budget")
    role = roles_for(gate, task_definition(taskRoleArn=TASK_ARN))["taskRoleArn"]
    assert failures("budget") == before + 1
    assert role["status"] == "unknown" and role["reason"] == "the IAM lookup budget of 0.2s ran out"
    # The call goes on in the background and fills the cache; wait for it so later tests see only their calls.
    gate.facts.lookup._pool().shutdown(wait=True)


def test_role_in_another_account_is_not_looked_up(aws):
    other = "arn:aws:iam::999988887777:role/payments-exec"
    before = all_failures()
    role = roles_for(gate_for(settings()), task_definition(taskRoleArn=other))["taskRoleArn"]
    assert role["status"] == "unknown" and "account 999988887777" in role["reason"]
    assert "GetRole" not in aws.calls
    # What the task definition asks for, not a failure of IAM: the lookup-failure alarm stays quiet.
    assert all_failures() == before


def test_a_role_that_does_not_exist_is_not_a_lookup_failure(aws):
    before = all_failures()
    role = roles_for(gate_for(settings()), task_definition(taskRoleArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/nope"))
    assert role["taskRoleArn"]["status"] == "missing"
    assert all_failures() == before


def test_caller_facts_take_precedence_over_lookups(aws):
    body = {
        "taskDefinition": task_definition(executionRoleArn=EXEC_ARN),
        "roles": {EXEC_ARN: {"trustPolicy": TRUST, "policies": []}},
    }
    role = roles_for(gate_for(settings()), body)["executionRoleArn"]
    assert role["source"] == "caller" and role["policies"] == []
    assert aws.calls == []


def test_warm_lookups_come_from_the_cache_until_the_ttl(aws):
    now = [1000.0]
    lookup = IamLookup(settings(), clock=lambda: now[0])
    cold = lookup.lookup([EXEC_ARN], lookup.deadline())[EXEC_ARN]
    calls = len(aws.calls)
    assert calls > 0 and cold["status"] == "known"
    warm = lookup.lookup([EXEC_ARN], lookup.deadline())[EXEC_ARN]
    assert warm == cold and len(aws.calls) == calls
    now[0] += 301
    lookup.lookup([EXEC_ARN], lookup.deadline())
    assert len(aws.calls) > calls


def test_a_cache_hit_is_served_without_the_lookup_threads(aws):
    lookup = IamLookup(settings())
    cold = lookup.lookup([EXEC_ARN], lookup.deadline())[EXEC_ARN]
    lookup._pool().shutdown()  # a hit that still went through the pool would now raise
    before = metrics_sample("ecs_admission_iam_cache_hits_total")
    assert lookup.lookup([EXEC_ARN], lookup.deadline())[EXEC_ARN] == cold
    assert metrics_sample("ecs_admission_iam_cache_hits_total") == before + 1


def metrics_sample(name: str, labels: dict[str, str] | None = None) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def failures(kind: str) -> float:
    return metrics_sample("ecs_admission_iam_lookup_failures_total", {"kind": kind})


def all_failures() -> float:
    from ecs_admission.facts.iam import FAILURE_KINDS

    return sum(failures(kind) for kind in FAILURE_KINDS)


def test_one_client_per_worker(aws):
    sessions = []

    def session_factory():
        sessions.append(boto3.session.Session())
        return sessions[-1]

    lookup = IamLookup(settings(), session_factory=session_factory)
    for _ in range(3):
        lookup.lookup([EXEC_ARN, TASK_ARN], lookup.deadline())
    assert lookup.client("iam") is lookup.client("iam")
    assert len(sessions) == 2  # one for iam, one for sts, never one per request


def test_decision_records_the_lookup_time(aws, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_IAM_LOOKUP", "on")
    app = create_app(settings())
    client = app.test_client()
    body = json.dumps(task_definition(executionRoleArn=EXEC_ARN, taskRoleArn=TASK_ARN))
    response = client.post("/v1/admit?dry_run=true", data=body, content_type="application/json")
    assert response.status_code == 200
    decision = app.extensions["ecs_admission"]["gate"].decide(normalise(json.loads(body)), dry_run=True)
    assert decision.timings_ms["iam"] > 0


# -- settings and the cache -----------------------------------------------------------------------


def test_ttl_cache_bounds_its_size():
    cache = TTLCache(ttl=10, size=2, clock=lambda: 0.0)
    for key in "abc":
        cache.put(key, key)
    assert cache.get("a") is None and cache.get("c") == "c" and len(cache) == 2
    assert TTLCache(ttl=0, size=5).put("a", 1) is None and TTLCache(ttl=0, size=5).get("a") is None


def test_lookup_mode(monkeypatch):
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert resolve_mode(Settings(iam_lookup="on")).enabled
    assert not resolve_mode(Settings(iam_lookup="off")).enabled
    auto = resolve_mode(Settings(iam_lookup="auto"))
    assert not auto.enabled and "no AWS Region" in auto.reason
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert resolve_mode(Settings(iam_lookup="auto")).enabled


def test_lookup_off_reason_reaches_the_role(monkeypatch):
    role = roles_for(gate_for(Settings(iam_lookup="off")), task_definition(taskRoleArn=TASK_ARN))["taskRoleArn"]
    assert role["status"] == "unknown" and "ECS_ADMISSION_IAM_LOOKUP=off" in role["reason"]


def test_iam_settings_from_environment():
    loaded = Settings.from_env(
        {
            "ECS_ADMISSION_IAM_LOOKUP": "ON",
            "ECS_ADMISSION_IAM_CACHE_TTL": "60",
            "ECS_ADMISSION_IAM_CACHE_SIZE": "10",
            "ECS_ADMISSION_IAM_BUDGET_SECONDS": "1.5",
            "ECS_ADMISSION_IAM_MAX_ATTEMPTS": "2",
        }
    )
    assert (loaded.iam_lookup, loaded.iam_cache_ttl, loaded.iam_cache_size) == ("on", 60.0, 10)
    assert (loaded.iam_budget_seconds, loaded.iam_max_attempts) == (1.5, 2)
    with pytest.raises(ConfigError, match="ECS_ADMISSION_IAM_LOOKUP"):
        Settings.from_env({"ECS_ADMISSION_IAM_LOOKUP": "sometimes"})
    with pytest.raises(ConfigError, match="ECS_ADMISSION_IAM_MAX_ATTEMPTS"):
        Settings.from_env({"ECS_ADMISSION_IAM_MAX_ATTEMPTS": "0"})


def test_template_managed_policies_resolve_through_iam(aws):
    from ecs_admission.inputs.cloudformation import load_template

    template = {
        "Resources": {
            "Exec": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": TRUST,
                    "ManagedPolicyArns": [
                        ECS_MANAGED,
                        f"arn:aws:iam::{MOTO_ACCOUNT}:policy/payments-secrets",
                        "arn:aws:iam::aws:policy/ReadOnlyAccess",
                    ],
                },
            },
            "Task": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "ExecutionRoleArn": {"Fn::GetAtt": ["Exec", "Arn"]},
                    "ContainerDefinitions": [
                        {"Name": "a", "Image": "nginx", "Secrets": [{"Name": "DB", "ValueFrom": SECRET}]}
                    ],
                },
            },
        }
    }
    request = load_template(template, {"region": "us-east-1"}).task_definitions[0].request
    gate = gate_for(settings())
    role = gate.input_document(request, datetime.datetime(2026, 1, 1))["task_roles"]["executionRoleArn"]
    assert (role["status"], role["source"]) == ("known", "template")
    assert [p["kind"] for p in role["policies"]] == ["aws-managed", "managed", "aws-managed"]
    assert all(p["document"] for p in role["policies"])
    # The AWS managed policies the gate ships are read from IAM too when lookups are on: IAM wins.
    assert all("source" not in p and "version_id" not in p for p in role["policies"])
    assert role["access"][0]["decision"] == "allowed"
    assert "GetRole" not in aws.calls and "GetPolicyVersion" in aws.calls
    # A managed policy IAM does not have leaves the role's policies unknown, with the reason.
    template["Resources"]["Exec"]["Properties"]["ManagedPolicyArns"].append(f"arn:aws:iam::{MOTO_ACCOUNT}:policy/ghost")
    request = load_template(template, {"region": "us-east-1"}).task_definitions[0].request
    role = gate.input_document(request, datetime.datetime(2026, 1, 1))["task_roles"]["executionRoleArn"]
    assert role["status"] == "unknown" and "policy/ghost" in role["reason"] and role["permissions"] is None


def test_deploy_policy_grants_exactly_the_read_calls():
    from tests.conftest import REPO

    policy_document = json.loads((REPO / "deploy" / "webhook-iam-policy.json").read_text())
    actions = {
        a
        for s in policy_document["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == set(READ_ACTIONS)
    assert all(s["Effect"] == "Allow" for s in policy_document["Statement"])
