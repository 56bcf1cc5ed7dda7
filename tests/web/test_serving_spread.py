"""A served gate's workers: Go's GC settings in force from process start, keep-alive connections
closed after ECS_ADMISSION_KEEPALIVE_REQUESTS answers, and the Rego self-tests run by one worker."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecs_admission.config import ConfigError, Settings
from ecs_admission.engines import go_runtime
from ecs_admission.web.server import gunicorn_options
from tests.conftest import serving


def worker_pids(master: int, expected: int, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if len(children) >= expected:
            return [int(pid) for pid in children]
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.2)


def start_environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode().split("=", 1) for item in raw.split(b"\0") if b"=" in item)


def test_go_settings_come_from_ours_then_the_plain_variables_then_the_default():
    assert go_runtime.wanted({}) == {"GOGC": go_runtime.DEFAULT_GOGC}
    assert go_runtime.wanted({"GOGC": "200", "GOMEMLIMIT": "300MiB"}) == {"GOGC": "200", "GOMEMLIMIT": "300MiB"}
    assert go_runtime.wanted({"GOGC": "200", "ECS_ADMISSION_GOGC": "off", "ECS_ADMISSION_GOMEMLIMIT": "1GiB"}) == {
        "GOGC": "off",
        "GOMEMLIMIT": "1GiB",
    }
    for name, value in (("ECS_ADMISSION_GOGC", "lots"), ("GOGC", "-5"), ("ECS_ADMISSION_GOMEMLIMIT", "1 GB")):
        with pytest.raises(ConfigError, match=name):
            go_runtime.wanted({name: value})


def test_keepalive_requests_is_a_setting_the_worker_gets():
    assert Settings().keepalive_requests == 50
    assert Settings.from_env({"ECS_ADMISSION_KEEPALIVE_REQUESTS": "0"}).keepalive_requests == 0
    with pytest.raises(ConfigError, match="KEEPALIVE_REQUESTS"):
        Settings.from_env({"ECS_ADMISSION_KEEPALIVE_REQUESTS": "many"})
    assert gunicorn_options(Settings(keepalive_requests=7))["worker_class"].keepalive_requests == 7


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads the workers' environment from /proc")
def test_a_served_gate_runs_its_workers_as_configured(tmp_path):
    settings = {
        "ECS_ADMISSION_WORKERS": "2",
        "ECS_ADMISSION_GOGC": "300",
        "ECS_ADMISSION_GOMEMLIMIT": "200MiB",
        "ECS_ADMISSION_KEEPALIVE_REQUESTS": "3",
        "ECS_ADMISSION_DECISION_LOG": "false",
    }
    log = (tmp_path / "server.log").open("w")
    with serving(settings, stderr=log) as served:
        # The Go runtime reads the environment the process started with: the master re-executed
        # itself with the values before forking, so the workers start with them.
        workers = worker_pids(served.process.pid, 2)
        for pid in [served.process.pid, *workers]:
            environment = start_environment(pid)
            assert (environment.get("GOGC"), environment.get("GOMEMLIMIT")) == ("300", "200MiB")
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
        answers = []
        for _ in range(3):
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            answers.append((response.status, response.getheader("Connection")))
        assert [status for status, _ in answers] == [200, 200, 200]
        assert [connection != "close" for _, connection in answers[:2]] == [True, True]
        assert answers[2][1] == "close"
        connection.close()
        # Both workers loaded the same snapshot; one ran the Rego tests, the other found its record.
        deadline = time.monotonic() + 60
        while True:
            text = (tmp_path / "server.log").read_text()
            if text.count("startup self-check:") >= 2:
                break
            assert time.monotonic() < deadline, text[-2000:]
            time.sleep(0.2)
    assert text.count("Rego unit tests passed in another worker") == 1


def test_serve_refuses_a_bad_gogc_in_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "ecs_admission.cli", "serve", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "ECS_ADMISSION_AUTH": "none", "ECS_ADMISSION_GOGC": "fast"},
    )
    assert result.returncode == 2
    assert "ECS_ADMISSION_GOGC" in result.stderr
