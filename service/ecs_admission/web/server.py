"""Run the webhook under gunicorn, configured from Settings (used by `ecs-admission serve`)."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication

from ecs_admission import metrics
from ecs_admission.config import Settings
from ecs_admission.engines import go_runtime
from ecs_admission.engines.selfcheck_record import RUNTIME_DIR_ENV
from ecs_admission.report import records
from ecs_admission.web.gunicorn_log import ACCESS_LOG_FORMAT, MaskingLogger
from ecs_admission.web.reload import MasterSnapshots
from ecs_admission.web.tempdir import TemporaryDirectoryUnavailable, use_temporary_directory
from ecs_admission.web.worker import worker_class

log = logging.getLogger(__name__)


class MasterHooks:
    """gunicorn master hooks: multi-process metrics, and SIGHUP policy reload behind a validated snapshot.

    gunicorn re-reads its configuration on SIGHUP (and so calls gunicorn_options again), so the
    state lives on one instance per process, not on each options dict.
    """

    _instance: MasterHooks | None = None

    def __init__(self, settings: Settings):
        self.settings = settings
        self.snapshots = MasterSnapshots(settings.policy_dir)
        self.created_metrics_dir: str | None = None
        self.runtime_dir: str | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> MasterHooks:
        if cls._instance is None or cls._instance.settings != settings:
            cls._instance = cls(settings)
        return cls._instance

    def on_starting(self, server: Any) -> None:
        # First, before anything is bound or forked: a re-execution starts this process over.
        go_runtime.ensure_in_force()
        records.configure_logging(self.settings.decision_log)
        try:  # `gunicorn -c python:ecs_admission.gunicorn_conf` (the image) starts here, not in run_gunicorn
            use_temporary_directory(self.settings.tmp_dir)
        except TemporaryDirectoryUnavailable as exc:
            log.error("cannot start: %s", exc)
            raise SystemExit(f"ecs-admission: {exc}") from None
        # Before any worker exists, so every worker's prometheus-client starts in multi-process mode.
        directory = metrics.multiprocess_dir()
        if directory:
            metrics.prepare_multiprocess_dir(directory)
        else:
            directory = tempfile.mkdtemp(prefix="ecs-admission-metrics-")
            os.environ[metrics.MULTIPROC_ENV] = directory
            self.created_metrics_dir = directory
        self.snapshots.start()
        # Where the first worker records the Rego self-tests its policies passed, so the others skip
        # them. Without a writable temporary directory (a read-only root) each worker runs them.
        try:
            self.runtime_dir = tempfile.mkdtemp(prefix="ecs-admission-run-")
            os.environ[RUNTIME_DIR_ENV] = self.runtime_dir
        except OSError as exc:
            log.warning("no runtime directory (%s): every worker runs the Rego self-tests", exc)
        if self.settings.auth == "none":
            log.warning("AUTHENTICATION IS OFF (ECS_ADMISSION_AUTH=none): use this only for a local run")

    def on_reload(self, server: Any) -> None:
        self.snapshots.reload()

    def child_exit(self, server: Any, worker: Any) -> None:
        metrics.mark_process_dead(worker.pid)

    def on_exit(self, server: Any) -> None:
        self.snapshots.cleanup()
        if self.runtime_dir:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
        if self.created_metrics_dir:
            shutil.rmtree(self.created_metrics_dir, ignore_errors=True)




def gunicorn_options(settings: Settings) -> dict[str, Any]:
    hooks = MasterHooks.for_settings(settings)
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.workers,
        # gthread with a read deadline (web/worker.py): a client that stalls mid-request holds one thread
        # for at most read_timeout, never a whole worker (docs/hardening.md has the measurements).
        "worker_class": worker_class(settings.read_timeout, settings.keepalive_requests),
        "threads": settings.threads,
        "timeout": int(settings.worker_timeout),
        "graceful_timeout": 10,
        "keepalive": 5,
        # Each worker builds its own app and so loads OPA's Go evaluator itself, after the fork: the
        # Go runtime must never start in the master (docs/engines.md).
        "preload_app": False,
        # stdout carries only decision records (one JSON object per line); gunicorn's own
        # access and error logs go to stderr.
        "accesslog": "/dev/stderr",
        "access_log_format": ACCESS_LOG_FORMAT,  # no query string, referer or user (gunicorn_log.py)
        "errorlog": "-",
        "loglevel": "info",
        # Both of gunicorn's logs through redaction.mask_text, as the service's own are.
        "logger_class": MaskingLogger,
        "on_starting": hooks.on_starting,
        "on_reload": hooks.on_reload,
        "child_exit": hooks.child_exit,
        "on_exit": hooks.on_exit,
    }


class WebhookApplication(BaseApplication):
    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.settings).items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from ecs_admission.web import create_app

        return create_app(self.settings)


class PortUnavailable(Exception):
    """The address `serve` should listen on cannot be had: one line for the user, not gunicorn's retries."""


def check_bindable(host: str, port: int) -> None:
    """Bind and release the address as gunicorn will (SO_REUSEADDR), so a busy port fails with a hint.

    gunicorn would otherwise retry for five seconds, logging each attempt, and exit without saying
    how to choose another port.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise PortUnavailable(f"cannot listen on {host}: {exc.strerror}; set --host or ECS_ADMISSION_HOST") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            hint = "choose another with --port or ECS_ADMISSION_PORT"
            if exc.errno == errno.EADDRINUSE:
                raise PortUnavailable(f"port {port} on {host} is already in use; {hint}") from None
            if exc.errno == errno.EACCES:
                raise PortUnavailable(f"not allowed to listen on port {port} on {host}; {hint}") from None
            raise PortUnavailable(
                f"cannot listen on {host}:{port}: {exc.strerror}; check --host/ECS_ADMISSION_HOST and --port"
            ) from None


def run_gunicorn(settings: Settings) -> int:
    from ecs_admission.facts.iam import resolve_mode
    from ecs_admission.web.auth import Authenticator

    check_bindable(settings.host, settings.port)
    use_temporary_directory(settings.tmp_dir)  # before gunicorn, so the failure is one line naming the setting
    Authenticator(settings)  # a token or secrets file that cannot be read stops start-up here, with its name
    go_runtime.wanted()  # so does a GOGC or GOMEMLIMIT the Go runtime would not take
    resolve_mode(settings)  # and an AWS configuration botocore cannot read (auto lookups read it)
    log.info("serving on http://%s:%d with %d worker(s)", settings.host, settings.port, settings.workers)
    WebhookApplication(settings).run()
    return 0
