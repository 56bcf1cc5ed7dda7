"""Who may call the gate (docs/configuration.md "Authentication").

Two ways to prove it, either accepted wherever both are configured:
- a bearer token (`Authorization: Bearer <token>`). The service holds only SHA-256 digests of the
  tokens, each with a name (`ci=<hex>`); the name is the caller in decision records. Digests come
  from ECS_ADMISSION_TOKEN_SHA256, a file, or a Secrets Manager secret (read once, cached);
- an HMAC-SHA256 signature of the raw body, GitHub-webhook style, for pipelines that sign:
  `X-Ecs-Admission-Signature: sha256=<hex of HMAC(secret, "<timestamp>.<body>")>` with
  `X-Ecs-Admission-Timestamp: <unix seconds>` no further than the tolerance from the clock.

Comparisons are constant-time and run over every configured credential, so timing does not tell
which (or whether any) matched. No credentials: 401 with WWW-Authenticate. Wrong, stale or
malformed-but-present credentials: 403. Authentication required but nothing configured, or the
secret cannot be read: 503 for every protected request (fail closed), never an allow.
Health checks and the OpenAPI document stay open; everything else follows the setting.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, g, jsonify, request

from ecs_admission import metrics
from ecs_admission.config import ConfigError, Settings, parse_named_entries, parse_token_hashes
from ecs_admission.report.records import ANONYMOUS, Caller
from ecs_admission.web.limits import read_body

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Ecs-Admission-Signature"
TIMESTAMP_HEADER = "X-Ecs-Admission-Timestamp"
TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
CHALLENGE = 'Bearer realm="ecs-admission"'
# The run task endpoint authenticates by HCP Terraform's HMAC signature instead (web/terraform.py).
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/v1/terraform/run-task"})
SECRET_RETRY_SECONDS = 30.0


class AuthError(Exception):
    def __init__(self, status: int, error: str, detail: str, reason: str, field: str | None = None):
        self.status = status
        self.error = error
        self.detail = detail
        self.reason = reason  # metrics label: missing, malformed, invalid, stale, unavailable
        self.field = field
        super().__init__(detail)

    def response(self) -> tuple[Response, int]:
        body = jsonify({"error": self.error, "detail": self.detail, "field": self.field})
        if self.status == 401:
            body.headers["WWW-Authenticate"] = CHALLENGE
        return body, self.status


def hash_token(token: str) -> str:
    """The digest to configure for a token (same as `printf %s "$TOKEN" | sha256sum`)."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header value a client sends for `body` (docs/configuration.md shows the openssl equivalent)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _read_file(path: Path, setting: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{setting}={path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None


def _parse_secret_string(text: str, arn: str) -> tuple[tuple[str, str], ...]:
    """A secret holds either {"name": "<sha256 hex>", ...} or name=<hex> lines."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped)
        except ValueError:
            raise ConfigError(f"secret {arn}: not valid JSON") from None
        if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
            raise ConfigError(f"secret {arn}: expected a JSON object of name -> SHA-256 hex")
        stripped = "\n".join(f"{name}={value}" for name, value in document.items())
    return parse_token_hashes(f"secret {arn}", stripped)


def _first_match(candidates: list[tuple[str, bytes]], matches: Callable[[bytes], bool]) -> str | None:
    found = None
    for name, expected in candidates:
        # No early exit: every candidate is compared, so timing does not reveal which matched.
        if matches(expected) and found is None:
            found = name
    return found


class Authenticator:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time):
        self.required = settings.auth != "none"
        self.tolerance = settings.signature_tolerance
        self._clock = clock
        tokens = list(settings.token_hashes)
        if settings.tokens_file is not None:
            setting = "ECS_ADMISSION_TOKENS_FILE"
            tokens += parse_token_hashes(setting, _read_file(settings.tokens_file, setting))
        signing = list(settings.signing_secrets)
        if settings.signing_secrets_file is not None:
            setting = "ECS_ADMISSION_SIGNING_SECRETS_FILE"
            signing += parse_named_entries(setting, _read_file(settings.signing_secrets_file, setting))
        self._tokens = [(name, bytes.fromhex(digest)) for name, digest in tokens]
        self._signing = [(name, secret.encode()) for name, secret in signing]
        self._secret_arn = settings.tokens_secret_arn
        self._secret_tokens: list[tuple[str, bytes]] | None = None
        self._secret_error: str | None = None
        self._secret_retry_at = 0.0
        self._secret_lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self._tokens or self._signing or self._secret_arn)

    def problem(self) -> str | None:
        """Why no request can be authenticated, or None (shown on /readyz)."""
        if self.required and not self.configured:
            return (
                "authentication is required but no credentials are configured: set ECS_ADMISSION_TOKEN_SHA256, "
                "ECS_ADMISSION_TOKENS_FILE, ECS_ADMISSION_TOKENS_SECRET_ARN or ECS_ADMISSION_SIGNING_SECRETS "
                "(or ECS_ADMISSION_AUTH=none for a local run)"
            )
        return None

    def describe(self) -> str:
        if not self.required:
            return "off"
        sources = []
        if self._tokens:
            sources.append(f"{len(self._tokens)} bearer token(s)")
        if self._secret_arn:
            sources.append("bearer tokens from Secrets Manager")
        if self._signing:
            sources.append(f"{len(self._signing)} signing secret(s)")
        return ", ".join(sources) or "required but unconfigured"

    # --- the check -----------------------------------------------------------------------------

    def authenticate(self, req: Request) -> Caller:
        if not self.required:
            return ANONYMOUS
        if not self.configured:
            raise AuthError(503, "auth_not_configured", self.problem() or "", "unavailable")
        authorization = req.headers.get("Authorization")
        if authorization is not None:
            return self._bearer(authorization)
        signature = req.headers.get(SIGNATURE_HEADER)
        if signature is not None:
            return self._signature(signature, req.headers.get(TIMESTAMP_HEADER), req)
        raise AuthError(
            401,
            "unauthorized",
            f"authentication required: send Authorization: Bearer <token> or a {SIGNATURE_HEADER} header",
            "missing",
            field="Authorization",
        )

    def _bearer(self, header: str) -> Caller:
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(
                401, "unauthorized", "the Authorization header must be 'Bearer <token>'", "malformed", "Authorization"
            )
        candidates = self._tokens + self._tokens_from_secret()
        # WSGI hands headers over as latin-1 text: encoding back gives the bytes the client sent.
        digest = hashlib.sha256(token.encode("latin-1", "replace")).digest()
        name = _first_match(candidates, lambda expected: hmac.compare_digest(digest, expected))
        if name is None:
            raise AuthError(403, "forbidden", "the bearer token is not accepted", "invalid", "Authorization")
        return Caller(name, "bearer")

    def _signature(self, header: str, timestamp: str | None, req: Request) -> Caller:
        algorithm, _, given = header.strip().partition("=")
        if algorithm.lower() != "sha256" or not given:
            raise AuthError(
                401, "unauthorized", f"{SIGNATURE_HEADER} must be 'sha256=<hex>'", "malformed", SIGNATURE_HEADER
            )
        # ASCII digits only: str.isdigit() also accepts "¹" or "٣", which int() then refuses (was a 500).
        if timestamp is None or not TIMESTAMP_RE.fullmatch(timestamp.strip()):
            raise AuthError(
                401,
                "unauthorized",
                f"a signed request needs {TIMESTAMP_HEADER}: the Unix time in seconds that was signed",
                "malformed",
                TIMESTAMP_HEADER,
            )
        timestamp = timestamp.strip()
        if abs(self._clock() - int(timestamp)) > self.tolerance:
            raise AuthError(
                403,
                "forbidden",
                f"{TIMESTAMP_HEADER} is more than {self.tolerance} s from the server's clock (replay protection)",
                "stale",
                TIMESTAMP_HEADER,
            )
        if not self._signing:
            raise AuthError(403, "forbidden", "signed requests are not accepted here", "invalid", SIGNATURE_HEADER)
        message = timestamp.encode() + b"." + read_body(req)
        given_bytes = given.strip().lower().encode("latin-1", "replace")
        name = _first_match(
            self._signing,
            lambda secret: hmac.compare_digest(
                hmac.new(secret, message, hashlib.sha256).hexdigest().encode(), given_bytes
            ),
        )
        if name is None:
            raise AuthError(403, "forbidden", "the signature does not match the body", "invalid", SIGNATURE_HEADER)
        return Caller(name, "signature")

    def _tokens_from_secret(self) -> list[tuple[str, bytes]]:
        if self._secret_arn is None:
            return []
        if self._secret_tokens is not None:
            return self._secret_tokens
        with self._secret_lock:
            if self._secret_tokens is not None:
                return self._secret_tokens
            if self._secret_error is not None and self._clock() < self._secret_retry_at:
                raise AuthError(503, "auth_unavailable", self._secret_error, "unavailable")
            try:
                self._secret_tokens = self._fetch_secret(self._secret_arn)
                self._secret_error = None
                log.info("loaded %d bearer token digest(s) from %s", len(self._secret_tokens), self._secret_arn)
                return self._secret_tokens
            except ConfigError as exc:
                self._secret_error = f"bearer tokens could not be read: {exc}"
            except Exception as exc:  # boto3 raises many kinds; all of them mean "cannot authenticate"
                code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
                self._secret_error = f"bearer tokens could not be read from Secrets Manager: {code}"
            self._secret_retry_at = self._clock() + SECRET_RETRY_SECONDS
            log.error("%s (%s); retrying in %.0f s", self._secret_error, self._secret_arn, SECRET_RETRY_SECONDS)
            raise AuthError(503, "auth_unavailable", self._secret_error, "unavailable")

    @staticmethod
    def _fetch_secret(arn: str) -> list[tuple[str, bytes]]:
        # Only a deployment that names a secret pays for importing boto3.
        from ecs_admission.facts.iam import aws_session

        region = arn.split(":")[3] if arn.count(":") >= 6 else None
        # A session of its own: boto3.client() would create and keep the process-wide default
        # session, freezing whatever credentials the environment had at that moment. It shares the
        # process's botocore loader (facts/iam.py), so the service models are parsed once.
        client = aws_session().client("secretsmanager", region_name=region or None)
        value: dict[str, Any] = client.get_secret_value(SecretId=arn)
        text = value.get("SecretString")
        if text is None:
            text = bytes(value.get("SecretBinary") or b"").decode("utf-8", "replace")
        return [(name, bytes.fromhex(digest)) for name, digest in _parse_secret_string(text, arn)]


def install(app: Flask, authenticator: Authenticator, open_path: Callable[[str], bool] | None = None) -> None:
    """Check every request but the open paths before it reaches a route; g.caller is who asked.

    `open_path` names more paths to leave open (the playground's page and assets, when it is on).
    """

    @app.before_request
    def _authenticate() -> Any:
        if request.path in OPEN_PATHS or (open_path is not None and open_path(request.path)):
            return None
        try:
            g.caller = authenticator.authenticate(request)
        except AuthError as exc:
            metrics.auth_failure(exc.reason)
            return exc.response()
        return None


def current_caller() -> Caller:
    return getattr(g, "caller", ANONYMOUS)
