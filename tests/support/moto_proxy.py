"""A recording HTTP proxy in front of moto's server.

moto 5.x does not implement CodePipeline's PutJobSuccessResult / PutJobFailureResult (its server
answers 500 NotImplementedError), so the proxy answers those two operations itself, the way
CodePipeline does: 200 `{}` for a job it knows, JobNotFoundException for one it does not, and
InvalidJobStateException when a job is reported twice. A test can also have it refuse chosen
calls with AccessDeniedException, or throttle chosen operations (ThrottlingException, every attempt).
Every other request (S3, ECS, ...) is forwarded to moto unchanged. Each call is recorded with the
access key that signed it, so tests can see which credentials the handler used for what.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from moto.server import ThreadedMotoServer

MANAGED_POLICIES = "MOTO_IAM_LOAD_MANAGED_POLICIES"
CREDENTIAL_RE = re.compile(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/")
JOB_RESULT_TARGETS = {
    "CodePipeline_20150709.PutJobSuccessResult": "PutJobSuccessResult",
    "CodePipeline_20150709.PutJobFailureResult": "PutJobFailureResult",
}
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "expect",
}


@dataclass
class Call:
    service: str
    operation: str
    access_key: str
    method: str
    path: str
    body: Any


@dataclass
class AwsProxy:
    url: str
    moto_url: str
    calls: list[Call] = field(default_factory=list)
    jobs: set[str] = field(default_factory=set)  # job ids CodePipeline would know
    reported: dict[str, Call] = field(default_factory=dict)
    fail_job_results: bool = False  # answer PutJob*Result with 500, as during a CodePipeline outage
    # (operation, fields of its JSON body) answered AccessDeniedException instead of forwarded.
    refused: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Operations answered ThrottlingException (HTTP 400) every time: "Operation" for JSON (X-Amz-Target)
    # services, "METHOD /path" for REST ones such as Security Hub ("POST /findings/import").
    throttled: list[str] = field(default_factory=list)

    def refuses(self, call: Call) -> bool:
        body = call.body if isinstance(call.body, dict) else {}
        return any(
            call.operation == operation and all(body.get(k) == v for k, v in fields.items())
            for operation, fields in self.refused
        )

    def results(self) -> list[Call]:
        return [c for c in self.calls if c.operation in JOB_RESULT_TARGETS.values()]


class _Handler(BaseHTTPRequestHandler):
    proxy: AwsProxy
    moto_host: str
    moto_port: int

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        match = CREDENTIAL_RE.search(self.headers.get("Authorization", ""))
        access_key, service = (match.group(1), match.group(2)) if match else ("", "")
        target = self.headers.get("X-Amz-Target", "")
        operation = target.split(".")[-1] if target else f"{self.command} {self.path.split('?')[0]}"
        try:
            parsed: Any = json.loads(body) if body and target else None
        except ValueError:
            parsed = None
        call = Call(service, operation, access_key, self.command, self.path, parsed)
        self.proxy.calls.append(call)
        if target in JOB_RESULT_TARGETS:
            self._job_result(call)
            return
        if self.proxy.refuses(call):
            error = {"__type": "AccessDeniedException", "message": f"not authorized to perform {operation}"}
            self._reply(400, json.dumps(error).encode(), [("Content-Type", "application/x-amz-json-1.1")])
            return
        if operation in self.proxy.throttled:
            error = {"__type": "ThrottlingException", "message": "Rate exceeded"}
            headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", "ThrottlingException")]
            self._reply(400, json.dumps(error).encode(), headers)
            return
        connection = http.client.HTTPConnection(self.moto_host, self.moto_port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        self._reply(response.status, data, response.getheaders())
        connection.close()

    def _job_result(self, call: Call) -> None:
        json_type = [("Content-Type", "application/x-amz-json-1.1")]
        job_id = (call.body or {}).get("jobId")
        if self.proxy.fail_job_results:
            self._reply(500, b'{"__type": "InternalFailure", "message": "try again"}', json_type)
        elif job_id not in self.proxy.jobs:
            error = {"__type": "JobNotFoundException", "message": f"job {job_id} not found"}
            self._reply(400, json.dumps(error).encode(), json_type)
        elif job_id in self.proxy.reported:
            error = {"__type": "InvalidJobStateException", "message": f"job {job_id} already has a result"}
            self._reply(400, json.dumps(error).encode(), json_type)
        else:
            self.proxy.reported[job_id] = call
            self._reply(200, b"{}", json_type)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


@contextlib.contextmanager
def aws_proxy() -> Iterator[AwsProxy]:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    handler = type("Handler", (_Handler,), {"moto_host": host, "moto_port": port})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    proxy = AwsProxy(url=f"http://127.0.0.1:{server.server_port}", moto_url=f"http://{host}:{port}")
    handler.proxy = proxy
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        moto.stop()


@contextlib.contextmanager
def managed_policies(moto_url: str) -> Iterator[None]:
    """moto's IAM with AWS's managed policies (AdministratorAccess, ...) while the block runs.

    Off for the rest of the suite (tests/conftest.py): loading them costs seconds per IAM backend.
    moto's backends live once per process and read the setting when they are built, so moto is
    reset on the way in (IAM rebuilt with them) and on the way out (without them).
    """
    import requests

    previous = os.environ.get(MANAGED_POLICIES)
    os.environ[MANAGED_POLICIES] = "true"
    requests.post(f"{moto_url}/moto-api/reset", timeout=60)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(MANAGED_POLICIES, None)
        else:
            os.environ[MANAGED_POLICIES] = previous
        requests.post(f"{moto_url}/moto-api/reset", timeout=60)


def fresh_account(proxy: AwsProxy, monkeypatch: Any) -> None:
    """An empty moto account, nothing refused or throttled, and boto3 pointed at the proxy.

    Test credentials, no profile, no Region (a test sets the one it means): nothing can reach AWS.
    """
    import requests

    requests.post(f"{proxy.moto_url}/moto-api/reset", timeout=60)
    proxy.refused.clear()
    proxy.throttled.clear()
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "ECS_ADMISSION_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
