"""Hostile policies (issue 21): a policy set that is slow, prints secrets, is half-deployed, fails
the canary at start-up, holds links, loops or oversized files, or makes rule ids from the input.
Each test runs a server of its own on its own policy directory; none may fail open.
"""

from __future__ import annotations

import http.client
import json
import shutil
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from tests.conftest import POLICY_DIR, serving
from tests.web.hostile import (
    CLEAN,
    DANGEROUS,
    SERVER_SETTINGS,
    send,
)

# --- issue 21: policies that are slow, print secrets, half-deployed or replaced under a worker -------

SLOW_PRINTING_POLICY = """package ecs.checks.hostile_slow
import rego.v1

n := 1400 if input.task_definition.family == "slow-escape"
n := 2 if input.task_definition.family != "slow-escape"

findings contains finding if {
\tsome container in input.task_definition.containerDefinitions
\tprint(container.environment)
\tsome i in numbers.range(1, 200)
\tprint("noise", i)
\tcount([1 | some a in numbers.range(1, n); some b in numbers.range(1, n)]) < 0
\tfinding := {"rule": "X-1", "path": "", "message": "never"}
}
"""
PRINTED_SECRET = "hunter2-plain-value-21"


def shipped_policies(tmp_path: Path, **modules: str) -> Path:
    """A copy of the shipped policy directory, with `modules` (file stem: Rego source) added to it."""
    directory = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, directory)
    for stem, source in modules.items():
        (directory / f"{stem}.rego").write_text(source)
    return directory


def test_a_slow_policy_input_is_a_503_the_worker_keeps_deciding_and_prints_stay_redacted(tmp_path):
    directory = shipped_policies(tmp_path, hostile_slow=SLOW_PRINTING_POLICY)
    stderr_path = tmp_path / "stderr.log"
    settings = {**SERVER_SETTINGS, "ECS_ADMISSION_POLICY_DIR": str(directory), "ECS_ADMISSION_EVAL_TIMEOUT": "0.5"}
    slow = {**DANGEROUS, "family": "slow-escape"}
    slow["containerDefinitions"] = [
        {**DANGEROUS["containerDefinitions"][0], "environment": [{"name": "DB_PASSWORD", "value": PRINTED_SECRET}]}
    ]
    with open(stderr_path, "w") as stderr, serving(settings, stderr=stderr) as served:
        wait_for_ready(served)
        wait_for_log(stderr_path, "spare")  # the worker compiles its spare engine after it is ready
        status, answer = send(served, "slow policy (deadline)", json.dumps(slow).encode())
        assert status == 503 and answer["allowed"] is False and "did not finish within 0.5 s" in answer["detail"]
        # The stuck evaluation holds its engine; the spare decides the next requests at once.
        status, answer = send(served, "slow policy (deadline)", json.dumps(CLEAN).encode())
        assert status == 200 and answer["allowed"] is True
        status, answer = send(served, "slow policy (deadline)", json.dumps({**slow, "family": "escape"}).encode())
        assert status == 403  # decided, and its print() of the environment is in the log, redacted
        # A second stuck evaluation while the first still runs: the worker asks to be replaced.
        status, answer = send(served, "slow policy (deadline)", json.dumps(slow).encode())
        assert status == 503 and answer["allowed"] is False
        wait_for_log(stderr_path, "Booting worker", count=2)
        wait_for_ready(served)
        status, answer = send(served, "slow policy (deadline)", json.dumps(DANGEROUS).encode())
        assert status == 403
    log = stderr_path.read_text()
    assert "recycling this worker" in log and "WORKER TIMEOUT" not in log
    assert PRINTED_SECRET not in log and "DB_PASSWORD" in log
    # Every evaluation of this policy prints 200+ lines: each logs 20 and one line counting the rest.
    assert log.count("not logged (at most 20)") > 0
    assert log.count("rego print") <= 21 * log.count("not logged (at most 20)"), "print() is bounded per evaluation"


def wait_for_ready(served, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with closing(http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)) as connection:
                connection.request("GET", "/readyz")
                response = connection.getresponse()
                body = json.loads(response.read())
                if response.status == 200:
                    return body
        except OSError:
            pass
        assert time.monotonic() < deadline, "the server did not become ready"
        time.sleep(0.2)


def wait_for_log(path: Path, text: str, count: int = 1, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while path.read_text().count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} x{count} not in the log"
        time.sleep(0.1)


def test_a_partial_deploy_never_replaces_the_serving_policies(tmp_path):
    directory = shipped_policies(tmp_path)
    settings = {
        **SERVER_SETTINGS,
        "ECS_ADMISSION_POLICY_DIR": str(directory),
        "ECS_ADMISSION_POLICY_POLL_SECONDS": "0.2",
    }
    with serving(settings) as served:
        for path in directory.iterdir():  # a non-atomic redeploy, caught half-way
            if path.name not in ("admission.rego", "lib.rego", "config.yaml"):
                path.unlink()
        deadline = time.monotonic() + 30
        while True:
            with closing(http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)) as connection:
                connection.request("GET", "/readyz")
                ready = json.loads(connection.getresponse().read())
            if "reload_error" in ready or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert "no check package" in ready["reload_error"]["error"]
        for _ in range(10):
            status, answer = send(served, "partial policy set", json.dumps(DANGEROUS).encode())
            assert status == 403 and answer["allowed"] is False


def test_a_slow_sidecar_answer_never_fails_open(standin):
    # Row 1: through the sidecar, an input slow enough to pass OPA's read timeout used to make the
    # canary queue behind it and time out too: 4 of 4 concurrent privileged requests were allowed.
    from ecs_admission.config import Settings
    from ecs_admission.web import create_app

    app = create_app(
        Settings(auth="none", decision_log=False, opa_url=standin.url, failure_policy="ignore", opa_read_timeout=0.3)
    )
    standin.delay = 0.5
    answers: list[tuple[int, Any]] = []

    def one() -> None:
        response = app.test_client().post("/v1/admit", json=DANGEROUS)
        answers.append((response.status_code, response.get_json().get("allowed")))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [(503, False)] * 4


def test_a_set_that_fails_the_canary_at_start_up_never_fails_open(tmp_path):
    # Row 7: an eval_conflict_error on every input passed start-up and, under ignore, was allowed.
    from ecs_admission.config import Settings
    from ecs_admission.web import create_app

    directory = shipped_policies(
        tmp_path,
        conflict="package ecs.checks.conflict\nimport rego.v1\n\nlevel := 1 if input\nlevel := 2 if input\n\n"
        'findings contains {"rule": "X", "path": "", "message": "m"} if level == 3\n',
    )
    client = create_app(Settings(policy_dir=directory, auth="none", decision_log=False, failure_policy="ignore"))
    response = client.test_client().post("/v1/admit", json=DANGEROUS)
    assert response.status_code == 503 and response.get_json()["allowed"] is False


def test_links_loops_and_oversized_files_in_a_polled_directory_are_refused_quietly(tmp_path):
    # Rows 8 and 14: `a -> .` and `b -> .`, a link to a file outside, a 17 MB comment-only module.
    directory = shipped_policies(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n")
    settings = {
        **SERVER_SETTINGS,
        "ECS_ADMISSION_POLICY_DIR": str(directory),
        "ECS_ADMISSION_POLICY_POLL_SECONDS": "0.2",
    }
    with serving(settings) as served:
        (directory / "a").symlink_to(directory)
        (directory / "b").symlink_to(directory)
        (directory / "passwd.rego").symlink_to(outside)
        ready = wait_for_reload_error(served)
        assert "passwd.rego is a symbolic link leading outside" in ready["reload_error"]["error"]
        assert "root:x" not in json.dumps(ready)
        (directory / "passwd.rego").unlink()
        with (directory / "padding.rego").open("w") as stream:
            stream.write("package ecs.checks.padding\n" + "# padding line\n" * 1_250_000)
        ready = wait_for_reload_error(served, "exceed")
        status, answer = send(served, "policy directory tricks", json.dumps(DANGEROUS).encode())
        assert status == 403 and answer["allowed"] is False


def wait_for_reload_error(served, text: str = "", timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = wait_for_ready(served)
        if "reload_error" in body and text in body["reload_error"]["error"]:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def test_rule_ids_made_from_the_input_fold_into_one_metric_label(tmp_path):
    # Row 15: a rule id with the family in it made 302 rule_findings series from 300 requests.
    from ecs_admission.config import Settings
    from ecs_admission.web import create_app

    directory = shipped_policies(
        tmp_path,
        dynamic="package ecs.checks.dynamic\nimport rego.v1\n\nfindings contains finding if {\n"
        '\tfinding := {"rule": sprintf("DYN-%s", [input.task_definition.family]), "path": "", "message": "m"}\n}\n',
    )
    client = create_app(Settings(policy_dir=directory, auth="none", decision_log=False)).test_client()
    for index in range(30):
        client.post("/v1/admit", json={**CLEAN, "family": f"family-{index}"})
    series = [line for line in client.get("/metrics").get_data(as_text=True).splitlines() if "rule_findings" in line]
    assert not any("DYN-" in line for line in series)
    assert any('rule="other"' in line for line in series)
