"""Every setting, read from the environment, with its documented default.

One place so that docs/configuration.md's settings table, the app factory and the CLI agree.
A value that cannot be parsed stops start-up with a message naming the variable:
a gate that silently falls back to a default may be a gate that is not enforcing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

PREFIX = "ECS_ADMISSION_"
MODES = ("enforce", "dry-run")
FAILURE_POLICIES = ("fail", "ignore")
IAM_LOOKUP_MODES = ("auto", "on", "off")
AUTH_MODES = ("required", "none")
CREDENTIAL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")
SHA256_HEX_RE = re.compile(r"^[0-9a-fA-F]{64}$")


class ConfigError(ValueError):
    """A setting has a value the service cannot use."""


def parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r}: expected true or false")


def parse_int(name: str, raw: str, minimum: int = 0) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def parse_float(name: str, raw: str, minimum: float = 0.0) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def parse_choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in choices:
        raise ConfigError(f"{name}={raw!r}: expected one of {', '.join(choices)}")
    return value


def parse_opa_url(name: str, raw: str) -> str:
    """An http(s) URL naming only scheme, host and port: the client adds /v1/data/... itself."""
    parsed = urlsplit(raw.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"{name}={raw!r}: expected http://HOST:PORT or https://HOST:PORT")
    try:
        parsed.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: the port is not a number between 0 and 65535") from None
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment or parsed.username or parsed.password:
        raise ConfigError(f"{name}={raw!r}: give only scheme, host and port (no path, query or credentials)")
    return f"{parsed.scheme}://{parsed.netloc}"


def parse_named_entries(name: str, raw: str) -> tuple[tuple[str, str], ...]:
    """`name=value` entries separated by commas or newlines (blank lines and `#` comments skipped).

    Used for token hashes and signing secrets; the name is what decision records show as the
    caller, so it must be present and unique. Values are never echoed in an error message.
    """
    entries: dict[str, str] = {}
    for number, line in enumerate(raw.replace(",", "\n").splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        label, sep, value = entry.partition("=")
        label, value = label.strip(), value.strip()
        if not sep or not value:
            raise ConfigError(f"{name}: entry {number} is not name=value")
        if not CREDENTIAL_NAME_RE.match(label):
            raise ConfigError(f"{name}: entry {number}: name {label[:64]!r} must be letters, digits, _.:@- (max 64)")
        if label in entries:
            raise ConfigError(f"{name}: name {label!r} is given twice")
        entries[label] = value
    return tuple(entries.items())


def parse_token_hashes(name: str, raw: str) -> tuple[tuple[str, str], ...]:
    """`name=<sha256 hex of the token>` entries: the service never holds a token in clear."""
    entries = parse_named_entries(name, raw)
    for label, value in entries:
        if not SHA256_HEX_RE.match(value):
            raise ConfigError(f"{name}: {label!r} is not a SHA-256 hex digest (64 hex digits)")
    return tuple((label, value.lower()) for label, value in entries)



def env_setting(env: Mapping[str, str], name: str) -> str | None:
    """The variable's value, or None when it is unset or empty (empty means "the default")."""
    raw = env.get(name)
    return raw if raw not in (None, "") else None

@dataclass(frozen=True)
class Settings:
    """Service configuration. Field docs double as docs/configuration.md's settings table."""

    # Directory of .rego modules and data documents; empty means the policies shipped with the package.
    policy_dir: Path | None = None
    # Default mode when a request does not ask for dry-run: "enforce" or "dry-run".
    default_mode: str = "enforce"
    # Largest request body accepted, in bytes (413 above it).
    max_body_bytes: int = 1024 * 1024
    # Address and port `ecs-admission serve` binds.
    host: str = "127.0.0.1"
    port: int = 8080
    # Gunicorn worker processes; each compiles the policies once.
    workers: int = 2
    # Gunicorn worker timeout, seconds.
    worker_timeout: float = 30.0
    # Threads per worker (gthread): connections served at once by each worker; a stalled client
    # holds one until the read timeout (docs/hardening.md).
    threads: int = 32
    # Seconds a client has to send a whole request (headers and body) once it has begun.
    read_timeout: float = 5.0
    # Requests answered on one keep-alive connection before it is closed (Connection: close), so a
    # client reconnects and the workers share the load (web/worker.py); 0 never closes one.
    keepalive_requests: int = 50
    # Deploy account and region assumed when a request carries no context.
    default_account: str | None = None
    default_region: str | None = None
    # OPA sidecar base URL (http://127.0.0.1:8181); unset means the embedded engine.
    opa_url: str | None = None
    # Seconds to wait for a TCP connection to OPA, and for its answer once connected.
    opa_connect_timeout: float = 0.5
    opa_read_timeout: float = 1.0
    # Keep-alive connections to OPA kept per worker (sync workers use one).
    opa_pool_size: int = 4
    # What a request gets when the engine cannot decide: "fail" (503, never an allow) or
    # "ignore" (allowed with warning ECS-GATE-001, logged and counted; Gatekeeper's failurePolicy).
    failure_policy: str = "fail"
    # A running gate the CodePipeline Lambda asks instead of evaluating in-process (empty: in-process).
    gate_url: str | None = None
    # Seconds to wait for that gate; `check --url` uses it as its --timeout default.
    gate_timeout: float = 10.0
    # Bearer token for that gate (the Lambda's; the CLI takes --token-env). Never printed.
    gate_token: str | None = field(default=None, repr=False)
    # IAM role lookups: "on", "off", or "auto" (on when the process has an AWS Region and credentials).
    iam_lookup: str = "auto"
    # Seconds a looked-up role stays cached per worker, and how many roles the cache holds.
    iam_cache_ttl: float = 300.0
    iam_cache_size: int = 512
    # Total seconds one request may spend on IAM lookups; past it the role's facts are unknown.
    iam_budget_seconds: float = 3.0
    # botocore connect/read timeouts (seconds) and attempts per call (adaptive retry mode).
    iam_connect_timeout: float = 1.0
    iam_read_timeout: float = 2.0
    iam_max_attempts: int = 3
    # Who may call /v1/admit, /v1/policies and /metrics: "required" (a bearer token or a signed
    # body) or "none" (local runs only; logged loudly at start-up).
    auth: str = "required"
    # Accepted bearer tokens as (name, sha256 hex) pairs, from ECS_ADMISSION_TOKEN_SHA256.
    token_hashes: tuple[tuple[str, str], ...] = ()
    # A file of name=<sha256 hex> lines, read at start-up.
    tokens_file: Path | None = None
    # A Secrets Manager secret holding name=<sha256 hex> lines or a JSON object; read once, cached.
    tokens_secret_arn: str | None = None
    # HMAC-SHA256 body signing secrets as (name, secret) pairs, from ECS_ADMISSION_SIGNING_SECRETS.
    signing_secrets: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # A file of name=secret lines, read at start-up.
    signing_secrets_file: Path | None = None
    # Largest accepted difference between a signed request's timestamp and the clock, seconds.
    signature_tolerance: int = 300
    # One JSON line per decision on stdout (logger ecs_admission.decisions).
    decision_log: bool = True
    # Seconds between checks of the policy directory for changes; 0 turns polling off.
    policy_poll_seconds: float = 0.0
    # Seconds one in-process evaluation may take; past it the request fails closed (503) and the
    # engine is replaced (engines/deadline.py). The sidecar is bounded by opa_read_timeout.
    eval_timeout: float = 2.0
    # Seconds a worker may spend loading, compiling and self-checking its policies at start-up.
    policy_load_timeout: float = 20.0
    # GET /playground, the decision page in a browser (docs/playground.md): off unless set; `make
    # serve` turns it on. It never includes the Rego editor (only `ecs-admission playground` has that).
    playground: bool = False
    # The server's temporary directory (metrics, policy snapshots, gunicorn's heartbeat files);
    # unset: TMPDIR, else /tmp. Proven writable at start-up (docs/hardening.md).
    tmp_dir: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(suffix: str) -> str | None:
            return env_setting(env, PREFIX + suffix)

        values: dict[str, object] = {}
        if (raw := get("POLICY_DIR")) is not None:
            values["policy_dir"] = Path(raw)
        if (raw := get("MODE")) is not None:
            values["default_mode"] = parse_choice(PREFIX + "MODE", raw, MODES)
        if (raw := get("MAX_BODY_BYTES")) is not None:
            values["max_body_bytes"] = parse_int(PREFIX + "MAX_BODY_BYTES", raw, minimum=1024)
        if (raw := get("HOST")) is not None:
            values["host"] = raw
        if (raw := get("PORT")) is not None:
            values["port"] = parse_int(PREFIX + "PORT", raw, minimum=1)
        if (raw := get("WORKERS")) is not None:
            values["workers"] = parse_int(PREFIX + "WORKERS", raw, minimum=1)
        if (raw := get("WORKER_TIMEOUT")) is not None:
            values["worker_timeout"] = parse_float(PREFIX + "WORKER_TIMEOUT", raw, minimum=1.0)
        if (raw := get("THREADS")) is not None:
            values["threads"] = parse_int(PREFIX + "THREADS", raw, minimum=1)
        if (raw := get("READ_TIMEOUT")) is not None:
            values["read_timeout"] = parse_float(PREFIX + "READ_TIMEOUT", raw, minimum=0.1)
        if (raw := get("KEEPALIVE_REQUESTS")) is not None:
            values["keepalive_requests"] = parse_int(PREFIX + "KEEPALIVE_REQUESTS", raw, minimum=0)
        if (raw := get("ACCOUNT")) is not None:
            values["default_account"] = raw
        if (raw := get("REGION")) is not None:
            values["default_region"] = raw
        if (raw := get("OPA_URL")) is not None:
            values["opa_url"] = parse_opa_url(PREFIX + "OPA_URL", raw)
        if (raw := get("OPA_CONNECT_TIMEOUT")) is not None:
            values["opa_connect_timeout"] = parse_float(PREFIX + "OPA_CONNECT_TIMEOUT", raw, minimum=0.001)
        if (raw := get("OPA_READ_TIMEOUT")) is not None:
            values["opa_read_timeout"] = parse_float(PREFIX + "OPA_READ_TIMEOUT", raw, minimum=0.001)
        if (raw := get("OPA_POOL_SIZE")) is not None:
            values["opa_pool_size"] = parse_int(PREFIX + "OPA_POOL_SIZE", raw, minimum=1)
        if (raw := get("FAILURE_POLICY")) is not None:
            values["failure_policy"] = parse_choice(PREFIX + "FAILURE_POLICY", raw, FAILURE_POLICIES)
        if (raw := get("GATE_URL")) is not None:
            values["gate_url"] = raw
        if (raw := get("GATE_TIMEOUT")) is not None:
            values["gate_timeout"] = parse_float(PREFIX + "GATE_TIMEOUT", raw, minimum=0.1)
        if (raw := get("GATE_TOKEN")) is not None:
            values["gate_token"] = raw
        if (raw := get("IAM_LOOKUP")) is not None:
            values["iam_lookup"] = parse_choice(PREFIX + "IAM_LOOKUP", raw, IAM_LOOKUP_MODES)
        if (raw := get("IAM_CACHE_TTL")) is not None:
            values["iam_cache_ttl"] = parse_float(PREFIX + "IAM_CACHE_TTL", raw, minimum=0.0)
        if (raw := get("IAM_CACHE_SIZE")) is not None:
            values["iam_cache_size"] = parse_int(PREFIX + "IAM_CACHE_SIZE", raw, minimum=0)
        if (raw := get("IAM_BUDGET_SECONDS")) is not None:
            values["iam_budget_seconds"] = parse_float(PREFIX + "IAM_BUDGET_SECONDS", raw, minimum=0.1)
        if (raw := get("IAM_CONNECT_TIMEOUT")) is not None:
            values["iam_connect_timeout"] = parse_float(PREFIX + "IAM_CONNECT_TIMEOUT", raw, minimum=0.1)
        if (raw := get("IAM_READ_TIMEOUT")) is not None:
            values["iam_read_timeout"] = parse_float(PREFIX + "IAM_READ_TIMEOUT", raw, minimum=0.1)
        if (raw := get("IAM_MAX_ATTEMPTS")) is not None:
            values["iam_max_attempts"] = parse_int(PREFIX + "IAM_MAX_ATTEMPTS", raw, minimum=1)
        if (raw := get("AUTH")) is not None:
            values["auth"] = parse_choice(PREFIX + "AUTH", raw, AUTH_MODES)
        if (raw := get("TOKEN_SHA256")) is not None:
            values["token_hashes"] = parse_token_hashes(PREFIX + "TOKEN_SHA256", raw)
        if (raw := get("TOKENS_FILE")) is not None:
            values["tokens_file"] = Path(raw)
        if (raw := get("TOKENS_SECRET_ARN")) is not None:
            if not raw.startswith("arn:") or ":secretsmanager:" not in raw:
                raise ConfigError(f"{PREFIX}TOKENS_SECRET_ARN={raw!r}: expected a Secrets Manager secret ARN")
            values["tokens_secret_arn"] = raw
        if (raw := get("SIGNING_SECRETS")) is not None:
            values["signing_secrets"] = parse_named_entries(PREFIX + "SIGNING_SECRETS", raw)
        if (raw := get("SIGNING_SECRETS_FILE")) is not None:
            values["signing_secrets_file"] = Path(raw)
        if (raw := get("SIGNATURE_TOLERANCE_SECONDS")) is not None:
            values["signature_tolerance"] = parse_int(PREFIX + "SIGNATURE_TOLERANCE_SECONDS", raw, minimum=1)
        if (raw := get("DECISION_LOG")) is not None:
            values["decision_log"] = parse_bool(PREFIX + "DECISION_LOG", raw)
        if (raw := get("POLICY_POLL_SECONDS")) is not None:
            values["policy_poll_seconds"] = parse_float(PREFIX + "POLICY_POLL_SECONDS", raw, minimum=0.0)
        if (raw := get("EVAL_TIMEOUT")) is not None:
            values["eval_timeout"] = parse_float(PREFIX + "EVAL_TIMEOUT", raw, minimum=0.01)
        if (raw := get("POLICY_LOAD_TIMEOUT")) is not None:
            values["policy_load_timeout"] = parse_float(PREFIX + "POLICY_LOAD_TIMEOUT", raw, minimum=0.1)
        if (raw := get("PLAYGROUND")) is not None:
            values["playground"] = parse_bool(PREFIX + "PLAYGROUND", raw)
        if (raw := get("TMP_DIR")) is not None:
            values["tmp_dir"] = raw
        return cls(**values)  # type: ignore[arg-type]

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
