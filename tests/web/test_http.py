"""The v1 HTTP contract: status codes, dry-run, envelopes, health, catalogue."""

from __future__ import annotations

import json
import uuid

import pytest

from ecs_admission.config import Settings
from ecs_admission.web import create_app
from tests.conftest import EXAMPLES, example

CLEAN = example("taskdef-clean.json")
DENIED = example("taskdef.json")


def post(client, body, path="/v1/admit", content_type="application/json", **kwargs):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type, **kwargs)


def test_allowed_task_definition_is_200(client):
    response = post(client, CLEAN)
    assert response.status_code == 200
    body = response.get_json()
    assert body["allowed"] is True and body["enforced"] is True and body["mode"] == "enforce"
    assert body["violations"] == []
    uuid.UUID(body["decision_id"], version=4)
    assert body["task_definition"] == {"family": "payments-api", "source": "register", "envelope": "none"}
    assert body["policy"]["engine"] == "embedded" and len(body["policy"]["revision"]) == 16
    assert isinstance(body["duration_ms"], float)


def test_denied_task_definition_is_403_with_actionable_reasons(client):
    response = post(client, DENIED)
    assert response.status_code == 403
    body = response.get_json()
    assert body["allowed"] is False and body["enforced"] is True
    by_rule = {v["rule"]: v for v in body["violations"]}
    assert set(by_rule) == {"ECS-ISO-002", "ECS-EXEC-001"}
    privileged = by_rule["ECS-ISO-002"]
    assert privileged["path"] == "/containerDefinitions/0/privileged"
    assert privileged["severity"] == "critical"
    assert "container api" in privileged["message"]
    assert privileged["remediation"] and privileged["docs"].startswith("https://docs.aws.amazon.com/")
    # Fargate needs the execution role for the secrets and for the private ECR image: one finding each.
    assert {v["path"] for v in body["violations"] if v["rule"] == "ECS-EXEC-001"} == {
        "/containerDefinitions/0/image",
        "/containerDefinitions/0/secrets",
    }
    # Severity first: critical before high.
    assert [v["rule"] for v in body["violations"]] == ["ECS-ISO-002", "ECS-EXEC-001", "ECS-EXEC-001"]


@pytest.mark.parametrize(
    "how",
    [
        {"query_string": {"dry_run": "true"}},
        {"headers": {"X-Dry-Run": "true"}},
        {"envelope": True},
    ],
    ids=["query", "header", "envelope"],
)
def test_dry_run_three_ways_same_verdict_not_enforced(client, how):
    if how.get("envelope"):
        response = post(client, {"taskDefinition": DENIED, "dryRun": True})
    else:
        response = post(client, DENIED, **how)
    assert response.status_code == 200
    body = response.get_json()
    assert body["allowed"] is False and body["enforced"] is False and body["mode"] == "dry-run"
    enforced = post(client, DENIED).get_json()
    assert [v["rule"] for v in body["violations"]] == [v["rule"] for v in enforced["violations"]]
    assert [v["message"] for v in body["violations"]] == [v["message"] for v in enforced["violations"]]


def test_server_default_dry_run_and_explicit_enforce_override():
    client = create_app(Settings(default_mode="dry-run", auth="none")).test_client()
    assert post(client, DENIED).status_code == 200
    assert post(client, DENIED).get_json()["mode"] == "dry-run"
    forced = post(client, DENIED, query_string={"dry_run": "false"})
    assert forced.status_code == 403 and forced.get_json()["enforced"] is True


def test_bad_dry_run_value_is_400(client):
    response = post(client, DENIED, query_string={"dry_run": "maybe"})
    assert response.status_code == 400
    assert response.get_json()["field"] == "dry_run"


def test_yaml_body(client):
    response = post(client, (EXAMPLES / "taskdef.yaml").read_bytes(), content_type="application/yaml")
    assert response.status_code == 200
    assert response.get_json()["task_definition"]["family"] == "batch-report"


SOUND = {"family": "f", "containerDefinitions": [{"name": "a", "image": "i"}]}


@pytest.mark.parametrize(
    ("body", "field", "detail"),
    [
        (b"{not json", None, "not valid JSON"),
        ({"family": "x"}, "/containerDefinitions", "missing"),
        ({"family": "x", "containerDefinitions": "web"}, "/containerDefinitions", "expected a list"),
        ({"containerDefinitions": []}, "/containerDefinitions", "at least one"),
        (
            {"containerDefinitions": [{"name": "a", "privileged": "true"}]},
            "/containerDefinitions/0/privileged",
            "expected a boolean",
        ),
        ({"taskRoleArn": 12, "containerDefinitions": [{"name": "a"}]}, "/taskRoleArn", "expected a string"),
        (
            {"containerDefinitions": [{"name": "a", "Privileged": True}]},
            "/containerDefinitions/0/Privileged",
            "did you mean 'privileged'",
        ),
        ([1, 2], "/", "expected an object"),
        (
            b'{"containerDefinitions": [], "containerDefinitions": [{"name": "a"}]}',
            "containerDefinitions",
            "duplicate key",
        ),
        (
            {"taskDefinition": SOUND, "context": {"account": "12"}},
            "/context/account",
            "12-digit",
        ),
        (
            {"taskDefinition": SOUND, "roles": {"arn:x": []}},
            "/roles/arn:x",
            "must be an object",
        ),
        ({"taskDefinition": SOUND, "dryRun": "yes"}, "/dryRun", "true or false"),
        ({"taskDefinition": SOUND, "rolez": {}}, "/rolez", "unknown envelope"),
    ],
)
def test_invalid_input_is_400_naming_the_field(client, body, field, detail):
    response = post(client, body)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()
    assert set(error) == {"error", "detail", "field"}
    assert error["field"] == field
    assert detail in error["detail"]


def test_wrong_content_type_is_415(client):
    response = client.post("/v1/admit", data=json.dumps(CLEAN), content_type="text/plain")
    assert response.status_code == 415
    assert response.get_json()["field"] == "Content-Type"


def test_body_over_limit_is_413():
    client = create_app(Settings(max_body_bytes=2048, auth="none")).test_client()
    big = {**CLEAN, "tags": [{"key": f"k{i}", "value": "v" * 50} for i in range(100)]}
    response = post(client, big)
    assert response.status_code == 413
    assert "2048-byte limit" in response.get_json()["detail"]


def test_unknown_route_is_json_404(client):
    response = client.get("/v1/nope")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_describe_output_is_unwrapped(client):
    described = {
        "taskDefinition": {
            **CLEAN,
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:111122223333:task-definition/payments-api:7",
            "revision": 7,
            "status": "ACTIVE",
            "requiresAttributes": [{"name": "x"}],
            "compatibilities": ["EC2", "FARGATE"],
            "registeredAt": "2026-01-01T00:00:00Z",
        },
        "tags": [{"key": "team", "value": "payments"}],
    }
    body = post(client, described).get_json()
    assert body["allowed"] is True
    assert body["task_definition"] == {
        "family": "payments-api",
        "source": "describe",
        "envelope": "none",
        "revision": 7,
    }


def test_codedeploy_placeholders_are_tolerated_and_role_placeholder_warns(client):
    template = {
        **CLEAN,
        "taskRoleArn": "<TASK_ROLE_ARN>",
        "containerDefinitions": [{**CLEAN["containerDefinitions"][0], "image": "<IMAGE1_NAME>"}],
    }
    response = post(client, template)
    assert response.status_code == 200
    body = response.get_json()
    assert body["task_definition"]["source"] == "codedeploy"
    warnings = [(w["rule"], w["path"]) for w in body["warnings"]]
    assert ("ECS-ROLE-001", "/taskRoleArn") in warnings
    # The placeholder role is reported once, and the placeholder image is not judged as an image.
    assert [w for w in warnings if w[1] == "/taskRoleArn"] == [("ECS-ROLE-001", "/taskRoleArn")]
    assert not [w for w in warnings if w[1] == "/containerDefinitions/0/image"]


def test_envelope_with_roles_and_context(client):
    response = post(client, example("envelope.json"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["task_definition"]["envelope"] == "request"
    assert body["allowed"] is True


def test_admission_review_denied_is_200_with_status_403(client):
    review = example("admission-review.json")
    response = post(client, review)
    assert response.status_code == 200
    body = response.get_json()
    assert body["apiVersion"] == "ecs-admission/v1" and body["kind"] == "AdmissionReview"
    answer = body["response"]
    assert answer["uid"] == review["request"]["uid"]
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 403
    assert "ECS-ISO-001" in answer["status"]["message"]
    assert answer["decision"]["violations"][0]["path"] == "/networkMode"


def test_admission_review_dry_run_allows_with_warnings(client):
    review = example("admission-review.json")
    review["request"]["dryRun"] = True
    answer = post(client, review).get_json()["response"]
    assert answer["allowed"] is True and answer["status"]["code"] == 200
    assert answer["decision"]["allowed"] is False and answer["decision"]["enforced"] is False
    assert any("ECS-ISO-001" in warning for warning in answer["warnings"])


def test_admission_review_with_invalid_object_answers_in_kind(client):
    review = example("admission-review.json")
    review["request"]["object"] = {"containerDefinitions": "nope"}
    response = post(client, review)
    assert response.status_code == 200
    answer = response.get_json()["response"]
    assert answer["allowed"] is False and answer["status"]["code"] == 400
    assert "/request/object/containerDefinitions" in answer["status"]["message"]


def test_admission_review_without_uid_is_400(client):
    review = example("admission-review.json")
    del review["request"]["uid"]
    response = post(client, review)
    assert response.status_code == 400 and response.get_json()["field"] == "/request/uid"


def test_health_ready_and_policies(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"
    catalogue = client.get("/v1/policies").get_json()
    rules = {rule["id"]: rule for rule in catalogue["rules"]}
    assert {"ECS-ISO-001", "ECS-ISO-002", "ECS-ISO-003", "ECS-EXEC-001", "ECS-ROLE-001"} <= set(rules)
    assert rules["ECS-ISO-002"]["enforcement"] == "deny"
    assert rules["ECS-ROLE-001"]["enforcement"] == "warn"
    assert catalogue["revision"] == ready.get_json()["revision"]


def test_strings_with_quotes_and_backslashes_round_trip(client):
    """Quotes and backslashes in the input survive into the decision, which stays JSON."""
    body = {
        "family": 'we"b\\app',
        "containerDefinitions": [{"name": 'api"v2', "image": "nginx:1.27", "privileged": True}],
    }
    response = post(client, body)
    assert response.status_code == 403
    decision = response.get_json()
    assert decision["task_definition"]["family"] == 'we"b\\app'
    assert decision["violations"][0]["message"].startswith('container api"v2 runs privileged')


@pytest.mark.parametrize(
    ("container", "field"),
    [
        ({"name": "a", "user": "0\n"}, "/containerDefinitions/0/user"),
        ({"name": "a\tb"}, "/containerDefinitions/0/name"),
    ],
)
def test_control_characters_outside_free_text_are_400(client, container, field):
    response = post(client, {"containerDefinitions": [container]})
    assert response.status_code == 400 and response.get_json()["field"] == field


def test_control_characters_in_free_text_are_fine(client):
    container = {
        "name": "a",
        "image": "nginx:1.27",
        "command": ["sh", "-c", "echo a\nb"],
        "environment": [{"name": "PEM", "value": "-----BEGIN-----\nabc\n-----END-----"}],
    }
    assert post(client, {"family": "f", "containerDefinitions": [container]}).status_code in (200, 403)
