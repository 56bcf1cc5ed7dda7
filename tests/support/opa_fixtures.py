"""The OPA side of the tests: the real `opa` binary when there is one, else the Go-evaluator stand-in.

`OPA_BIN` (or `opa` on PATH) is started as `opa run --server --addr 127.0.0.1:<port> --bundle <b>`;
without it, tests/support/opa_standin.py serves the same bundle through OPA's Go evaluator. Either way
the bundle is the one `ecs-admission policy bundle` writes from the shipped rego/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ecs_admission.cli.commands import main as cli_main
from tests.conftest import POLICY_DIR, free_port, wait_ready

STANDIN_MISSING = (
    "no OPA to test against: put `opa` on PATH (or set OPA_BIN), or install OPA's Go evaluator with "
    "`pip install --ignore-requires-python opa-golib-python-bindings==0.4.4` (make install does)"
)


@dataclass
class OpaServer:
    url: str
    kind: str  # "opa" (the real binary) or "standin"
    revision: str
    bundle: Path


def bundle_members(bundle: Path) -> dict[str, bytes]:
    """Every file in a bundle tarball by its name (with OPA's leading slash)."""
    with tarfile.open(bundle) as archive:
        members = {}
        for member in archive.getmembers():
            extracted = archive.extractfile(member)
            if extracted is not None:
                members["/" + member.name.lstrip("/")] = extracted.read()
    return members


def bundle_manifest(bundle: Path) -> dict:
    return json.loads(bundle_members(bundle)["/.manifest"])


def opa_binary() -> str | None:
    return os.environ.get("OPA_BIN") or shutil.which("opa")


def build_bundle(target: Path, policy_dir: Path = POLICY_DIR, revision: str | None = None) -> Path:
    argv = ["policy", "bundle", "--policy-dir", str(policy_dir), "-o", str(target)]
    if revision:
        argv += ["--revision", revision]
    assert cli_main(argv) == 0
    return target


def start_standin(bundle: Path):
    try:
        from .opa_standin import OpaStandin
    except ImportError:
        pytest.fail(STANDIN_MISSING)
    return OpaStandin(bundle).start()


@pytest.fixture(scope="session")
def policy_bundle(tmp_path_factory) -> Path:
    return build_bundle(tmp_path_factory.mktemp("bundle") / "bundle.tar.gz")


@pytest.fixture(scope="session")
def opa_server(policy_bundle) -> Iterator[OpaServer]:
    """OPA serving the shipped policies' bundle for the whole session."""
    revision = bundle_manifest(policy_bundle)["revision"]
    binary = opa_binary()
    if binary:
        port = free_port()
        process = subprocess.Popen(
            [binary, "run", "--server", "--addr", f"127.0.0.1:{port}", "--bundle", str(policy_bundle)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(port, process, "/health?bundles")
            yield OpaServer(f"http://127.0.0.1:{port}", "opa", revision, policy_bundle)
        finally:
            process.terminate()
            process.wait(timeout=10)
        return
    standin = start_standin(policy_bundle)
    try:
        yield OpaServer(standin.url, "standin", revision, policy_bundle)
    finally:
        standin.close()


@pytest.fixture()
def standin(policy_bundle):
    """A private stand-in for tests that inject faults (delays, garbage) or stop the server."""
    server = start_standin(policy_bundle)
    yield server
    server.close()
