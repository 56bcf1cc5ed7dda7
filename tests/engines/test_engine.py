"""The in-process engine: OPA's Go evaluator, pinned to one OPA release everywhere, started only in
gunicorn workers, failing closed with a fix when it cannot load, and surviving reloads and killed
workers while requests flow."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from ecs_admission.engines.embedded import (
    BINDINGS_DISTRIBUTION,
    BINDINGS_VERSION,
    OPA_VERSION,
    EmbeddedEngine,
    embedded_opa_version,
)
from ecs_admission.policy.loader import load_policy_set
from tests.conftest import EXAMPLES, POLICY_DIR, REPO, example, serving

DENIED = example("taskdef.json")


# --- one OPA release everywhere -------------------------------------------------------------


def test_the_installed_binding_is_the_pinned_one_and_embeds_the_pinned_opa():
    assert importlib.metadata.version(BINDINGS_DISTRIBUTION) == BINDINGS_VERSION
    assert embedded_opa_version() == OPA_VERSION


def test_every_install_path_pins_the_same_binding():
    pin = f"{BINDINGS_DISTRIBUTION}=={BINDINGS_VERSION}"
    requirements = (REPO / "engine-requirements.txt").read_text()
    assert pin in requirements and len(re.findall(r"--hash=sha256:[0-9a-f]{64}", requirements)) == 3
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"{pin}; python_version >= '3.14'" in dependencies
    assert "--require-hashes -r engine-requirements.txt" in (REPO / "Makefile").read_text()
    for dockerfile in (REPO / "Dockerfile", REPO / "deploy" / "opa" / "Dockerfile"):
        text = dockerfile.read_text()
        assert "FROM python:3.14-slim" in text and "-r engine-requirements.txt" in text, dockerfile
    action = yaml.safe_load((REPO / "deploy" / "github-action" / "action.yml").read_text())
    (setup,) = [step for step in action["runs"]["steps"] if "setup-python" in step.get("uses", "")]
    assert setup["with"]["python-version"] == "3.14"
    buildspec = (REPO / "deploy" / "codepipeline" / "buildspec.yml").read_text()
    assert f"--ignore-requires-python {pin}" in buildspec


def test_the_sidecar_runs_the_opa_release_the_engine_embeds():
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text())
    assert compose["services"]["opa"]["image"] == f"openpolicyagent/opa:{OPA_VERSION}"
    assert f"\nFROM openpolicyagent/opa:{OPA_VERSION}\n" in (REPO / "deploy" / "opa" / "Dockerfile").read_text()
    webhook = (REPO / "deploy" / "ecs" / "webhook.yaml").read_text()
    assert re.findall(r"openpolicyagent/opa:([0-9.]+)", webhook) == [OPA_VERSION]
    assert f'io.ecs-admission.opa-version: "{OPA_VERSION}"' in webhook
    task = json.loads((REPO / "deploy" / "ecs" / "task-definition.json").read_text())
    (opa,) = [c for c in task["containerDefinitions"] if c["name"] == "opa"]
    assert opa["dockerLabels"]["io.ecs-admission.opa-version"] == OPA_VERSION


def test_version_names_the_engine():
    result = subprocess.run(
        [sys.executable, "-m", "ecs_admission.cli", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert f"OPA {OPA_VERSION} in-process ({BINDINGS_DISTRIBUTION} {BINDINGS_VERSION})" in result.stdout


# --- the whole language -------------------------------------------------------------------------

# Constructs the previous embedded engine (regopy) refused or got wrong, written as OPA's docs write them.
IDIOMATIC_CHECK = r"""package ecs.checks.idioms

import rego.v1

# METADATA
# title: Images from the approved registry
# custom:
#   id: ACME-001
findings contains finding if {
	some i, container in input.task_definition.containerDefinitions
	not regex.match(`(?i)^ACME\.example/`, container.image)
	print("unapproved image", container.image)
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/containerDefinitions/%d/image", [i]),
		"message": sprintf(
			"container %q uses image %q (%s)",
			[container.name, container.image, rego.metadata.rule().title],
		),
	}
}

findings contains {"rule": "ACME-002", "path": "/", "message": "registered in the future"} if {
	time.parse_rfc3339_ns(input.now) > time.parse_rfc3339_ns("2100-01-01T00:00:00Z")
}

findings contains {"rule": "ACME-003", "path": "/", "message": "private address in the environment"} if {
	some container in input.task_definition.containerDefinitions
	some variable in container.environment
	net.cidr_contains("10.0.0.0/8", variable.value)
}

names := [name |
	some i, container in input.task_definition.containerDefinitions
	name := sprintf("%d:%s", [i, container.name])
]
"""

IDIOMATIC_TEST = r"""package ecs.checks.idioms_test

import rego.v1

import data.ecs.checks.idioms

task(containers) := {"task_definition": {"containerDefinitions": containers}}

test_unapproved_image_is_found if {
	some finding in idioms.findings with input as task([{"name": "a", "image": "nginx"}])
	finding.rule == "ACME-001"
	finding.message == `container "a" uses image "nginx" (Images from the approved registry)`
}

test_case_insensitive_registry_passes if {
	count(idioms.findings) == 0 with input as task([{"name": "a", "image": "acme.EXAMPLE/x:1"}])
}

test_comprehension_with_index_and_value if {
	idioms.names == ["0:a", "1:b"] with input as task([{"name": "a"}, {"name": "b"}])
}
"""


def test_rego_as_opas_docs_write_it_loads_tests_and_decides(tmp_path):
    directory = tmp_path / "rego"
    subprocess.run(["cp", "-r", str(POLICY_DIR), str(directory)], check=True)
    (directory / "idioms.rego").write_text(IDIOMATIC_CHECK)
    (directory / "idioms_test.rego").write_text(IDIOMATIC_TEST)
    tested = subprocess.run(
        [sys.executable, "-m", "ecs_admission.cli", "policy", "test", "--policy-dir", str(directory), "-v",
         "--run", "idioms_test"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "PASS: 3/3" in tested.stdout
    document = {
        "task_definition": {
            "family": "web",
            "containerDefinitions": [
                {"name": "app", "image": "nginx:1.27", "environment": [{"name": "DB", "value": "10.1.2.3"}]}
            ],
        },
        "now": "2026-06-01T12:00:00Z",
    }
    decision = EmbeddedEngine(load_policy_set(directory)).evaluate(document)
    found = {v.rule: v for v in decision.violations}
    assert found["ACME-001"].path == "/containerDefinitions/0/image"
    assert found["ACME-001"].message == 'container "app" uses image "nginx:1.27" (Images from the approved registry)'
    assert "ACME-003" in found and "ACME-002" not in found


# --- the binding cannot load: not ready, and exactly why and how to fix it ----------------------

UNLOADABLE = {
    "not-installed": None,
    # The package is there, but its shared library cannot be loaded (another platform, old glibc).
    "library-fails": (
        "import ctypes\n\nclass OpaError(Exception):\n    pass\n\nOpaUndefinedError = OpaError\n\n"
        "def _get_lib():\n    return ctypes.CDLL('/nonexistent/libopabridge.so')\n"
    ),
}


def broken_binding(tmp_path: Path, kind: str) -> dict[str, str]:
    package = tmp_path / "shadow" / "opa_bindings"
    package.mkdir(parents=True)
    source = UNLOADABLE[kind]
    if source is None:
        (package / "__init__.py").write_text("raise ImportError('No module named opa_bindings (test shadow)')\n")
    else:
        (package / "__init__.py").write_text("from .engine import OpaError, OpaUndefinedError\n")
        (package / "engine.py").write_text(source)
    return {**os.environ, "PYTHONPATH": str(package.parent)}


@pytest.mark.parametrize(
    ("kind", "words", "fix"),
    [
        (
            "not-installed",
            "OPA's Go evaluator is not installed",
            "pip install --ignore-requires-python opa-golib-python-bindings==0.4.4",
        ),
        ("library-fails", "OPA's Go evaluator could not be loaded", "glibc >= 2.34"),
    ],
)
def test_an_unloadable_engine_fails_closed_saying_why_and_how_to_fix(tmp_path, kind, words, fix):
    env = broken_binding(tmp_path, kind)
    checked = subprocess.run(
        [sys.executable, "-m", "ecs_admission.cli", "check", str(EXAMPLES / "taskdef-clean.json")],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert checked.returncode == 3
    assert words in checked.stderr and fix in checked.stderr and "ECS_ADMISSION_OPA_URL" in checked.stderr
    probe = (
        "import json\nfrom ecs_admission.config import Settings\nfrom ecs_admission.web import create_app\n"
        "client = create_app(Settings(auth='none')).test_client()\n"
        "ready = client.get('/readyz')\n"
        "task = {'family': 'a', 'containerDefinitions': [{'name': 'a', 'image': 'b'}]}\n"
        "admit = client.post('/v1/admit', json=task)\n"
        "print(json.dumps([ready.status_code, ready.get_json(), admit.status_code, admit.get_json()['allowed']]))\n"
    )
    served = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
    ready_status, ready, admit_status, allowed = json.loads(served.stdout.strip().splitlines()[-1])
    assert ready_status == 503 and words in ready["reason"]
    assert fix in ready["reason"] and "ECS_ADMISSION_OPA_URL" in ready["reason"]
    assert (admit_status, allowed) == (503, False)


# --- gunicorn: the Go runtime only in workers; reloads and killed workers while requests flow ----


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def loaded_engine(pid: int) -> bool:
    return "libopabridge" in Path(f"/proc/{pid}/maps").read_text()


def post(url: str) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(DENIED).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_for_workers(master: int, count: int, exclude: set[int], timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = [pid for pid in children(master) if pid not in exclude]
        if len(workers) >= count and all(loaded_engine(pid) for pid in workers):
            return workers
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not bring {count} new workers up with the engine loaded")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc to see which process loaded the engine")
def test_engine_starts_in_workers_only_and_survives_reload_and_a_killed_worker():
    with serving({"ECS_ADMISSION_WORKERS": "2", "ECS_ADMISSION_DECISION_LOG": "false"}) as served:
        master = served.process.pid
        workers = wait_for_workers(master, 2, set())
        assert not loaded_engine(master), "the Go runtime must never start in the gunicorn master"

        statuses: list[int | str] = []
        stop = threading.Event()

        def flow() -> None:
            deadline = time.monotonic() + 90
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    statuses.append(post(served.url("/v1/admit")))
                except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                    statuses.append(type(exc).__name__)

        client = threading.Thread(target=flow)
        client.start()
        try:
            time.sleep(1)
            os.kill(master, signal.SIGHUP)  # reload: the master validates, then replaces the workers
            workers = wait_for_workers(master, 2, set(workers))
            time.sleep(1)
            os.kill(workers[0], signal.SIGKILL)
            wait_for_workers(master, 2, {workers[0]})
            time.sleep(1)
        finally:
            stop.set()
            client.join()
        assert not loaded_engine(master)
    errors = [status for status in statuses if status != 403]
    assert len(statuses) > 20
    assert len(errors) <= 1, f"{len(errors)} of {len(statuses)} requests failed: {errors[:5]}"
