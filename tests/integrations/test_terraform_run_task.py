"""The HCP Terraform run task, end to end against a local server playing HCP Terraform.

The fake (127.0.0.1 only) serves what HCP Terraform serves a run task: the plan JSON API, which
answers with a redirect to a pre-signed download on another host (archivist), and the task
result callback, which records every PATCH. The gate is the real Flask app; the run task request
is signed with the run task's HMAC key as HCP Terraform signs it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ecs_admission.config import Settings
from ecs_admission.gate import build_gate
from ecs_admission.gate.terraform import decide_plan
from ecs_admission.inputs.terraform import load_plan
from ecs_admission.integrations.terraform_run_task import (
    FetchError,
    RunTaskRunner,
    RunTaskSettings,
    allowed,
    fetch_plan,
    parse_payload,
    result_for,
    verify_signature,
)
from ecs_admission.web import create_app
from ecs_admission.web.terraform import RUNNER
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "terraform"
KEY = "run-task-hmac-key-for-tests"
TOKEN = "run-token-abc123"
ENDPOINT = "/v1/terraform/run-task"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeHcp:
    """app.terraform.io and archivist.terraform.io, on two loopback ports."""

    api: str = ""
    archivist: str = ""
    requests: list[Recorded] = field(default_factory=list)
    plans: dict[str, bytes] = field(default_factory=dict)
    fail_plans: dict[str, int] = field(default_factory=dict)
    callbacks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Condition = field(default_factory=threading.Condition)
    # Set by the client fixture: waits until the gate's runner has finished every run it accepted.
    runs_finished: Callable[[], bool] = lambda: True

    def wait_for_callback(self, result_id: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while not self.callbacks.get(result_id):
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no callback for {result_id}; requests: {[r.path for r in self.requests]}"
                self.lock.wait(remaining)
            callback = self.callbacks[result_id][0]
        # The run ends after its callback (it logs the answer): within the test, not after it.
        assert self.runs_finished(), "the run task is still pending 30 s after its callback"
        return callback


def _handler(fake: FakeHcp, role: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _record(self) -> Recorded:
            length = int(self.headers.get("Content-Length") or 0)
            recorded = Recorded(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length) if length else b"",
            )
            with fake.lock:
                fake.requests.append(recorded)
            return recorded

        def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            recorded = self._record()
            parts = self.path.strip("/").split("/")
            if role == "api" and parts[:3] == ["api", "v2", "plans"] and parts[-1] == "json-output":
                plan_id = parts[3]
                if recorded.headers.get("authorization") != f"Bearer {TOKEN}":
                    return self._send(401, b'{"errors":[{"status":"401"}]}')
                if plan_id.startswith("loop"):
                    return self._send(302, Location=self.path)
                if plan_id in fake.fail_plans:
                    return self._send(fake.fail_plans[plan_id], b'{"errors":[{"status":"500"}]}')
                # As HCP Terraform does: a temporary redirect to a pre-signed download elsewhere.
                return self._send(307, Location=f"{fake.archivist}/v1/object/{plan_id}?signature=s1")
            if role == "archivist" and parts[:2] == ["v1", "object"]:
                plan_id = parts[2].split("?")[0]
                if plan_id in fake.plans:
                    return self._send(200, fake.plans[plan_id], **{"Content-Type": "application/json"})
            return self._send(404)

        def do_PATCH(self) -> None:
            recorded = self._record()
            parts = self.path.strip("/").split("/")
            if role == "api" and parts[:3] == ["api", "v2", "task-results"] and parts[-1] == "callback":
                with fake.lock:
                    fake.callbacks.setdefault(parts[3], []).append(
                        {"headers": recorded.headers, "body": json.loads(recorded.body)}
                    )
                    fake.lock.notify_all()
                return self._send(200)
            return self._send(404)

    return Handler


@pytest.fixture(scope="module")
def hcp() -> Iterator[FakeHcp]:
    fake = FakeHcp()
    servers = {}
    for role in ("api", "archivist"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake, role))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers[role] = server
    fake.api = f"http://127.0.0.1:{servers['api'].server_port}"
    fake.archivist = f"http://127.0.0.1:{servers['archivist'].server_port}"
    try:
        yield fake
    finally:
        for server in servers.values():
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def client(hcp: FakeHcp):
    mp = pytest.MonkeyPatch()
    mp.setenv("ECS_ADMISSION_TFC_HMAC_KEY", KEY)
    mp.setenv("ECS_ADMISSION_TFC_ALLOWED_HOSTS", f"app.terraform.io,{hcp.api}")
    app = create_app(Settings(auth="none", iam_lookup="off"))

    def runs_finished() -> bool:
        runner = app.extensions["ecs_admission"].get(RUNNER)
        return runner is None or runner.drain(timeout=30)

    hcp.runs_finished = runs_finished
    with app.test_client() as test_client:
        yield test_client
    mp.undo()


def payload(hcp: FakeHcp, result_id: str, plan_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "payload_version": 1,
        "stage": "post_plan",
        "access_token": TOKEN,
        "capabilities": {"outcomes": True},
        "configuration_version_download_url": f"{hcp.api}/api/v2/configuration-versions/cv-1/download",
        "configuration_version_id": "cv-1",
        "is_speculative": False,
        "organization_name": "payments",
        "plan_json_api_url": f"{hcp.api}/api/v2/plans/{plan_id}/json-output",
        "run_app_url": "https://app.terraform.io/app/payments/api/runs/run-1",
        "run_created_at": "2026-12-06T20:00:00.000Z",
        "run_created_by": "deployer",
        "run_id": "run-1",
        "run_message": "Queued manually",
        "task_result_callback_url": f"{hcp.api}/api/v2/task-results/{result_id}/callback",
        "task_result_enforcement_level": "mandatory",
        "task_result_id": result_id,
        "workspace_app_url": "https://app.terraform.io/app/payments/api",
        "workspace_id": "ws-1",
        "workspace_name": "api",
        "workspace_working_directory": "",
    }
    body.update(overrides)
    return body


def send(client, body: dict[str, Any], key: str = KEY, signature: str | None = None):
    raw = json.dumps(body).encode()
    signed = signature if signature is not None else hmac.new(key.encode(), raw, hashlib.sha512).hexdigest()
    return client.post(ENDPOINT, data=raw, content_type="application/json", headers={"X-TFC-Task-Signature": signed})


def requests_for(hcp: FakeHcp, fragment: str) -> list[Recorded]:
    with hcp.lock:
        return [r for r in hcp.requests if fragment in r.path]


def test_a_good_run_is_judged_and_reported_with_outcomes(hcp, client):
    hcp.plans["plan-bad"] = (FIXTURES / "root-trust-ec2-privileged.plan.json").read_bytes()
    started = time.monotonic()
    response = send(client, payload(hcp, "taskrs-bad", "plan-bad"))
    assert response.status_code == 200 and response.get_json()["status"] == "accepted"
    assert time.monotonic() - started < 5  # answered at once; the verdict comes by callback
    callback = hcp.wait_for_callback("taskrs-bad")
    assert callback["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert callback["headers"]["content-type"] == "application/vnd.api+json"
    data = callback["body"]["data"]
    assert data["type"] == "task-results"
    assert data["attributes"]["status"] == "failed"
    assert "ECS-ISO-002" in data["attributes"]["message"] and "ECS-TRUST-002" in data["attributes"]["message"]
    assert data["attributes"]["url"] == "https://app.terraform.io/app/payments/api/runs/run-1"
    outcomes = data["relationships"]["outcomes"]["data"]
    assert all(o["type"] == "task-result-outcomes" for o in outcomes)
    by_id = {o["attributes"]["outcome-id"]: o["attributes"] for o in outcomes}
    privileged = by_id["ECS-ISO-002:aws_ecs_task_definition.agent.container_definitions[0].privileged"]
    assert privileged["tags"]["Status"] == [{"label": "Denied", "level": "error"}]
    assert privileged["tags"]["Severity"][0]["label"] == "Critical"
    assert "aws_ecs_task_definition.agent" in privileged["description"] and privileged["url"].startswith("https://")
    assert "ECS-TRUST-002:aws_ecs_task_definition.agent.task_role_arn" in by_id
    # The token went to HCP Terraform's API, never to the pre-signed download on the other host.
    (download,) = requests_for(hcp, "/v1/object/plan-bad")
    assert "authorization" not in download.headers
    (api,) = requests_for(hcp, "/plans/plan-bad/json-output")
    assert api.headers["authorization"] == f"Bearer {TOKEN}"


def test_a_run_whose_plan_is_allowed_passes(hcp, client, caplog):
    caplog.set_level("INFO", logger="ecs_admission.decisions")
    hcp.plans["plan-good"] = (FIXTURES / "module-hardened.plan.json").read_bytes()
    assert send(client, payload(hcp, "taskrs-good", "plan-good")).status_code == 200
    data = hcp.wait_for_callback("taskrs-good")["body"]["data"]
    assert data["attributes"]["status"] == "passed"
    assert data["attributes"]["message"].startswith("allowed: 2 task definition(s)")
    # A decision record per task definition, the workspace as the caller, and no token in any of them.
    decided = [json.loads(r.getMessage()) for r in caplog.records if r.name == "ecs_admission.decisions"]
    assert [(d["caller"], d["auth"], d["verdict"]) for d in decided] == [
        ("hcp-terraform:payments/api", "run-task-hmac", "allow")
    ] * 2
    assert TOKEN not in caplog.text


def test_a_bad_signature_is_refused_and_nothing_is_contacted(hcp, client):
    before = len(hcp.requests)
    body = payload(hcp, "taskrs-forged", "plan-bad")
    assert send(client, body, key="not-the-key").status_code == 401
    assert send(client, body, signature="").status_code == 401
    raw = json.dumps(body).encode()
    unsigned = client.post(ENDPOINT, data=raw, content_type="application/json")
    assert unsigned.status_code == 401 and unsigned.get_json()["error"] == "bad_signature"
    time.sleep(0.3)
    assert len(hcp.requests) == before and "taskrs-forged" not in hcp.callbacks


def test_a_host_outside_the_allow_list_is_refused(hcp, client):
    before = len(hcp.requests)
    elsewhere = "http://127.0.0.2:9/api/v2/plans/plan-x/json-output"
    response = send(client, payload(hcp, "taskrs-out", "plan-x", plan_json_api_url=elsewhere))
    assert response.status_code == 400
    assert response.get_json()["error"] == "host_not_allowed"
    assert response.get_json()["field"] == "/plan_json_api_url"
    callback = payload(hcp, "taskrs-out2", "plan-bad", task_result_callback_url="https://example.com/cb")
    response = send(client, callback)
    assert response.status_code == 400 and response.get_json()["field"] == "/task_result_callback_url"
    time.sleep(0.3)
    assert len(hcp.requests) == before


def test_a_plan_download_failure_reports_failed_with_the_reason(hcp, client):
    hcp.fail_plans["plan-gone"] = 500
    assert send(client, payload(hcp, "taskrs-gone", "plan-gone")).status_code == 200
    attributes = hcp.wait_for_callback("taskrs-gone")["body"]["data"]["attributes"]
    assert attributes["status"] == "failed"
    assert "HTTP 500" in attributes["message"] and "could not judge" in attributes["message"]
    # A download that is not a plan is no better: failed, never passed.
    hcp.plans["plan-junk"] = b'{"not": "a plan"}'
    assert send(client, payload(hcp, "taskrs-junk", "plan-junk")).status_code == 200
    attributes = hcp.wait_for_callback("taskrs-junk")["body"]["data"]["attributes"]
    assert attributes["status"] == "failed" and "not a `terraform show -json` plan" in attributes["message"]


def test_the_verification_request_is_answered_without_contacting_anything(hcp, client):
    before = len(hcp.requests)
    body = payload(
        hcp, "taskrs-test", "plan-test", access_token="test-token", stage="test", task_result_enforcement_level="test"
    )
    response = send(client, body)
    assert response.status_code == 200 and response.get_json()["status"] == "verified"
    time.sleep(0.2)
    assert len(hcp.requests) == before


def test_a_payload_that_is_not_a_run_task_is_400(client):
    raw = b'{"payload_version": 2}'
    signed = hmac.new(KEY.encode(), raw, hashlib.sha512).hexdigest()
    response = client.post(
        ENDPOINT, data=raw, content_type="application/json", headers={"X-TFC-Task-Signature": signed}
    )
    assert response.status_code == 400 and response.get_json()["field"] == "/payload_version"


def test_without_a_key_the_endpoint_refuses_to_work(monkeypatch):
    monkeypatch.delenv("ECS_ADMISSION_TFC_HMAC_KEY", raising=False)
    app = create_app(Settings(auth="none", iam_lookup="off"))
    response = app.test_client().post(ENDPOINT, data=b"{}", content_type="application/json")
    assert response.status_code == 403 and response.get_json()["error"] == "not_configured"


def test_signature_and_allow_list_rules():
    body = b'{"a": 1}'
    good = hmac.new(b"k", body, hashlib.sha512).hexdigest()
    assert verify_signature(body, good, "k") and verify_signature(body, good.upper(), "k")
    assert not verify_signature(body + b" ", good, "k") and not verify_signature(body, None, "k")
    settings = RunTaskSettings.from_env({"ECS_ADMISSION_TFC_ALLOWED_HOSTS": "app.terraform.io, http://127.0.0.1:8123"})
    assert allowed("https://app.terraform.io/api/v2/plans/p/json-output", settings)
    assert not allowed("http://app.terraform.io/api/v2/plans/p/json-output", settings)  # https only by default
    assert not allowed("https://app.terraform.io:8443/x", settings)
    assert not allowed("https://app.terraform.io.example.com/x", settings)
    assert not allowed("https://user:pw@app.terraform.io/x", settings)
    assert allowed("http://127.0.0.1:8123/x", settings) and not allowed("http://127.0.0.1:8124/x", settings)
    assert RunTaskSettings.from_env({}).allowed_hosts == ("app.terraform.io",)
    assert parse_payload(json.dumps(payload(FakeHcp(api="https://app.terraform.io"), "t", "p")).encode()).stage


def test_the_key_never_appears_in_answers(hcp, client):
    response = send(client, payload(hcp, "taskrs-x", "plan-x"), key="wrong")
    assert KEY not in response.get_data(as_text=True)


def test_redirect_loops_and_oversized_plans_fail_with_the_reason(hcp, client):
    assert send(client, payload(hcp, "taskrs-loop", "loop-1")).status_code == 200
    attributes = hcp.wait_for_callback("taskrs-loop")["body"]["data"]["attributes"]
    assert attributes["status"] == "failed" and "redirected more than 3 times" in attributes["message"]
    hcp.plans["plan-big"] = (FIXTURES / "module-hardened.plan.json").read_bytes()
    small = RunTaskSettings(hmac_key=KEY, allowed_hosts=(hcp.api,), max_plan_bytes=1000)
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        fetch_plan(f"{hcp.api}/api/v2/plans/plan-big/json-output", TOKEN, small)


def test_dry_run_reports_passed_with_would_deny_outcomes():
    gate = build_gate(Settings(iam_lookup="off"))
    plan = load_plan(json.loads((FIXTURES / "root-trust-ec2-privileged.plan.json").read_text()))
    body = result_for(decide_plan(gate, plan, dry_run=True), "https://example.invalid/details")
    attributes = body["data"]["attributes"]
    assert attributes["status"] == "passed" and attributes["message"].startswith("would be denied (dry-run)")
    tags = [o["attributes"]["tags"]["Status"][0] for o in body["data"]["relationships"]["outcomes"]["data"]]
    assert {"label": "Would deny (dry-run)", "level": "warning"} in tags
    enforced = result_for(decide_plan(gate, plan, dry_run=False), None)["data"]["attributes"]
    assert enforced["status"] == "failed" and "url" not in enforced


def test_a_stage_without_a_plan_fails_with_the_reason(hcp, client):
    body = payload(hcp, "taskrs-pre", "unused", stage="pre_plan")
    del body["plan_json_api_url"]
    assert send(client, body).status_code == 200
    attributes = hcp.wait_for_callback("taskrs-pre")["body"]["data"]["attributes"]
    assert attributes["status"] == "failed" and "register the run task at post_plan" in attributes["message"]


def test_drain_waits_for_accepted_runs_and_gives_up_at_its_timeout():
    release = threading.Event()
    runner = RunTaskRunner(lambda: None, RunTaskSettings.from_env(), None)
    runner._judge_and_report = lambda run: release.wait(10)  # a run that takes until released
    assert runner.submit(object())
    assert runner.drain(timeout=0.2) is False and runner.pending == 1
    release.set()
    assert runner.drain(timeout=10) is True and runner.pending == 0
