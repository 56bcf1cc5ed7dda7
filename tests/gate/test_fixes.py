"""Proposed fixes over HTTP: the combined patch, applied by an independent RFC 6902 library (jsonpatch),
gives exactly the document `ecs-admission fix` writes, in every input shape (docs/fixes.md)."""

from __future__ import annotations

import base64
import copy
import io
import json
from pathlib import Path

import jsonpatch
import pytest
import yaml

from ecs_admission.cli.commands import main
from ecs_admission.inputs import parse_file_bytes
from ecs_admission.inputs.patch import PatchError, apply, combine, validate
from ecs_admission.inputs.shapes import task_definition_root
from tests.cli.test_fix_cli import DANGEROUS
from tests.conftest import EXAMPLES

TASK = copy.deepcopy(DANGEROUS)
SHAPES = {
    "register": TASK,
    "describe": {"taskDefinition": {**TASK, "revision": 4, "status": "ACTIVE"}, "tags": []},
    "envelope": {"taskDefinition": TASK, "context": {"account": "111122223333"}, "fix": True},
    "envelope-of-describe": {"taskDefinition": {"taskDefinition": {**TASK, "revision": 2}}, "dryRun": False},
    "review": {"apiVersion": "ecs-admission/v1", "kind": "AdmissionReview", "request": {"uid": "u-1", "object": TASK}},
    "review-of-envelope": {
        "apiVersion": "ecs-admission/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "u-2", "object": {"taskDefinition": TASK, "context": {"region": "us-east-1"}}},
    },
}


def cli_fix(path: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["fix", str(path)], stdout=out, stderr=err, stdin=io.StringIO())
    return code, out.getvalue()


def http_patch(client, document, query: str = "?fix=true", content_type: str = "application/json") -> tuple[int, dict]:
    body = yaml.safe_dump(document, sort_keys=False) if "yaml" in content_type else json.dumps(document)
    response = client.post(f"/v1/admit{query}", data=body, content_type=content_type)
    return response.status_code, response.get_json()


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_http_patch_applied_with_jsonpatch_is_the_cli_fixed_document(client, tmp_path, shape):
    document = SHAPES[shape]
    path = tmp_path / f"{shape}.json"
    path.write_text(json.dumps(document, indent=2))
    code, fixed_text = cli_fix(path)
    assert code == 0
    status, answer = http_patch(client, document)
    if document.get("kind") == "AdmissionReview":
        response = answer["response"]
        assert status == 200 and response["patchType"] == "JSONPatch"
        assert response["allowed"] is False  # the verdict stays the verdict on the submitted document
        patch = json.loads(base64.b64decode(response["patch"]))
    else:
        assert status == 403 and answer["allowed"] is False
        patch = answer["patch"]
    assert patch and all(op["op"] in ("test", "remove", "replace") for op in patch)
    assert jsonpatch.apply_patch(document, patch) == json.loads(fixed_text)
    # Each finding's own fix also applies alone to the submitted document.
    findings = (answer.get("response", {}).get("decision") or answer)["violations"]
    for finding in findings:
        if "fix" in finding:
            jsonpatch.apply_patch(document, finding["fix"])


def test_fix_in_the_envelope_asks_for_the_patch_as_the_query_does(client):
    envelope = {"taskDefinition": TASK}
    assert "patch" not in http_patch(client, envelope, query="")[1]
    with_flag = http_patch(client, {**envelope, "fix": True}, query="")[1]
    with_query = http_patch(client, envelope)[1]
    assert with_flag["patch"] == with_query["patch"] != []
    assert http_patch(client, {**envelope, "fix": True}, query="?fix=false")[1].get("patch") is None
    status, error = http_patch(client, {**envelope, "fix": "yes"}, query="")
    assert status == 400 and error["field"] == "/fix"
    status, error = http_patch(client, envelope, query="?fix=maybe")
    assert status == 400 and error["field"] == "fix"


def test_yaml_body_and_template_patches_match_the_cli(client, tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(TASK, sort_keys=False))
    _, fixed_text = cli_fix(path)
    _, answer = http_patch(client, TASK, content_type="application/yaml")
    assert jsonpatch.apply_patch(TASK, answer["patch"]) == parse_file_bytes(fixed_text.encode(), "fixed.yaml")

    raw = (EXAMPLES / "template.yaml").read_bytes()
    code, fixed_text = cli_fix(EXAMPLES / "template.yaml")
    assert code == 1  # host network mode has no fix
    response = client.post("/v1/admit?fix=true", data=raw, content_type="application/yaml")
    template = parse_file_bytes(raw, "template.yaml")
    patch = response.get_json()["patch"]
    assert patch == [{"op": "remove", "path": "/Resources/Agent/Properties/ContainerDefinitions/0/Privileged"}]
    assert jsonpatch.apply_patch(template, patch) == parse_file_bytes(fixed_text.encode(), "template.yaml")


def test_an_allowed_document_answers_an_empty_patch(client):
    document = json.loads((EXAMPLES / "taskdef-clean.json").read_text())
    status, answer = http_patch(client, document)
    assert status == 200 and answer["patch"] == []


def test_task_definition_root_for_every_shape():
    assert {name: task_definition_root(doc) for name, doc in SHAPES.items()} == {
        "register": "",
        "describe": "/taskDefinition",
        "envelope": "/taskDefinition",
        "envelope-of-describe": "/taskDefinition/taskDefinition",
        "review": "/request/object",
        "review-of-envelope": "/request/object/taskDefinition",
    }


def test_combined_removals_in_one_array_go_last_index_first():
    document = {"add": ["A", "B", "C", "D"]}
    fixes = [
        [{"op": "test", "path": f"/add/{i}", "value": v}, {"op": "remove", "path": f"/add/{i}"}]
        for i, v in ((0, "A"), (2, "C"), (3, "D"))
    ]
    patch = combine(fixes + fixes[:1])  # a fix proposed twice is applied once
    assert apply(copy.deepcopy(document), patch) == {"add": ["B"]}
    assert jsonpatch.apply_patch(document, patch) == {"add": ["B"]}


def test_malformed_and_stale_patches_are_refused():
    for bad in ([], [{"op": "delete", "path": "/a"}], [{"op": "add", "path": "/a"}], [{"op": "remove", "path": "a"}]):
        with pytest.raises(PatchError):
            validate(bad)
    with pytest.raises(PatchError, match="test failed"):
        apply({"a": [1]}, [{"op": "test", "path": "/a/0", "value": True}])
    with pytest.raises(PatchError):
        apply({"a": [1]}, [{"op": "remove", "path": "/a/1"}])


def test_answers_with_a_patch_match_the_openapi_description(client):
    import jsonschema

    from ecs_admission.web.openapi import document

    components = document("0")["components"]

    def check(answer: dict, schema: str) -> None:
        jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{schema}", "components": components}).validate(
            answer
        )

    _, answer = http_patch(client, SHAPES["register"])
    assert answer["patch"] and answer["violations"][0].get("fix")
    check(answer, "Decision")
    _, review = http_patch(client, SHAPES["review"])
    check(review, "AdmissionReviewResponse")
    with pytest.raises(jsonschema.ValidationError):
        check({**answer, "patch": [{"op": "delete", "path": "/x"}]}, "Decision")


def test_a_fix_never_echoes_an_environment_value():
    from ecs_admission.decision import Finding
    from ecs_admission.gate.fixes import proposed

    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    path = "/containerDefinitions/0/environment/0"
    fix = [{"op": "test", "path": path, "value": {"name": "K", "value": secret}}, {"op": "remove", "path": path}]
    finding = Finding("ACME-002", "high", "t", "m", path, "r", "d", extra={"fix": fix})
    assert proposed(finding) == [{"op": "remove", "path": path}]
