"""Fail open only when the engine is really down (issue 21 rows 1 and 7, item 2)."""

from __future__ import annotations

import shutil

from ecs_admission.config import Settings
from ecs_admission.engines.failopen import FAIL_OPEN
from ecs_admission.web import create_app
from tests.conftest import REPO, example

PRIVILEGED = example("taskdef.json")
CONFLICT = """package ecs.checks.conflict
import rego.v1

level := "a" if input.task_definition
level := "b" if input.task_definition

findings contains finding if {
\tlevel == "c"
\tfinding := {"rule": "X-1", "path": "", "message": "never"}
}
"""


def sidecar_client(url: str, **settings):
    settings = {"auth": "none", "decision_log": False, "opa_url": url, "failure_policy": "ignore", **settings}
    return create_app(Settings(**settings)).test_client()


def test_a_slow_sidecar_answer_is_a_503_for_that_input_never_an_allow(standin):
    client = sidecar_client(standin.url, opa_read_timeout=0.3)
    assert client.post("/v1/admit", json=PRIVILEGED).status_code == 403
    standin.delay = 0.6  # slower than the read timeout: the input (or the load) is slow, OPA is up
    before = FAIL_OPEN.value
    for _ in range(3):
        response = client.post("/v1/admit", json=PRIVILEGED)
        body = response.get_json()
        assert response.status_code == 503 and body["allowed"] is False, body
        assert "did not answer" in body["detail"]
    assert FAIL_OPEN.value == before


def test_a_sidecar_that_is_down_still_fails_open_under_ignore(standin):
    client = sidecar_client(standin.url)
    standin.stop()
    response = client.post("/v1/admit", json=PRIVILEGED)
    assert response.status_code == 200 and response.get_json()["warnings"][0]["rule"] == "ECS-GATE-001"


def test_start_up_runs_the_canary_and_a_set_that_fails_it_never_fails_open(tmp_path):
    directory = tmp_path / "rego"
    shutil.copytree(REPO / "rego", directory)
    (directory / "conflict.rego").write_text(CONFLICT)
    client = create_app(
        Settings(policy_dir=directory, auth="none", decision_log=False, failure_policy="ignore")
    ).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "canary" in ready.get_json()["reason"]
    response = client.post("/v1/admit", json=PRIVILEGED)
    body = response.get_json()
    assert response.status_code == 503 and body["allowed"] is False
    assert "eval_conflict_error" in body["detail"]
