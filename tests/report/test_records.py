"""Decision records (one JSON line per decision) and redaction, with planted secrets grepped for."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import shutil
import time
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

from ecs_admission.config import Settings
from ecs_admission.decision import Decision, TaskDefinitionSummary
from ecs_admission.report.records import LOGGER_NAME, Caller, decision_record, input_digest
from ecs_admission.report.redaction import MASK, mask_text, redact_input, redact_task_definition
from ecs_admission.web import create_app
from tests.conftest import EXAMPLES, REPO, example, serving

CLEAN = example("taskdef-clean.json")
DENIED = example("taskdef.json")
ENVELOPE = example("envelope.json")


def decision_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == LOGGER_NAME]


def post(client, body, content_type="application/json", **kwargs):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post("/v1/admit", data=data, content_type=content_type, **kwargs)


@pytest.fixture()
def open_client():
    return create_app(Settings(auth="none")).test_client()


# --- the record ------------------------------------------------------------------------------------


def test_one_json_line_per_decision_with_the_documented_fields(open_client, caplog, capsys):
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        response = post(open_client, DENIED)
    [record] = decision_lines(caplog)
    body = response.get_json()
    assert record["decision_id"] == body["decision_id"]
    assert record["caller"] == "anonymous" and record["auth"] == "none"
    assert record["task_definition"] == {
        "family": "payments-api",
        "revision": None,
        "source": "register",
        "envelope": "none",
    }
    assert record["verdict"] == "deny" and record["allowed"] is False and record["mode"] == "enforce"
    assert record["status"] == 403
    assert record["violations"] == [v["rule"] for v in body["violations"]]
    assert record["warnings"] == [w["rule"] for w in body["warnings"]]
    assert {"ECS-ISO-002", "ECS-EXEC-001"} <= set(record["violations"])
    assert record["policy"] == {"engine": "embedded", "revision": body["policy"]["revision"]}
    assert set(record["durations_ms"]) >= {"total", "decide", "engine"}
    assert record["durations_ms"]["total"] >= record["durations_ms"]["decide"] >= record["durations_ms"]["engine"] > 0
    assert all(isinstance(value, float) for value in record["durations_ms"].values())
    assert record["input_sha256"] == input_digest(DENIED)
    dt_time = record["time"]
    assert dt_time.endswith("Z") and "T" in dt_time
    # On stdout, as one line of JSON.
    out_lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert json.loads(out_lines[-1])["decision_id"] == record["decision_id"]


def test_dry_run_and_review_records(open_client, caplog):
    review = example("admission-review.json")
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        post(open_client, DENIED, query_string={"dry_run": "true"})
        post(open_client, review)
    dry, reviewed = decision_lines(caplog)
    assert dry["mode"] == "dry-run" and dry["verdict"] == "deny" and dry["status"] == 200 and not dry["enforced"]
    assert reviewed["review_uid"] == review["request"]["uid"]
    assert reviewed["task_definition"]["envelope"] == "admission-review"


def test_digest_ties_the_record_to_the_task_definition_whatever_its_shape(open_client, caplog):
    describe = {
        "taskDefinition": {**CLEAN, "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/x:3", "revision": 3}
    }
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        post(open_client, CLEAN)
        post(open_client, yaml.safe_dump(CLEAN), content_type="application/yaml")
        post(open_client, describe)
        post(open_client, {"taskDefinition": CLEAN, "dryRun": True})
        post(open_client, {**CLEAN, "family": "other"})
    digests = [r["input_sha256"] for r in decision_lines(caplog)]
    assert len(set(digests[:4])) == 1 and digests[4] != digests[0]
    # The documented recipe gives the same digest from the file.
    recipe = hashlib.sha256(json.dumps(CLEAN, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    assert digests[0] == recipe.hexdigest()
    assert decision_lines(caplog)[2]["task_definition"]["revision"] == 3


def test_engine_failure_is_recorded_as_an_error(tmp_path, caplog):
    directory = tmp_path / "rego"
    shutil.copytree(REPO / "rego", directory)
    (directory / "broken.rego").write_text("package ecs.checks.broken\nimport rego.v1\nfindings := {x | x := \n")
    client = create_app(Settings(policy_dir=directory, auth="none")).test_client()
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        assert post(client, CLEAN).status_code == 503
    [record] = decision_lines(caplog)
    assert record["verdict"] == "error" and record["allowed"] is False and record["status"] == 503
    assert "policies" in record["error"] and record["input_sha256"] == input_digest(CLEAN)


def test_iam_duration_is_recorded_when_the_gate_timed_it():
    decision = Decision(
        decision_id=str(uuid.uuid4()),
        allowed=True,
        enforced=True,
        mode="enforce",
        violations=[],
        warnings=[],
        exempted=[],
        task_definition=TaskDefinitionSummary(family="f", source="register", envelope="none"),
        engine="embedded",
        revision="r",
        duration_ms=2.0,
        timings_ms={"engine": 0.5, "iam": 1.25, "note": "not a number"},
    )
    record = decision_record(decision, Caller("ci", "bearer"), 200, 3.0, "d" * 64)
    assert record["durations_ms"] == {"total": 3.0, "decide": 2.0, "engine": 0.5, "iam": 1.25}


def test_records_can_be_turned_off(caplog):
    client = create_app(Settings(auth="none", decision_log=False)).test_client()
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        post(client, CLEAN)
    assert decision_lines(caplog) == []
    assert Settings.from_env({"ECS_ADMISSION_DECISION_LOG": "false"}).decision_log is False


def test_huge_family_is_shortened_in_the_record(open_client, caplog):
    # ECS allows 255 characters: a longer family is refused before any record; the longest
    # allowed one, and a review uid (no limit), are kept short in the record.
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        assert post(open_client, {**CLEAN, "family": "f" * 50_000}).status_code == 400
        post(open_client, {**CLEAN, "family": "f" * 255})
    [record] = decision_lines(caplog)
    assert len(record["task_definition"]["family"]) < 300


# --- redaction -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("AKIAIOSFODNN7EXAMPLE", "IOSFODNN7EXAMPLE"),
        ("ASIAY34FZKBOKMUTVV7A", "Y34FZKBOKMUTVV7A"),
        ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "K7MDENG"),
        ("Authorization: Bearer eyJhbGciOi.abc-def", "eyJhbGciOi"),
        ("postgres://app:s3cr3t-pw@db.internal:5432/app", "s3cr3t-pw"),
        ("https://deploy:hunter2@git.example.com/repo.git", "hunter2"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\ntruncated", "truncated"),
        ("ghp_0123456789abcdefghijABCDEFGHIJ012345", "abcdefghijABCDEFGHIJ"),
        ("xoxb-1234567890-abcdefghij", "1234567890-abcdefghij"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", "SflKxwRJSMeKKF2Q"),
        ("--password=hunter2", "hunter2"),
        ("DB_PASSWORD: hunter2", "hunter2"),
        ('{"api_key": "k-123"}', "k-123"),
        ("client_secret=abc123", "abc123"),
    ],
)
def test_credential_shapes_are_masked(text, secret):
    masked = mask_text(f"before {text} after")
    assert MASK in masked and masked.startswith("before")
    # An unterminated private key is masked to the end of the text: where it stops is unknown.
    assert masked.endswith("after") or "END" not in text
    assert secret not in masked


@pytest.mark.parametrize(
    "text",
    [
        "5b0c7f1e-1111-4222-8333-444455556666",
        "c073b4f529e70327eafc1f161dce984c3a0cc44b7b6a3c2648b55379f8160735",
        "3f2a9c0d1e4b5a6978c0d1e2f3a4b5c6d7e8f9a0",
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html",
        "arn:aws:iam::111122223333:role/payments-api-task",
        "111122223333.dkr.ecr.us-east-1.amazonaws.com/payments-api:1.4.2",
        "container api uses secrets but the task has no executionRoleArn",
        '{"caller":"ci","auth":"bearer","verdict":"deny"}',
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert mask_text(text) == text


def test_task_definition_redaction_keeps_names_only():
    task_definition = {
        "family": "payments-api",
        "containerDefinitions": [
            {
                "name": "api",
                "image": "https://user:pw123@registry.example.com/api:1",
                "environment": [{"name": "DB_HOST", "value": "db.internal"}, {"name": "TOKEN", "value": "abc"}],
                "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:db"}],
                "repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:us-east-1:1:secret:reg"},
                "logConfiguration": {
                    "logDriver": "awsfirelens",
                    "options": {"apikey": "dd-key-1234", "Name": "datadog"},
                    "secretOptions": [{"name": "apikey", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/dd"}],
                },
                "command": ["serve", "--password=hunter2"],
            }
        ],
    }
    original = copy.deepcopy(task_definition)
    redacted = redact_task_definition(task_definition)
    assert task_definition == original  # a copy, the input is untouched
    container = redacted["containerDefinitions"][0]
    assert container["environment"] == [{"name": "DB_HOST"}, {"name": "TOKEN"}]
    assert container["secrets"] == [{"name": "DB_PASSWORD"}]
    assert container["repositoryCredentials"] == {"credentialsParameter": MASK}
    assert container["logConfiguration"]["options"] == {"apikey": MASK, "Name": MASK}
    assert container["logConfiguration"]["secretOptions"] == [{"name": "apikey"}]
    assert container["command"] == ["serve", "--password=" + MASK]
    assert "pw123" not in container["image"]
    text = json.dumps(redacted)
    for value in ("db.internal", "secret:db", "secret:reg", "dd-key-1234", "hunter2", "parameter/dd"):
        assert value not in text
    assert (
        json.dumps(redact_input({"task_definition": task_definition, "context": {"x": "AKIAIOSFODNN7EXAMPLE"}})).count(
            "AKIA"
        )
        == 0
    )


# --- planted secrets: every log line of every scenario ---------------------------------------------

PLANTED = {
    "env_value": "PLANTED-env-value-3f9a1c",
    "access_key_id": "AKIAPLANTED0EXAMPLE1",
    "secret_key": "Planted/SecretKey+0123456789abcdefGHIJKLM"[:40],
    "secret_arn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:planted-db-password-Ab12Cd",
    "registry_credentials": "arn:aws:secretsmanager:us-east-1:111122223333:secret:planted-registry-creds",
    "url_password": "PlantedUrlPass77",
    "log_option_key": "planted-datadog-key-5e6f",
    "command_password": "planted-cmd-password-8a1b",
    "bearer_token": "planted-bearer-token-9c2d",
    "wrong_token": "planted-wrong-token-0f0f",
    "signing_secret": "planted-signing-secret-41e0",
    "query_secret": "planted-query-secret-6d6d",
}


def planted_task_definition(privileged: bool, static_keys: bool = True) -> dict:
    """Secrets planted everywhere a caller can put them. Static AWS keys are themselves a deny
    (ECS-ISO-007), so the allowed variant carries every other planted value but not those."""
    environment = [{"name": "PLAIN", "value": PLANTED["env_value"]}]
    if static_keys:
        environment += [
            {"name": "AWS_ACCESS_KEY_ID", "value": PLANTED["access_key_id"]},
            {"name": "AWS_SECRET_ACCESS_KEY", "value": PLANTED["secret_key"]},
        ]
    return {
        "family": "planted-app",
        "containerDefinitions": [
            {
                "name": "app",
                "image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/app:1",
                "privileged": privileged,
                "environment": environment,
                "secrets": [{"name": "DB_PASSWORD", "valueFrom": PLANTED["secret_arn"]}],
                "repositoryCredentials": {"credentialsParameter": PLANTED["registry_credentials"]},
                "logConfiguration": {"logDriver": "awsfirelens", "options": {"apikey": PLANTED["log_option_key"]}},
                "command": ["serve", f"--password={PLANTED['command_password']}"],
                "dockerLabels": {"repo": f"https://deploy:{PLANTED['url_password']}@git.example.com/app.git"},
            }
        ],
        "executionRoleArn": "arn:aws:iam::111122223333:role/app-execution",
    }


def sign(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    mac = hmac.new(PLANTED["signing_secret"].encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Ecs-Admission-Signature": f"sha256={mac}", "X-Ecs-Admission-Timestamp": timestamp}


def scenarios() -> list[tuple[str, str, bytes, dict[str, str], int]]:
    """(name, path with query, body, headers, expected status): what the suite's other tests do, planted."""
    allowed = json.dumps(planted_task_definition(False, static_keys=False)).encode()
    denied = json.dumps(planted_task_definition(True)).encode()
    auth = {"Authorization": f"Bearer {PLANTED['bearer_token']}"}
    json_type = {"Content-Type": "application/json"}
    envelope = {
        "taskDefinition": planted_task_definition(False, static_keys=False),
        "roles": {
            "arn:aws:iam::111122223333:role/app-execution": {
                "trustPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": PLANTED["env_value"],
                            "Effect": "Allow",
                            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "policies": [],
            }
        },
        "context": {"account": "111122223333", "region": "us-east-1"},
    }
    review = {
        "apiVersion": "ecs-admission/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "u-1", "object": planted_task_definition(True)},
    }
    bad_field = planted_task_definition(False)
    bad_field["containerDefinitions"][0]["privileged"] = PLANTED["env_value"]
    return [
        ("allow", "/v1/admit", allowed, {**json_type, **auth}, 200),
        ("deny", "/v1/admit", denied, {**json_type, **auth}, 403),
        ("dry-run", "/v1/admit?dry_run=true", denied, {**json_type, **auth}, 200),
        ("query", f"/v1/admit?dry_run=true&api_key={PLANTED['query_secret']}", denied, {**json_type, **auth}, 200),
        (
            "yaml",
            "/v1/admit",
            yaml.safe_dump(planted_task_definition(True)).encode(),
            {"Content-Type": "application/yaml", **auth},
            403,
        ),
        # The execution role supplied with no policies cannot read the secrets: denied, and still redacted.
        ("envelope", "/v1/admit", json.dumps(envelope).encode(), {**json_type, **auth}, 403),
        ("review", "/v1/admit", json.dumps(review).encode(), {**json_type, **auth}, 200),
        ("signed", "/v1/admit", denied, {**json_type, **sign(denied)}, 403),
        ("wrong-token", "/v1/admit", denied, {**json_type, "Authorization": f"Bearer {PLANTED['wrong_token']}"}, 403),
        ("no-token", "/v1/admit", denied, json_type, 401),
        ("bad-field", "/v1/admit", json.dumps(bad_field).encode(), {**json_type, **auth}, 400),
        (
            "duplicate-key",
            "/v1/admit",
            b'{"' + PLANTED["env_value"].encode() + b'": 1, "' + PLANTED["env_value"].encode() + b'": 2}',
            {**json_type, **auth},
            400,
        ),
        ("policies", "/v1/policies", b"", auth, 200),
        ("metrics", "/metrics", b"", auth, 200),
    ]


def auth_env() -> dict[str, str]:
    return {
        "ECS_ADMISSION_TOKEN_SHA256": "ci=" + hashlib.sha256(PLANTED["bearer_token"].encode()).hexdigest(),
        "ECS_ADMISSION_SIGNING_SECRETS": "pipeline=" + PLANTED["signing_secret"],
    }


def assert_no_planted(text: str, where: str) -> None:
    leaked = [name for name, value in PLANTED.items() if value in text]
    assert not leaked, (
        f"{where} leaks {leaked}: "
        + next(line for line in text.splitlines() if any(PLANTED[n] in line for n in leaked))[:500]
    )


def test_no_planted_secret_reaches_any_log_line_in_process(tmp_path, caplog, capfd):
    settings = Settings.from_env(auth_env())
    client = create_app(settings).test_client()
    broken_dir = tmp_path / "rego"
    shutil.copytree(REPO / "rego", broken_dir)
    (broken_dir / "broken.rego").write_text("package ecs.checks.broken\nimport rego.v1\nfindings := {x | x := \n")
    broken = create_app(Settings.from_env({**auth_env(), "ECS_ADMISSION_POLICY_DIR": str(broken_dir)})).test_client()
    with caplog.at_level(logging.DEBUG):
        for name, path, body, headers, status in scenarios():
            method = client.post if body else client.get
            response = method(path, data=body, headers=headers)
            assert response.status_code == status, (name, response.get_data()[:300])
        failed = broken.post("/v1/admit", data=scenarios()[0][2], headers=scenarios()[0][3])
        assert failed.status_code == 503
    lines = [handler_format(r) for r in caplog.records]
    captured = capfd.readouterr()
    assert len([r for r in caplog.records if r.name == LOGGER_NAME]) >= 8  # the scenarios were recorded
    assert_no_planted("\n".join(lines), "a log record")
    assert_no_planted(captured.out, "stdout")
    assert_no_planted(captured.err, "stderr")


def handler_format(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info:
        text += logging.Formatter().formatException(record.exc_info)
    return text


@pytest.mark.slow
def test_no_planted_secret_reaches_gunicorn_stdout_or_stderr(tmp_path):
    settings = {**auth_env(), "ECS_ADMISSION_WORKERS": "2", "ECS_ADMISSION_AUTH": "required"}
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    with open(out_path, "w") as out, open(err_path, "w") as err, serving(settings, stdout=out, stderr=err) as served:
        port = served.port
        for name, path, body, headers, status in scenarios():
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", data=body or None, headers=headers, method="POST" if body else "GET"
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    code = response.status
            except urllib.error.HTTPError as exc:
                code = exc.code
            assert code == status, name
    stdout, stderr = out_path.read_text(), err_path.read_text()
    assert_no_planted(stdout, "gunicorn stdout")
    assert_no_planted(stderr, "gunicorn stderr")
    decisions = [json.loads(line) for line in stdout.splitlines()]  # stdout is nothing but records
    assert {d["caller"] for d in decisions} == {"ci", "pipeline"}
    assert len(decisions) == 8 and "/v1/admit" in stderr  # the access log is on stderr


def test_caller_controlled_record_fields_are_masked(open_client, caplog):
    family = "deploy-Bearer planted-bearer-token-9c2d"
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        post(open_client, {**CLEAN, "family": family})
    [record] = decision_lines(caplog)
    assert "planted-bearer-token-9c2d" not in json.dumps(record)
    assert record["task_definition"]["family"] == "deploy-Bearer ***"


def test_a_template_gets_one_record_per_task_definition(open_client, caplog):
    template = (EXAMPLES / "template.yaml").read_bytes()
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        response = post(open_client, template, content_type="application/yaml")
    body = response.get_json()
    records = decision_lines(caplog)
    assert len(records) == len(body["results"]) >= 2
    assert {r["decision_id"] for r in records} == {result["decision_id"] for result in body["results"]}
    assert all(r["status"] == response.status_code for r in records)
