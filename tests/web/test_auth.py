"""Who may call: bearer token digests, HMAC body signatures, the explicit opt-out, failing closed."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import boto3
import pytest
from flask import Flask
from flask import request as flask_request
from moto.server import ThreadedMotoServer

from ecs_admission.cli import commands as cli
from ecs_admission.config import ConfigError, Settings
from ecs_admission.facts.iam import aws_session
from ecs_admission.report.records import LOGGER_NAME
from ecs_admission.web import auth, create_app
from tests.conftest import example

CLEAN = json.dumps(example("taskdef-clean.json"))
CI_TOKEN = "ci-token-5d1f0c2e9a"
OPS_TOKEN = "ops-token-77b3e0"
SIGNING_SECRET = "signing-secret-0b8e4f"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_settings(**overrides) -> Settings:
    return Settings(token_hashes=(("ci", digest(CI_TOKEN)), ("ops", digest(OPS_TOKEN))), **overrides)


def admit(client, headers=None, body: str = CLEAN):
    return client.post("/v1/admit", data=body, headers={"Content-Type": "application/json", **(headers or {})})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def token_app():
    # One app for the module's token tests (each gets its own client): with fixed token digests the
    # authenticator keeps no state between requests, and what a test asserts is its own answers.
    return create_app(token_settings())


@pytest.fixture()
def token_client(token_app):
    return token_app.test_client()


def test_authentication_is_required_by_default():
    assert Settings().auth == "required"
    assert Settings.from_env({}).auth == "required"


def test_no_credentials_is_401_with_a_challenge(token_client):
    response = admit(token_client)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"] == "unauthorized"
    assert set(response.get_json()) == {"error", "detail", "field"}


def test_wrong_token_is_403(token_client):
    response = admit(token_client, bearer("not-the-token"))
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"


@pytest.mark.parametrize("header", ["Basic Y2k6dG9rZW4=", "Bearer", "Bearer   ", CI_TOKEN, "Token " + CI_TOKEN])
def test_malformed_authorization_is_401(token_client, header):
    response = admit(token_client, {"Authorization": header})
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


@pytest.mark.parametrize(("token", "name"), [(CI_TOKEN, "ci"), (OPS_TOKEN, "ops")])
def test_right_token_is_judged_and_named_in_the_record(token_client, caplog, token, name):
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        response = admit(token_client, bearer(token))
    assert response.status_code == 200 and response.get_json()["allowed"] is True
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == LOGGER_NAME]
    assert records[-1]["caller"] == name and records[-1]["auth"] == "bearer"
    assert all(token not in r.getMessage() for r in caplog.records)


def test_scheme_is_case_insensitive(token_client):
    assert admit(token_client, {"Authorization": f"bearer {CI_TOKEN}"}).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json"])
def test_health_and_the_api_description_stay_open(token_client, path):
    assert token_client.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/v1/policies", "/metrics"])
def test_policies_and_metrics_follow_the_setting(token_client, path):
    assert token_client.get(path).status_code == 401
    assert token_client.get(path, headers=bearer("wrong")).status_code == 403
    assert token_client.get(path, headers=bearer(CI_TOKEN)).status_code == 200
    open_client = create_app(Settings(auth="none")).test_client()
    assert open_client.get(path).status_code == 200


def test_every_candidate_is_compared(monkeypatch, token_client):
    # Constant time: no early exit once a token matched, so timing does not say which one did.
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    assert admit(token_client, bearer(CI_TOKEN)).status_code == 200
    assert len(calls) == 2


def test_auth_none_lets_anyone_in_and_says_so_loudly(caplog):
    with caplog.at_level(logging.WARNING):
        client = create_app(Settings(auth="none")).test_client()
    assert any("AUTHENTICATION IS OFF" in r.getMessage() for r in caplog.records)
    assert admit(client).status_code == 200


def test_required_but_unconfigured_fails_closed(caplog):
    with caplog.at_level(logging.ERROR):
        client = create_app(Settings()).test_client()
    assert any("no credentials are configured" in r.getMessage() for r in caplog.records)
    response = admit(client, bearer(CI_TOKEN))
    assert response.status_code == 503
    assert response.get_json()["error"] == "auth_not_configured"
    assert "ECS_ADMISSION_AUTH=none" in response.get_json()["detail"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "no credentials" in ready.get_json()["reason"]
    assert client.get("/healthz").status_code == 200


# --- configuration ---------------------------------------------------------------------------


def test_token_hashes_from_the_environment():
    settings = Settings.from_env(
        {"ECS_ADMISSION_TOKEN_SHA256": f"ci={digest(CI_TOKEN)}, ops={digest(OPS_TOKEN).upper()}"}
    )
    assert settings.token_hashes == (("ci", digest(CI_TOKEN)), ("ops", digest(OPS_TOKEN)))
    assert admit(create_app(settings).test_client(), bearer(OPS_TOKEN)).status_code == 200


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ECS_ADMISSION_TOKEN_SHA256", "ci=abc", "not a SHA-256 hex digest"),
        ("ECS_ADMISSION_TOKEN_SHA256", digest("x"), "not name=value"),
        ("ECS_ADMISSION_TOKEN_SHA256", f"ci={digest('a')},ci={digest('b')}", "given twice"),
        ("ECS_ADMISSION_TOKEN_SHA256", f"bad name={digest('a')}", "must be letters"),
        ("ECS_ADMISSION_AUTH", "maybe", "expected one of required, none"),
        ("ECS_ADMISSION_TOKENS_SECRET_ARN", "not-an-arn", "Secrets Manager secret ARN"),
        ("ECS_ADMISSION_SIGNING_SECRETS", "no-name", "not name=value"),
        ("ECS_ADMISSION_SIGNATURE_TOLERANCE_SECONDS", "0", "at least 1"),
    ],
)
def test_bad_settings_stop_start_up_naming_the_variable(variable, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        Settings.from_env({variable: value})
    assert variable in str(info.value) or "entry" in str(info.value)
    if "SHA256" in variable:
        assert digest("a") not in str(info.value)


def test_tokens_file(tmp_path):
    path = tmp_path / "tokens"
    path.write_text(f"# deploy pipelines\nci={digest(CI_TOKEN)}\n\nops={digest(OPS_TOKEN)}\n")
    client = create_app(Settings(tokens_file=path)).test_client()
    assert admit(client, bearer(OPS_TOKEN)).status_code == 200
    assert admit(client, bearer("nope")).status_code == 403


def test_unreadable_tokens_file_stops_start_up(tmp_path):
    with pytest.raises(ConfigError, match="ECS_ADMISSION_TOKENS_FILE"):
        create_app(Settings(tokens_file=tmp_path / "missing"))


def test_serve_refuses_to_start_with_an_unreadable_tokens_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ECS_ADMISSION_TOKENS_FILE", str(tmp_path / "missing"))
    assert cli.main(["serve", "--port", "1"]) == 2
    assert "ECS_ADMISSION_TOKENS_FILE" in capsys.readouterr().err


# --- Secrets Manager, over real HTTP to moto ----------------------------------------------------


@pytest.fixture()
def secrets_manager(monkeypatch):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
    client = aws_session().client("secretsmanager", region_name="eu-west-1", endpoint_url=endpoint)
    yield client
    server.stop()


def test_tokens_from_a_secrets_manager_secret_are_read_once(secrets_manager):
    arn = secrets_manager.create_secret(
        Name="ecs-admission/tokens", SecretString=json.dumps({"deploy": digest(CI_TOKEN)})
    )["ARN"]
    default_session = boto3.DEFAULT_SESSION
    client = create_app(Settings(tokens_secret_arn=arn)).test_client()
    assert admit(client, bearer(CI_TOKEN)).status_code == 200
    # The lookup used a session of its own: the process-wide default (and its credentials) is untouched.
    assert boto3.DEFAULT_SESSION is default_session
    # Cached: the secret is gone but the worker keeps the digests it read.
    secrets_manager.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert admit(client, bearer(CI_TOKEN)).status_code == 200
    assert admit(client, bearer(OPS_TOKEN)).status_code == 403


def test_secret_in_line_format(secrets_manager):
    arn = secrets_manager.create_secret(Name="tokens-lines", SecretString=f"ops={digest(OPS_TOKEN)}\n")["ARN"]
    client = create_app(Settings(tokens_secret_arn=arn)).test_client()
    assert admit(client, bearer(OPS_TOKEN)).status_code == 200


def test_unreadable_secret_fails_closed(secrets_manager, caplog):
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:absent-AbCdEf"
    client = create_app(Settings(tokens_secret_arn=arn)).test_client()
    with caplog.at_level(logging.ERROR):
        response = admit(client, bearer(CI_TOKEN))
    assert response.status_code == 503
    assert response.get_json()["error"] == "auth_unavailable"
    assert "ResourceNotFoundException" in response.get_json()["detail"]
    assert any("retrying in" in r.getMessage() for r in caplog.records)


def test_secret_lookup_is_retried_after_an_interval_not_on_every_request(secrets_manager):
    arn = secrets_manager.create_secret(Name="later", SecretString="{")["ARN"]  # unreadable content first
    now = [1_000_000.0]
    authenticator = auth.Authenticator(Settings(tokens_secret_arn=arn), clock=lambda: now[0])
    app = Flask("t")

    def attempt() -> int:
        with app.test_request_context("/v1/admit", headers=bearer(CI_TOKEN)):
            try:
                authenticator.authenticate(flask_request)
            except auth.AuthError as exc:
                return exc.status
            return 200

    assert attempt() == 503
    secrets_manager.put_secret_value(SecretId=arn, SecretString=json.dumps({"deploy": digest(CI_TOKEN)}))
    assert attempt() == 503  # inside the retry interval: no new lookup
    now[0] += auth.SECRET_RETRY_SECONDS + 1
    assert attempt() == 200


# --- HMAC body signatures ------------------------------------------------------------------------


def signed(body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Ecs-Admission-Signature": f"sha256={mac}", "X-Ecs-Admission-Timestamp": str(timestamp)}


@pytest.fixture(scope="module")
def signing_app():
    # Shared as token_app is: signatures are checked against the secret and the clock, no state kept.
    return create_app(Settings(signing_secrets=(("pipeline", SIGNING_SECRET),)))


@pytest.fixture()
def signing_client(signing_app):
    return signing_app.test_client()


def test_signed_body_is_accepted_and_named(signing_client, caplog):
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        response = admit(signing_client, signed(CLEAN))
    assert response.status_code == 200
    record = json.loads([r for r in caplog.records if r.name == LOGGER_NAME][-1].getMessage())
    assert record["caller"] == "pipeline" and record["auth"] == "signature"


def test_sign_helper_matches_the_documented_scheme():
    assert (
        auth.sign(SIGNING_SECRET, 1700000000, b"{}") == signed("{}", timestamp=1700000000)["X-Ecs-Admission-Signature"]
    )


def test_tampered_body_is_403(signing_client):
    headers = signed(CLEAN)
    response = admit(signing_client, headers, body=CLEAN.replace("payments", "paymentz"))
    assert response.status_code == 403


def test_wrong_secret_is_403(signing_client):
    assert admit(signing_client, signed(CLEAN, secret="other")).status_code == 403


@pytest.mark.parametrize("skew", [-301, 301, -10_000])
def test_stale_or_future_timestamp_is_403(signing_client, skew):
    response = admit(signing_client, signed(CLEAN, timestamp=int(time.time()) + skew))
    assert response.status_code == 403
    assert "replay" in response.get_json()["detail"]


def test_timestamp_within_the_window_is_accepted(signing_client):
    assert admit(signing_client, signed(CLEAN, timestamp=int(time.time()) - 200)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Ecs-Admission-Signature": "sha256=00"},
        {"X-Ecs-Admission-Signature": "sha1=00", "X-Ecs-Admission-Timestamp": "1"},
        {"X-Ecs-Admission-Signature": "sha256=00", "X-Ecs-Admission-Timestamp": "yesterday"},
    ],
)
def test_malformed_signature_headers_are_401(signing_client, headers):
    assert admit(signing_client, headers).status_code == 401


def test_signature_over_a_chunked_body_over_the_limit_is_413():
    import io

    client = create_app(Settings(signing_secrets=(("p", "s"),), max_body_bytes=2048)).test_client()
    body = b'{"a": "' + b"x" * 5000 + b'"}'
    response = client.post(
        "/v1/admit",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked", **signed(body.decode(), "s")},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413


def test_signing_secrets_file_and_both_methods_together(tmp_path):
    path = tmp_path / "signing"
    path.write_text("pipeline=" + SIGNING_SECRET + "\n")
    client = create_app(token_settings(signing_secrets_file=path)).test_client()
    assert admit(client, signed(CLEAN)).status_code == 200
    assert admit(client, bearer(CI_TOKEN)).status_code == 200
    assert admit(client).status_code == 401


def test_signature_when_only_tokens_are_configured_is_403(token_client):
    assert admit(token_client, signed(CLEAN)).status_code == 403
