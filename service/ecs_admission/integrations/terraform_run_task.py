"""HCP Terraform / Terraform Enterprise run tasks: the gate as a run task between plan and apply.

HCP Terraform POSTs a signed payload (`X-TFC-Task-Signature`: HMAC-SHA512 of the body with the
run task's key) and expects 200 at once. The gate then fetches the plan JSON from
`plan_json_api_url` with the run's `access_token` (that endpoint answers with a redirect to a
temporary download URL), judges every task definition in it, and PATCHes
`task_result_callback_url` with a JSON:API `task-results` body: `passed` or `failed`, a message,
a details URL and one outcome per finding.

Only hosts on an allow-list (`ECS_ADMISSION_TFC_ALLOWED_HOSTS`, HCP Terraform's by default) are
ever contacted for the payload's URLs, so a payload cannot make the gate reach anywhere else; a
download that fails, a plan that cannot be read, or an engine that cannot decide reports
`failed` with the reason, never `passed`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ecs_admission.config import ConfigError, env_setting
from ecs_admission.decision import Decision, Finding
from ecs_admission.errors import EngineError, InputError
from ecs_admission.gate import Gate
from ecs_admission.gate.terraform import PlanDecision, decide_plan
from ecs_admission.inputs.terraform import is_plan, load_plan
from ecs_admission.integrations.gate_client import no_redirect
from ecs_admission.parsing.bounded_json import parse_json

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-TFC-Task-Signature"
PREFIX = "ECS_ADMISSION_TFC_"
DEFAULT_HOSTS = ("app.terraform.io",)
# HCP Terraform sends this token (and stage "test") when a run task is created or its URL changed.
VERIFICATION_TOKEN = "test-token"
JSON_API = "application/vnd.api+json"
MAX_REDIRECTS = 3
# What HCP Terraform shows of a result; longer text is cut, not refused.
MAX_MESSAGE_CHARS = 500
MAX_OUTCOMES = 50
MAX_BODY_CHARS = 4000
CALLBACK_ATTEMPTS = 3


@dataclass(frozen=True)
class RunTaskSettings:
    """ECS_ADMISSION_TFC_* (docs/terraform.md#settings)."""

    hmac_key: str | None = field(default=None, repr=False)
    allowed_hosts: tuple[str, ...] = DEFAULT_HOSTS
    details_url: str | None = None
    timeout: float = 10.0
    max_plan_bytes: int = 4 * 1024 * 1024
    workers: int = 2
    queue: int = 16

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RunTaskSettings:
        env = os.environ if environ is None else environ

        def get(suffix: str) -> str | None:
            return env_setting(env, PREFIX + suffix)

        key = get("HMAC_KEY")
        key_file = get("HMAC_KEY_FILE")
        if key_file and not key:
            try:
                with open(key_file, encoding="utf-8") as handle:
                    key = handle.read().strip() or None
            except OSError as exc:
                raise ConfigError(f"{PREFIX}HMAC_KEY_FILE={key_file}: cannot read: {exc.strerror}") from None
        hosts = get("ALLOWED_HOSTS")
        allowed = tuple(h.strip().lower() for h in hosts.split(",") if h.strip()) if hosts else DEFAULT_HOSTS
        for entry in allowed:
            _origin(entry)  # refuse a malformed entry at start-up, not at the first run
        return cls(
            hmac_key=key,
            allowed_hosts=allowed,
            details_url=get("DETAILS_URL"),
            timeout=_number(get("TIMEOUT"), "TIMEOUT", 10.0),
            max_plan_bytes=int(_number(get("MAX_PLAN_BYTES"), "MAX_PLAN_BYTES", 4 * 1024 * 1024)),
        )


def _number(raw: str | None, name: str, default: float) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a number, got {raw[:40]!r}") from None
    if value <= 0:
        raise ConfigError(f"{PREFIX}{name} must be positive")
    return value


def _origin(entry: str) -> tuple[str, str, int]:
    """An allow-list entry: `host` (https, port 443) or `scheme://host:port` (how a test or a TFE on
    another port is named)."""
    if "://" not in entry:
        entry = f"https://{entry}"
    parts = urllib.parse.urlsplit(entry)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(f"{PREFIX}ALLOWED_HOSTS: {entry!r} is not a host or scheme://host:port")
    return parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def allowed(url: str, settings: RunTaskSettings) -> bool:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    if parts.username or parts.password:
        return False
    origin = (parts.scheme, (parts.hostname or "").lower(), port)
    return any(_origin(entry) == origin for entry in settings.allowed_hosts)


def verify_signature(body: bytes, signature: str | None, key: str) -> bool:
    """HMAC-SHA512 of the raw body, hex encoded, compared in constant time."""
    if not signature:
        return False
    expected = hmac.new(key.encode("utf-8"), body, hashlib.sha512).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


@dataclass(frozen=True)
class RunTaskRequest:
    access_token: str = field(repr=False)
    stage: str
    task_result_callback_url: str
    plan_json_api_url: str | None
    run_id: str
    run_app_url: str | None
    organization: str
    workspace: str
    enforcement: str
    is_speculative: bool

    @property
    def verification(self) -> bool:
        return self.access_token == VERIFICATION_TOKEN or self.stage == "test"


def parse_payload(body: bytes) -> RunTaskRequest:
    """The run task request (payload_version 1). InputError naming the field when it is not one."""
    document = parse_json(body)
    if not isinstance(document, dict):
        raise InputError("a run task payload is a JSON object", field="/")
    if document.get("payload_version") != 1:
        raise InputError("only payload_version 1 is understood", field="/payload_version")

    def text(name: str, required: bool = True) -> str | None:
        value = document.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise InputError("must be a non-empty string", field=f"/{name}")
        return value

    return RunTaskRequest(
        access_token=text("access_token") or "",
        stage=text("stage") or "",
        task_result_callback_url=text("task_result_callback_url") or "",
        plan_json_api_url=text("plan_json_api_url", required=False),
        run_id=str(document.get("run_id") or "?")[:80],
        run_app_url=text("run_app_url", required=False),
        organization=str(document.get("organization_name") or "?")[:80],
        workspace=str(document.get("workspace_name") or "?")[:90],
        enforcement=str(document.get("task_result_enforcement_level") or "?")[:20],
        is_speculative=document.get("is_speculative") is True,
    )


def refused_urls(run: RunTaskRequest, settings: RunTaskSettings) -> list[str]:
    """The payload's URLs the gate will not contact (host not on the allow-list), as fields."""
    urls = {"task_result_callback_url": run.task_result_callback_url, "plan_json_api_url": run.plan_json_api_url}
    return [name for name, url in urls.items() if url is not None and not allowed(url, settings)]


# -- HTTP, by hand: redirects are followed only as the gate decides ------------------------------


# Redirects are followed by hand below: each hop is checked against the allow-list, and the run's
# token is dropped when a hop leaves the API host.
_OPENER = urllib.request.build_opener(no_redirect())


class FetchError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _read_bounded(response: Any, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        chunk = response.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise FetchError(f"the plan JSON is larger than {limit} bytes ({PREFIX}MAX_PLAN_BYTES)")
        chunks.append(chunk)


def fetch_plan(url: str, token: str, settings: RunTaskSettings) -> bytes:
    """GET the plan JSON: the API URL with the run's token, then its redirect (without the token when the
    redirect leaves that host: the download URL is pre-signed)."""
    origin = urllib.parse.urlsplit(url)
    for _ in range(MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(url)
        headers = {"Accept": "application/json"}
        if (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc):
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(url, headers=headers, method="GET")
        try:
            with _OPENER.open(request, timeout=settings.timeout) as response:
                return _read_bounded(response, settings.max_plan_bytes)
        except urllib.error.HTTPError as exc:
            if exc.code in (301, 302, 303, 307, 308) and exc.headers.get("Location"):
                target = urllib.parse.urljoin(url, exc.headers["Location"])
                scheme = urllib.parse.urlsplit(target).scheme
                if scheme != "https" and not (scheme == "http" and parts.scheme == "http"):
                    raise FetchError(f"the plan download redirected to a {scheme or 'relative'} URL") from None
                url = target
                continue
            raise FetchError(f"downloading the plan JSON answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise FetchError(f"downloading the plan JSON failed: {reason}") from None
    raise FetchError(f"downloading the plan JSON was redirected more than {MAX_REDIRECTS} times")


def send_result(url: str, token: str, body: dict[str, Any], settings: RunTaskSettings) -> int:
    """PATCH the task result; retried on connection errors and 5xx. Returns the last HTTP status (0: none)."""
    data = json.dumps(body).encode("utf-8")
    status = 0
    for attempt in range(CALLBACK_ATTEMPTS):
        request = urllib.request.Request(
            url,
            data=data,
            method="PATCH",
            headers={"Authorization": f"Bearer {token}", "Content-Type": JSON_API, "Accept": JSON_API},
        )
        try:
            with _OPENER.open(request, timeout=settings.timeout) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            if exc.code < 500:
                return status
        except (urllib.error.URLError, OSError) as exc:
            log.warning("run task callback failed (attempt %d): %s", attempt + 1, getattr(exc, "reason", exc))
        time.sleep(0.2 * (2**attempt))
    return status


# -- the result -------------------------------------------------------------------------------------

LEVELS = {"violation": "error", "would-deny": "warning", "warning": "warning", "exempt": "info"}
LABELS = {"violation": "Denied", "would-deny": "Would deny (dry-run)", "warning": "Warning", "exempt": "Exempted"}
SEVERITY_LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "info", "info": "info"}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _outcome(finding: Finding, kind: str, address: str) -> dict[str, Any]:
    where = finding.extra.get("terraform_address") or address
    attribute = finding.extra.get("attribute_path") or ""
    located = f"{where}.{attribute}" if attribute else where
    body = "\n\n".join(
        [
            f"**{finding.title}** ({finding.rule}, severity {finding.severity})",
            finding.message,
            f"Where: `{located}`" + (f" (task definition `{address}`)" if where != address else ""),
            f"Fix: {finding.remediation}",
        ]
    )
    attributes: dict[str, Any] = {
        "outcome-id": _cut(f"{finding.rule}:{located}", 200),
        "description": _cut(f"{finding.rule} {located}: {finding.title}", 300),
        "body": _cut(body, MAX_BODY_CHARS),
        "tags": {
            "Status": [{"label": LABELS[kind], "level": LEVELS[kind]}],
            "Severity": [
                {"label": finding.severity.capitalize(), "level": SEVERITY_LEVELS.get(finding.severity, "none")}
            ],
        },
    }
    if finding.docs:
        attributes["url"] = finding.docs
    return {"type": "task-result-outcomes", "attributes": attributes}


def _findings(address: str, decision: Decision) -> list[tuple[Finding, str, str]]:
    kind = "violation" if decision.enforced else "would-deny"
    return [
        *((f, kind, address) for f in decision.violations),
        *((f, "warning", address) for f in decision.warnings),
        *((f, "exempt", address) for f in decision.exempted),
    ]


def task_result(status: str, message: str, url: str | None, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    attributes: dict[str, Any] = {"status": status, "message": _cut(message, MAX_MESSAGE_CHARS)}
    if url:
        attributes["url"] = url
    body: dict[str, Any] = {"data": {"type": "task-results", "attributes": attributes}}
    if outcomes:
        body["data"]["relationships"] = {"outcomes": {"data": outcomes}}
    return body


def result_for(decision: PlanDecision, url: str | None) -> dict[str, Any]:
    """passed/failed for a judged plan: failed when any task definition is denied (and enforced)."""
    findings = [item for address, d in decision.results for item in _findings(address, d)]
    outcomes = [_outcome(f, kind, address) for f, kind, address in findings[:MAX_OUTCOMES]]
    count = len(decision.results)
    violations = sum(len(d.violations) for _, d in decision.results)
    warnings = sum(len(d.warnings) for _, d in decision.results)
    if count == 0:
        message = "no aws_ecs_task_definition is created or updated by this plan: nothing to judge"
    elif decision.denied:
        denied = [address for address, d in decision.results if d.violations]
        rules = sorted({f.rule for _, d in decision.results for f in d.violations})
        message = f"denied: {violations} violation(s) ({', '.join(rules)}) in {', '.join(denied)}"
    elif violations:
        message = f"would be denied (dry-run): {violations} violation(s) in {count} task definition(s)"
    else:
        message = f"allowed: {count} task definition(s), {warnings} warning(s)"
    if len(findings) > MAX_OUTCOMES:
        message += f"; {len(findings) - MAX_OUTCOMES} more finding(s) not listed"
    return task_result("failed" if decision.denied else "passed", message, url, outcomes)


def failed(reason: str, url: str | None) -> dict[str, Any]:
    """The gate could not judge the plan: failed, with the reason (mandatory enforcement stops the run)."""
    return task_result("failed", f"ecs-admission could not judge this plan: {reason}", url, [])


# -- the flow ---------------------------------------------------------------------------------------


def judge(gate: Gate, run: RunTaskRequest, settings: RunTaskSettings) -> tuple[dict[str, Any], PlanDecision | None]:
    """Fetch and judge the run's plan; the task result to send, and the decision when there is one."""
    url = settings.details_url or run.run_app_url
    if not run.plan_json_api_url:
        return failed(f"the {run.stage} stage has no plan (register the run task at post_plan)", url), None
    try:
        raw = fetch_plan(run.plan_json_api_url, run.access_token, settings)
        document = parse_json(raw)
        if not is_plan(document):
            raise InputError("the downloaded document is not a `terraform show -json` plan", field="/")
        plan = load_plan(document)
        decision = decide_plan(gate, plan)
    except FetchError as exc:
        return failed(exc.reason, url), None
    except InputError as exc:
        where = f" at {exc.field}" if exc.field else ""
        return failed(f"the plan cannot be read{where}: {exc.problem}", url), None
    except EngineError as exc:
        return failed(f"the policy engine could not decide: {exc.reason}", url), None
    return result_for(decision, url), decision


class RunTaskRunner:
    """A small pool: HCP Terraform gets its 200 at once, the plan is judged here, off the request thread."""

    def __init__(
        self,
        gate_of: Callable[[], Gate],
        settings: RunTaskSettings,
        on_decision: Callable[[RunTaskRequest, PlanDecision], None] | None = None,
    ):
        self.gate_of = gate_of
        self.settings = settings
        self.on_decision = on_decision
        self.pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="run-task")
        self.pending = 0
        self.lock = threading.Condition()

    def submit(self, run: RunTaskRequest) -> bool:
        """False when the queue is full (the caller answers 503 and HCP Terraform retries)."""
        with self.lock:
            if self.pending >= self.settings.queue:
                return False
            self.pending += 1
        self.pool.submit(self._run, run)
        return True

    def _run(self, run: RunTaskRequest) -> None:
        try:
            self._judge_and_report(run)
        finally:
            with self.lock:
                self.pending -= 1
                self.lock.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until every accepted run has been judged and reported; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.lock.wait(remaining)
        return True

    def _judge_and_report(self, run: RunTaskRequest) -> None:
        try:
            result, decision = judge(self.gate_of(), run, self.settings)
            if decision is not None and self.on_decision is not None:
                try:
                    self.on_decision(run, decision)
                except Exception:  # a record that cannot be written must not lose the verdict
                    log.exception("run task %s: recording the decision failed", run.run_id)
        except Exception as exc:  # never leave HCP Terraform waiting without an answer
            log.exception("run task %s: judging failed", run.run_id)
            result = failed(f"internal error: {type(exc).__name__}", self.settings.details_url or run.run_app_url)
        status = send_result(run.task_result_callback_url, run.access_token, result, self.settings)
        log.info(
            "run task %s (%s/%s, %s): %s, callback answered %s",
            run.run_id,
            run.organization,
            run.workspace,
            run.enforcement,
            result["data"]["attributes"]["status"],
            status or "nothing",
        )
