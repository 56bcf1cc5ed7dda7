"""The OPA sidecar failing in every way we know: 503 and never an allow, unless the operator opted
into ECS_ADMISSION_FAILURE_POLICY=ignore, which allows loudly (warning, log line, counter)."""

from __future__ import annotations

import json
import logging

import pytest

from ecs_admission.cli.commands import main as cli_main
from ecs_admission.config import ConfigError, Settings
from ecs_admission.engines.failopen import FAIL_OPEN, GATE_RULE
from ecs_admission.web import create_app
from tests.conftest import EXAMPLES, example, free_port

CLEAN = example("taskdef-clean.json")
DENIED = example("taskdef.json")
DECISION = "POST /v1/data/ecs/admission/decision"


def opa_client(url: str, **settings):
    values = {"opa_url": url, "opa_connect_timeout": 0.5, "opa_read_timeout": 0.3, **settings}
    return create_app(Settings(**{"auth": "none", **values})).test_client()


def admit(client, body=CLEAN, **kwargs):
    return client.post("/v1/admit", data=json.dumps(body), content_type="application/json", **kwargs)


def assert_503_never_allowed(client, fragment: str) -> None:
    for kwargs in ({}, {"query_string": {"dry_run": "true"}}):
        response = admit(client, **kwargs)
        body = response.get_json()
        assert response.status_code == 503, body
        assert body["allowed"] is False and body["error"] == "engine_unavailable"
        assert fragment in body["detail"], body["detail"]
    review = example("admission-review.json")
    answer = admit(client, review).get_json()["response"]
    assert answer["allowed"] is False and answer["status"]["code"] == 503


def test_opa_stopped_is_503_and_not_ready(standin):
    client = opa_client(standin.url)
    assert admit(client).status_code == 200
    standin.stop()
    assert_503_never_allowed(client, "connection refused")
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "connection refused" in ready.get_json()["reason"]
    assert client.get("/v1/policies").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_opa_never_started_is_503():
    client = opa_client(f"http://127.0.0.1:{free_port()}")
    assert_503_never_allowed(client, "connection refused")


def test_opa_slower_than_the_read_timeout_is_503_without_retries(standin):
    client = opa_client(standin.url)
    standin.delay = 1.0
    response = admit(client)
    assert response.status_code == 503
    assert "did not answer data.ecs.admission.decision within 0.3s" in response.get_json()["detail"]
    assert standin.requests[DECISION] == 1  # one attempt: no retry storm against a struggling sidecar


def test_opa_500_is_503_without_retries(standin):
    client = opa_client(standin.url)
    standin.fault = "500"
    response = admit(client)
    assert response.status_code == 503
    assert response.get_json()["detail"] == ("OPA answered data.ecs.admission.decision with HTTP 500: injected failure")
    assert standin.requests[DECISION] == 1


@pytest.mark.parametrize(
    ("fault", "fragment"),
    [
        ("garbage", "a body that is not JSON"),
        ("undefined", "data.ecs.admission.decision is undefined on OPA"),
        ("not_object", "JSON that is not an object"),
        ("malformed", "'violations' is not a list"),
        ("close", "cannot reach OPA"),
        ("500", "HTTP 500"),
    ],
)
def test_opa_answering_garbage_is_503(standin, fault, fragment):
    client = opa_client(standin.url)
    standin.fault = fault
    assert_503_never_allowed(client, fragment)
    assert client.get("/readyz").status_code == 503


def test_bundle_not_activated_is_not_ready(standin):
    client = opa_client(standin.url)
    standin.activated = False
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "/health?bundles answered HTTP 500: one or more bundles are not activated" in ready.get_json()["reason"]


def test_revision_without_provenance_comes_from_the_bundle_manifest(standin):
    standin.provenance = False
    body = admit(opa_client(standin.url)).get_json()
    assert body["policy"]["revision"] == standin.revision
    assert standin.requests["POST /v1/data/system/bundles"] == 1


def test_connections_are_pooled_and_reused(standin):
    client = opa_client(standin.url)
    for _ in range(5):
        assert admit(client).status_code == 200
    assert standin.requests[DECISION] == 5
    assert len(standin.connections) == 1


def test_cli_exits_3_when_opa_is_down(monkeypatch, capsys):
    monkeypatch.setenv("ECS_ADMISSION_OPA_URL", f"http://127.0.0.1:{free_port()}")
    code = cli_main(["check", str(EXAMPLES / "taskdef-clean.json")])
    assert code == 3
    assert "connection refused" in capsys.readouterr().err


def test_cli_decides_on_opa(monkeypatch, capsys, opa_server):
    monkeypatch.setenv("ECS_ADMISSION_OPA_URL", opa_server.url)
    code = cli_main(["check", "--format", "json", str(EXAMPLES / "taskdef.json")])
    decision = json.loads(capsys.readouterr().out)
    assert code == 1 and decision["policy"]["engine"] == "opa"
    assert {v["rule"] for v in decision["violations"]} == {"ECS-ISO-002", "ECS-EXEC-001"}


def test_failure_policy_ignore_allows_with_a_warning_logged_and_counted(standin, caplog):
    client = opa_client(standin.url, failure_policy="ignore")
    assert admit(client, DENIED).status_code == 403  # a healthy engine's deny still denies
    standin.stop()
    before = FAIL_OPEN.value
    with caplog.at_level(logging.WARNING, logger="ecs_admission.engines.failopen"):
        response = admit(client, DENIED)
    assert response.status_code == 200
    body = response.get_json()
    assert body["allowed"] is True and body["violations"] == []
    [warning] = body["warnings"]
    assert warning["rule"] == GATE_RULE and warning["severity"] == "high"
    assert warning["message"].startswith("no policy was evaluated: the opa engine could not decide (")
    assert "connection refused" in warning["message"] and "ECS_ADMISSION_FAILURE_POLICY=ignore" in warning["message"]
    assert FAIL_OPEN.value == before + 1
    assert any(GATE_RULE in record.getMessage() for record in caplog.records)
    # Readiness stays honest: the load balancer still sees a worker that cannot decide.
    assert client.get("/readyz").status_code == 503


def test_failure_policy_ignore_covers_the_embedded_engine(tmp_path):
    client = create_app(Settings(auth="none", policy_dir=tmp_path / "absent", failure_policy="ignore")).test_client()
    body = admit(client, DENIED).get_json()
    assert body["allowed"] is True and [w["rule"] for w in body["warnings"]] == [GATE_RULE]
    assert "does not exist" in body["warnings"][0]["message"]


def test_failure_policy_fail_is_the_default():
    assert Settings().failure_policy == "fail"
    assert Settings.from_env({}).failure_policy == "fail"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"ECS_ADMISSION_OPA_URL": "http://127.0.0.1:8181"}, {"opa_url": "http://127.0.0.1:8181"}),
        ({"ECS_ADMISSION_OPA_URL": "http://localhost:8181/"}, {"opa_url": "http://localhost:8181"}),
        (
            {"ECS_ADMISSION_OPA_CONNECT_TIMEOUT": "0.1", "ECS_ADMISSION_OPA_READ_TIMEOUT": "2.5"},
            {"opa_connect_timeout": 0.1, "opa_read_timeout": 2.5},
        ),
        ({"ECS_ADMISSION_OPA_POOL_SIZE": "8"}, {"opa_pool_size": 8}),
        ({"ECS_ADMISSION_FAILURE_POLICY": "Ignore"}, {"failure_policy": "ignore"}),
    ],
)
def test_opa_settings_parse(environ, expected):
    settings = Settings.from_env(environ)
    assert {key: getattr(settings, key) for key in expected} == expected


@pytest.mark.parametrize(
    "environ",
    [
        {"ECS_ADMISSION_OPA_URL": "127.0.0.1:8181"},
        {"ECS_ADMISSION_OPA_URL": "ftp://127.0.0.1:8181"},
        {"ECS_ADMISSION_OPA_URL": "http://127.0.0.1:8181/v1/data"},
        {"ECS_ADMISSION_OPA_URL": "http://user:pw@127.0.0.1:8181"},
        {"ECS_ADMISSION_OPA_URL": "http://127.0.0.1:99999"},
        {"ECS_ADMISSION_OPA_READ_TIMEOUT": "soon"},
        {"ECS_ADMISSION_OPA_CONNECT_TIMEOUT": "0"},
        {"ECS_ADMISSION_OPA_POOL_SIZE": "0"},
        {"ECS_ADMISSION_FAILURE_POLICY": "open"},
    ],
)
def test_bad_opa_settings_name_the_variable(environ):
    with pytest.raises(ConfigError, match=next(iter(environ))):
        Settings.from_env(environ)


def test_revision_parsing_from_opa_answers():
    from ecs_admission.engines.opa import revision_from_bundles, revision_from_provenance

    assert revision_from_provenance({"version": "1.4.2", "bundles": {"b": {"revision": "r1"}}}) == "r1"
    assert revision_from_provenance({"revision": "legacy"}) == "legacy"
    assert revision_from_provenance({"bundles": {"b": {"revision": "r1"}, "a": {"revision": "r0"}}}) == "r0,r1"
    assert revision_from_provenance({}) is None and revision_from_provenance("x") is None
    bundles = {
        "authz": {"manifest": {"revision": "other", "roots": ["authz"]}},
        "/bundles/ecs-admission.tar.gz": {"manifest": {"revision": "ours", "roots": ["ecs"]}},
    }
    assert revision_from_bundles(bundles) == "ours"
    assert revision_from_bundles({"b": {"manifest": {"revision": "all"}}}) == "all"  # no roots: owns everything
    assert revision_from_bundles({}) is None and revision_from_bundles(None) is None
