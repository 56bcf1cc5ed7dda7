"""Units behind docs/hardening.md: serving options, the read deadline, and failing open only for a down engine."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest

from ecs_admission.config import ConfigError, Settings
from ecs_admission.decision import RawDecision
from ecs_admission.engines import UnavailableEngine
from ecs_admission.engines.canary import CANARY
from ecs_admission.engines.failopen import FailOpenEngine
from ecs_admission.errors import EngineError
from ecs_admission.gate import build_gate
from ecs_admission.web.gunicorn_log import MaskingFormatter, MaskingLogger
from ecs_admission.web.server import gunicorn_options
from ecs_admission.web.worker import DeadlineSocket, DeadlineThreadWorker, ReadDeadline


def test_threads_and_read_timeout_come_from_the_environment():
    settings = Settings.from_env({"ECS_ADMISSION_THREADS": "8", "ECS_ADMISSION_READ_TIMEOUT": "2.5"})
    assert (settings.threads, settings.read_timeout) == (8, 2.5)
    assert (Settings().threads, Settings().read_timeout) == (32, 5.0)
    for name, value in (("ECS_ADMISSION_THREADS", "0"), ("ECS_ADMISSION_READ_TIMEOUT", "soon")):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({name: value})


def test_gunicorn_runs_gthread_with_the_deadline_and_the_masking_logger():
    options = gunicorn_options(Settings(threads=8, read_timeout=2.5))
    assert issubclass(options["worker_class"], DeadlineThreadWorker)
    assert options["worker_class"].read_timeout == 2.5 and options["threads"] == 8
    assert options["logger_class"] is MaskingLogger


def test_masking_formatter_masks_what_the_inner_formatter_writes():
    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, '"GET /" "%s"', ("AKIAIOSFODNN7EXAMPLE",), None)
    assert MaskingFormatter(logging.Formatter("%(message)s")).format(record) == '"GET /" "***"'


def test_reads_share_one_deadline_from_the_first_byte():
    left, right = socket.socketpair()
    try:
        sock = DeadlineSocket(left, read_timeout=0.3)
        sock.setblocking(True)
        sock.start_request()
        right.sendall(b"GET / HTTP/1.1\r\n")
        assert sock.recv(100) == b"GET / HTTP/1.1\r\n"
        started = time.monotonic()
        with pytest.raises(ReadDeadline, match=r"0\.3 s"):
            while True:  # a trickle: each read alone would be in time, together they are not
                right.sendall(b"x")
                sock.recv(1)
                time.sleep(0.05)
        assert 0.2 < time.monotonic() - started < 0.6
        sock.start_request()  # the next request on the connection gets its own deadline
        right.sendall(b"y")
        time.sleep(0.05)
        assert sock.recv(10).endswith(b"y")  # after the trickle's last byte
    finally:
        left.close()
        right.close()


class PickyEngine:
    """Decides everything except documents with a marker: a healthy engine that one input makes fail."""

    def __init__(self, inner: Any):
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def evaluate(self, input_document: dict[str, Any]) -> RawDecision:
        if input_document["task_definition"].get("family") == "poison":
            raise EngineError("cannot encode the input", self.inner.name)
        return self.inner.evaluate(input_document)


def test_fail_open_never_covers_an_input_that_a_healthy_engine_fails_on(caplog):
    engine = FailOpenEngine(PickyEngine(build_gate(Settings(iam_lookup="off")).engine))
    poison = {**CANARY, "task_definition": {**CANARY["task_definition"], "family": "poison"}}
    with caplog.at_level(logging.WARNING), pytest.raises(EngineError, match="cannot encode"):
        engine.evaluate(poison)
    assert "not failing open" in caplog.text


def test_fail_open_still_covers_an_engine_that_is_down():
    engine = FailOpenEngine(UnavailableEngine("embedded", "policies failed to compile"))
    decision = engine.evaluate(CANARY)
    assert decision.violations == () and decision.warnings[0].rule == "ECS-GATE-001"


def test_the_lean_access_atoms_write_the_line_gunicorns_own_would():
    import datetime as dt
    from types import SimpleNamespace

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    from ecs_admission.web.gunicorn_log import ACCESS_LOG_FORMAT

    cfg = Config()
    cfg.set("access_log_format", ACCESS_LOG_FORMAT)
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/v1/admit?dry_run=true",
        "PATH_INFO": "/v1/admit",
        "QUERY_STRING": "dry_run=true",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": "curl/8.5",
        "HTTP_AUTHORIZATION": "Bearer abc",
    }
    resp = SimpleNamespace(status="403 FORBIDDEN", headers=[("Content-Type", "application/json")], sent=512)
    req = SimpleNamespace(headers=[("USER-AGENT", "curl/8.5"), ("AUTHORIZATION", "Bearer abc")])
    took = dt.timedelta(seconds=1, microseconds=234567)
    lean, full = MaskingLogger(cfg), Logger(cfg)
    lean.now = full.now = lambda: "[07/Dec/2026:01:00:00 +0000]"
    lines = [ACCESS_LOG_FORMAT % log.atoms_wrapper_class(log.atoms(resp, req, environ, took)) for log in (lean, full)]
    assert lines[0] == lines[1]
    assert lines[0] == '127.0.0.1 [07/Dec/2026:01:00:00 +0000] "POST /v1/admit HTTP/1.1" 403 512 1234ms "curl/8.5"'
