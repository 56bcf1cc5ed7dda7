"""Shared fixtures: the app with the shipped policies, the example files, the corpus (shipped or external)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from ecs_admission.config import Settings
from ecs_admission.engines import go_runtime
from ecs_admission.web import create_app

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
POLICY_DIR = REPO / "rego"

# With PYTHONDONTWRITEBYTECODE set (some shells and images set it), each xdist worker would rewrite
# every test module's asserts again, and each server and CLI process a test starts would compile the
# package from source: ~40 s of CPU per run. The suite keeps its bytecode caches (__pycache__/ is
# git-ignored), for its workers and the processes they start.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# Tests never reach real AWS: IAM lookups stay off unless a test turns them on against moto.
os.environ.setdefault("ECS_ADMISSION_IAM_LOOKUP", "off")
# moto loads its ~1,300 AWS-managed policies into every IAM backend it builds (on each reset, and on
# the first IAM call after one) when this is true: 1-3 s each time. Only tests that attach an
# AWS-managed policy by name need them; they turn it on and reset moto (tests/support/moto_proxy.py
# managed_policies), so it is off for everyone else, and for the subprocesses tests start.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "false"
# The Go runtime settings a server runs with (engines/go_runtime.py), in the environment every process
# the suite starts begins with: a `serve` started without them re-executes itself to get them (its
# first interpreter's start-up thrown away, ~0.2 s of CPU per server, measured), and
# the xdist workers, started after this, run their in-process engines with them too (measured at 400:
# ~15% less CPU for the files that decide in-process most). tests/web/test_serving_spread.py sets
# other values, so the re-execution is still tested.
os.environ.setdefault("GOGC", go_runtime.DEFAULT_GOGC)
# `check` keeps what it reads from a policy set in a cache (policy/cache.py); the suite's checks keep
# theirs in a directory of their own, not in the home directory of whoever runs the tests.
os.environ.setdefault(
    "ECS_ADMISSION_POLICY_CACHE", str(Path(tempfile.gettempdir()) / f"ecs-admission-tests-{os.getuid()}" / "policy")
)


FIXTURE_CORPUS = REPO / "tests" / "fixtures" / "corpus"
CORPUS_ENV = "ECS_ADMISSION_CORPUS"


def external_corpus() -> Path | None:
    """The optional larger corpus named by ECS_ADMISSION_CORPUS (.ci/run points it at ../shared/corpus)."""
    configured = os.environ.get(CORPUS_ENV)
    return Path(configured) if configured else None


def corpus_dir() -> Path:
    """The corpus the sweeps run over: the external one when configured, else the fixtures the suite ships."""
    return external_corpus() or FIXTURE_CORPUS


def pytest_configure(config: pytest.Config) -> None:
    configured = external_corpus()
    if configured is not None and not configured.is_dir():
        raise pytest.UsageError(f"{CORPUS_ENV}={configured} is not a directory")


# The longest files (8-35 s each on one core in a quiet run with `--durations=0`), longest first.
# `make test` runs xdist with `--dist loadfile --no-loadscope-reorder`, which hands files out in
# collection order: these start first and the many short files fill in behind them, so the run
# does not end with one worker finishing a long file while the other idles. A file missing here
# only loses its place in line.
LONGEST_FIRST = (
    "web/test_hostile.py",
    "inputs/test_fuzz.py",
    "deploy/test_lambda_package.py",
    "web/test_reload.py",
    "web/test_hostile_policies.py",
    "web/test_hostile_bounds.py",
    "integrations/test_codepipeline.py",
    "integrations/test_cloudformation_hook.py",
    "web/test_reload_revision.py",
    "bench/test_bench.py",
    "integrations/test_detective.py",
    "engines/test_engine.py",
    "web/test_playground_browser.py",
    "report/test_audit.py",
    "deploy/test_checkov.py",
    "cli/test_playground_cli.py",
    "facts/test_iam_lookup.py",
    "cli/test_playground_local_browser.py",
    "cli/test_cli_manners.py",
    "policy/test_policy_cli.py",
)


def _start_order(item: pytest.Item) -> int:
    name = item.path.relative_to(REPO / "tests").as_posix() if item.path.is_relative_to(REPO / "tests") else ""
    if name in LONGEST_FIRST:
        return LONGEST_FIRST.index(name)
    return len(LONGEST_FIRST) + (0 if item.get_closest_marker("slow") else 1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_start_order)  # stable: each file keeps its own order
    if external_corpus() is not None:
        return
    skip = pytest.mark.skip(reason=f"needs the full corpus: set {CORPUS_ENV} (see docs/configuration.md)")
    for item in items:
        if item.get_closest_marker("external_corpus"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def corpus() -> Path:
    return corpus_dir()


@pytest.fixture(scope="session")
def app():
    # Authentication is tested in test_auth.py; the contract tests run with it off, as a local run does.
    return create_app(Settings(iam_lookup="off", auth="none"))


@pytest.fixture()
def client(app):
    return app.test_client()


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def wait_ready(port: int, process: subprocess.Popen, path: str = "/readyz", timeout: float = 30) -> None:
    """Wait for a server started by a test to answer GET path with 200; fail the test if it dies or times out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail(f"nothing answered GET {path} on port {port}")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Served:
    port: int
    process: subprocess.Popen

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextlib.contextmanager
def serving(
    settings: dict[str, str] | None = None,
    stdout: int | IO[str] = subprocess.DEVNULL,
    stderr: int | IO[str] = subprocess.DEVNULL,
) -> Iterator[Served]:
    """`ecs-admission serve` (gunicorn) on 127.0.0.1, ready, with ECS_ADMISSION_* overrides; stopped on exit.

    One worker and authentication off unless `settings` say otherwise. The server makes its own
    metrics directory, never this process's.
    """
    port = free_port()
    env = {
        **os.environ,
        "ECS_ADMISSION_HOST": "127.0.0.1",
        "ECS_ADMISSION_PORT": str(port),
        "ECS_ADMISSION_WORKERS": "1",
        "ECS_ADMISSION_AUTH": "none",
        **(settings or {}),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "ecs_admission.cli", "serve"], cwd=REPO, env=env, stdout=stdout, stderr=stderr
    )
    try:
        wait_ready(port, process)
        yield Served(port, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# The OPA side (real binary or Go-evaluator stand-in) and the policy bundle, shared by the session.
from tests.support.opa_fixtures import opa_server, policy_bundle, standin  # noqa: E402, F401
