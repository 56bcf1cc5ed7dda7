"""Every real task definition in the shared corpus gets a decision or a clean input error."""

from __future__ import annotations

import json

import pytest

from ecs_admission.inputs import normalise, parse_file_bytes
from tests.conftest import corpus_dir, external_corpus

FOLDERS = ("register", "describe", "codedeploy")
FILES = sorted(p for folder in FOLDERS for p in (corpus_dir() / folder).glob("*") if p.is_file())
# Files that are not task definitions at all; anything else must decide.
NOT_TASK_DEFINITIONS = {"gcanales75__sqs-sns-demo-fasttrack-saa__describe-task-definition.json"}


def test_corpus_is_present():
    # The shipped fixtures cover every shape; the external corpus is the wider sweep.
    assert {p.parent.name for p in FILES} == set(FOLDERS)
    assert len(FILES) >= (50 if external_corpus() else 12)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name[:60]}")
def test_corpus_file_decides_or_is_a_clean_400(client, path):
    raw = path.read_bytes()
    content_type = "application/yaml" if path.suffix in (".yaml", ".yml") else "application/json"
    response = client.post("/v1/admit?dry_run=true", data=raw, content_type=content_type)
    body = response.get_json()
    if path.name in NOT_TASK_DEFINITIONS:
        assert response.status_code == 400 and body["detail"]
        return
    assert response.status_code == 200, body
    assert body["enforced"] is False
    assert body["task_definition"]["source"] in ("register", "describe", "codedeploy")
    request = normalise(parse_file_bytes(raw, path.name))
    assert body["task_definition"].get("family") == request.family
    json.dumps(body)


def test_corpus_verdicts_match_known_facts(client, corpus):
    def rules(name: str) -> set[str]:
        raw = (corpus / "register" / name).read_bytes()
        body = client.post("/v1/admit?dry_run=true", data=raw, content_type="application/json").get_json()
        return {v["rule"] for v in body["violations"]}

    assert "ECS-ISO-002" in rules(
        "aws__amazon-ecs-agent__agent_functional_tests_testdata_taskdefinitions_privileged_task-definition.json"
    )
    assert "ECS-ISO-003" in rules(
        "aws__amazon-ecs-agent__agent_functional_tests_testdata_taskdefinitions_pid-namespace-host-share_task-definition.json"
    )
