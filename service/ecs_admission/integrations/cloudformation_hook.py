"""CloudFormation Lambda Hook: the admission point AWS itself calls before it provisions a task definition.

Handler: `ecs_admission.integrations.cloudformation_hook.handler`, invoked by an
AWS::CloudFormation::LambdaHook (deploy/cloudformation-hook/hook.yaml; docs/cloudformation-hook.md).
Request and response follow the CloudFormation Hooks user guide ("Create Lambda functions to
evaluate resources for Lambda Hooks"):

- a resource target `AWS::ECS::TaskDefinition` at CREATE_PRE_PROVISION or UPDATE_PRE_PROVISION:
  `requestData.targetModel.resourceProperties` (PascalCase, scalars as strings, intrinsics resolved
  by CloudFormation) is judged as the same task definition in a template is judged by the webhook;
  role ARNs are looked up in IAM like any other;
- a STACK or CHANGE_SET target: the template arrives through the presigned URL in
  `requestData.payload` and is judged whole, one decision per task definition;
- DELETE, and every other resource type: SUCCESS, nothing to judge.

The answer is `hookStatus` SUCCESS or FAILED with `errorCode` NonCompliant (a rule denies it) or
InternalFailure (the event cannot be read, the template cannot be fetched, the engine cannot
decide: fail closed, never SUCCESS). Warn-level findings and dry-run answer SUCCESS and say what
the verdict would have been. `message` lists the findings most severe first within CloudFormation's
4,096 characters; `annotations` carry one entry per finding.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import time
import traceback
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ecs_admission.config import ConfigError, Settings, env_setting
from ecs_admission.decision import Finding
from ecs_admission.errors import EngineError, InputError
from ecs_admission.gate import Gate, build_gate
from ecs_admission.gate.templates import TemplateDecision, decide_template
from ecs_admission.inputs import parse_file_bytes
from ecs_admission.inputs.cloudformation import Template, is_template, load_template
from ecs_admission.inputs.cloudformation.resolved import load_resolved
from ecs_admission.inputs.cloudformation.resources import TASK_DEFINITION_TYPE
from ecs_admission.integrations.gate_client import is_loopback
from ecs_admission.report import records

LOG = logging.getLogger("ecs_admission.cloudformation_hook")

HOOK_PREFIX = "ECS_ADMISSION_HOOK_"
JUDGED_POINTS = ("CREATE_PRE_PROVISION", "UPDATE_PRE_PROVISION")
KNOWN_POINTS = (*JUDGED_POINTS, "DELETE_PRE_PROVISION")
TEMPLATE_TARGETS = ("STACK", "CHANGE_SET")
# CloudFormation truncates `message` at 4,096 characters; Cloud Control API operations (no stack) at 1,024.
MESSAGE_LIMIT = 4096
CLOUD_CONTROL_MESSAGE_LIMIT = 1024
# The Annotation data type's limits (CloudFormation API reference), and a bound on how many we send.
ANNOTATION_NAME_LIMIT = 1024
ANNOTATION_TEXT_LIMIT = 16384
ANNOTATION_LINK_LIMIT = 5120
MAX_ANNOTATIONS = 100
# A template is at most 1 MB; the payload holds it and the previous one (or the changed resources).
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 10.0
# Presigned S3 URLs: virtual-hosted (bucket.s3.region.amazonaws.com) and path style, dual-stack, China.
S3_HOST_RE = re.compile(r"^(?:[a-z0-9][a-z0-9.-]*\.)?s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$")
SEVERITY_LEVELS = {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW"}
ARN_RE = re.compile(r"^arn:(?P<partition>[a-z-]+):cloudformation:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):")


class HookEventError(ValueError):
    """The event is not a Lambda Hook request the handler can read: answered FAILED, InternalFailure."""


class CannotJudge(RuntimeError):
    """Something stops the judgement (payload, template, engine): answered FAILED, InternalFailure."""


@dataclass(frozen=True)
class HookSettings:
    """The hook's own settings (ECS_ADMISSION_HOOK_*); the gate's are config.Settings as everywhere."""

    # host:port whose plain-http payload URLs are fetched besides https S3 ones: for tests, so loopback only.
    payload_test_host: str | None = None

    @classmethod
    def from_env(cls, environ: Any = None) -> HookSettings:
        env = os.environ if environ is None else environ
        raw = env_setting(env, HOOK_PREFIX + "PAYLOAD_TEST_HOST")
        if raw is None:
            return cls()
        host = raw.strip()
        parsed = urlsplit(f"//{host}")
        try:
            port = parsed.port
        except ValueError:
            port = None
        name = parsed.hostname or ""
        if not is_loopback(name) or port is None or parsed.path or f"{name}:{port}" not in (host, f"[{name}]:{port}"):
            raise ConfigError(
                f"{HOOK_PREFIX}PAYLOAD_TEST_HOST={raw!r}: expected a loopback HOST:PORT such as 127.0.0.1:8000 "
                "(the setting exists for tests; real payload URLs are https S3 URLs)"
            )
        return cls(payload_test_host=f"{name}:{port}")


@dataclass
class HookEvent:
    """The fields of a Lambda Hook request the handler uses."""

    token: str
    invocation_point: str
    target_type: str
    target_name: str
    logical_id: str
    properties: Any = None
    payload_url: str | None = None
    account: str | None = None
    stack_id: str | None = None
    change_set_id: str | None = None
    hook_type: str | None = None
    region: str | None = None

    @property
    def action(self) -> str:
        return self.invocation_point.split("_", 1)[0]

    @property
    def is_template_target(self) -> bool:
        return self.target_type in TEMPLATE_TARGETS

    @property
    def context(self) -> dict[str, str]:
        """The deploy account and Region CloudFormation named: the template's pseudo parameters and input.context."""
        return {k: v for k, v in (("account", self.account), ("region", self.region)) if v}

    @classmethod
    def parse(cls, event: Any, default_region: str | None = None) -> HookEvent:
        if not isinstance(event, dict):
            raise HookEventError(f"the event is a {type(event).__name__}, not a JSON object")
        token = event.get("clientRequestToken")
        if not isinstance(token, str) or not token:
            raise HookEventError("clientRequestToken is missing")
        point = event.get("actionInvocationPoint")
        if not isinstance(point, str) or not point:
            raise HookEventError("actionInvocationPoint is missing")
        data = event.get("requestData")
        if not isinstance(data, dict):
            raise HookEventError("requestData is missing or not an object")
        target_type = data.get("targetType")
        target_name = data.get("targetName", target_type)
        if not isinstance(target_type, str) or not target_type:
            raise HookEventError("requestData.targetType is missing")
        if not isinstance(target_name, str):
            raise HookEventError("requestData.targetName is not a string")
        logical_id = data.get("targetLogicalId")
        if not isinstance(logical_id, str) or not logical_id:
            logical_id = target_type if target_type in TEMPLATE_TARGETS else ""
        if not logical_id:
            raise HookEventError("requestData.targetLogicalId is missing")
        model = data.get("targetModel")
        properties = None
        if model is not None:
            if not isinstance(model, dict):
                raise HookEventError("requestData.targetModel is not an object")
            properties = model.get("resourceProperties")
        payload = data.get("payload")
        if payload is not None and not isinstance(payload, str):
            raise HookEventError("requestData.payload is not a URL string")
        stack_id = _text(event.get("stackId"))
        found = ARN_RE.match(stack_id or "")
        account = _text(event.get("awsAccountId")) or (found.group("account") if found else None)
        return cls(
            token=token,
            invocation_point=point,
            target_type=target_type,
            target_name=target_name,
            logical_id=logical_id,
            properties=properties,
            payload_url=payload or None,
            account=account,
            stack_id=stack_id,
            change_set_id=_text(event.get("changeSetId")),
            hook_type=_text(event.get("hookTypeName")),
            region=(found.group("region") if found else None) or default_region,
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# ---- fetching a stack's or change set's payload ----------------------------------------------------


def payload_url_allowed(url: str, hook: HookSettings) -> str:
    """The URL itself if it may be fetched, else CannotJudge saying why (never the URL's signature)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    shown = f"{parts.scheme}://{host}{parts.path[:100]}"
    try:
        port = parts.port
    except ValueError:
        raise CannotJudge(f"the payload URL {shown} has an invalid port") from None
    if parts.username or parts.password:
        raise CannotJudge("the payload URL carries credentials; refusing to fetch it")
    if parts.scheme == "https" and S3_HOST_RE.match(host) and port in (None, 443):
        return url
    if hook.payload_test_host and parts.scheme in ("http", "https") and f"{host}:{port}" == hook.payload_test_host:
        return url
    raise CannotJudge(
        f"the payload URL {shown} is not an https Amazon S3 URL; only those are fetched "
        f"({HOOK_PREFIX}PAYLOAD_TEST_HOST admits a loopback test host)"
    )


def fetch_payload(url: str, hook: HookSettings) -> Any:
    """GET the presigned URL (no redirects, bounded size and time) and parse its JSON."""
    import requests

    payload_url_allowed(url, hook)
    shown = urlsplit(url)._replace(query="", fragment="").geturl()
    # requests' timeout bounds each read; the deadline bounds the whole body (a server that drips).
    deadline = time.monotonic() + FETCH_TIMEOUT_SECONDS
    try:
        with requests.get(url, timeout=FETCH_TIMEOUT_SECONDS, allow_redirects=False, stream=True) as response:
            if response.status_code != 200:
                raise CannotJudge(f"fetching the payload {shown} answered HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_PAYLOAD_BYTES:
                    raise CannotJudge(f"the payload {shown} is larger than {MAX_PAYLOAD_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise CannotJudge(f"fetching the payload {shown} took more than {FETCH_TIMEOUT_SECONDS:g} s")
    except requests.RequestException as exc:
        raise CannotJudge(f"fetching the payload {shown} failed: {type(exc).__name__}") from None
    try:
        return json.loads(body)
    except ValueError:
        raise CannotJudge(f"the payload {shown} is not JSON") from None


def payload_template(payload: Any) -> dict[str, Any]:
    """The `template` of a stack or change set payload (a JSON or YAML string, or already an object)."""
    if not isinstance(payload, dict):
        raise CannotJudge("the payload is not a JSON object")
    raw = payload.get("template")
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        raise CannotJudge("the payload has no template")
    try:
        document = parse_file_bytes(raw.encode("utf-8", "surrogatepass"))
    except InputError as exc:
        raise CannotJudge(f"the payload's template cannot be read: {exc.problem}") from None
    if not isinstance(document, dict):
        raise CannotJudge("the payload's template is not an object")
    return document


# ---- judging -------------------------------------------------------------------------------------


@functools.cache
def _gate(settings: Settings) -> Gate:
    """Compile the policies once per Lambda container (settings are frozen, so they key the cache)."""
    return build_gate(settings)


@dataclass
class Judgement:
    """What the hook answers, before it is fitted into the response."""

    status: str  # SUCCESS or FAILED
    error_code: str | None
    message: str
    annotations: list[dict[str, str]] = field(default_factory=list)
    decision_id: str | None = None


def _with_context(template: Template, context: dict[str, str]) -> Template:
    for task_definition in template.task_definitions:
        for variant in task_definition.variants or [task_definition]:
            variant.request.context = {**context, **variant.request.context}
    return template


def has_task_definitions(document: dict[str, Any]) -> bool:
    resources = document.get("Resources")
    return isinstance(resources, dict) and any(
        isinstance(r, dict) and r.get("Type") == TASK_DEFINITION_TYPE for r in resources.values()
    )


def judge(event: HookEvent, settings: Settings, hook: HookSettings) -> tuple[Judgement, TemplateDecision | None]:
    """The verdict for one hook request; CannotJudge when something stops the judgement."""
    if event.invocation_point not in KNOWN_POINTS:
        if event.is_template_target or event.target_type == TASK_DEFINITION_TYPE:
            raise CannotJudge(f"unknown actionInvocationPoint {event.invocation_point[:100]!r}")
        return _pass(f"{event.target_type} is not judged by ecs-admission"), None
    if event.action == "DELETE":
        return _pass(f"{event.action} of {event.logical_id}: nothing is provisioned, nothing to judge"), None
    if event.is_template_target:
        if not event.payload_url:
            raise HookEventError(f"a {event.target_type} target needs requestData.payload (the template's URL)")
        document = payload_template(fetch_payload(event.payload_url, hook))
        if not is_template(document) or not has_task_definitions(document):
            what = event.target_type.lower().replace("_", " ")
            return _pass(f"the {what}'s template has no {TASK_DEFINITION_TYPE}: nothing to judge"), None
        try:
            template = load_template(document, event.context)
        except InputError as exc:
            raise CannotJudge(_input_problem("the template", exc)) from None
    elif event.target_type == TASK_DEFINITION_TYPE:
        properties = event.properties
        if properties is None and event.payload_url:
            payload = fetch_payload(event.payload_url, hook)
            model = payload.get("targetModel", payload) if isinstance(payload, dict) else None
            properties = model.get("resourceProperties") if isinstance(model, dict) else None
        if properties is None:
            raise HookEventError("requestData.targetModel.resourceProperties is missing")
        try:
            template = load_resolved(event.logical_id, properties, event.context)
        except InputError as exc:
            raise CannotJudge(_input_problem(event.logical_id, exc)) from None
    else:
        return _pass(f"{event.target_type[:200]} is not judged by ecs-admission"), None
    _with_context(template, event.context)
    try:
        decided = decide_template(_gate(settings), template)
    except InputError as exc:
        raise CannotJudge(_input_problem("the template", exc)) from None
    except EngineError as exc:
        raise CannotJudge(f"the policy engine could not decide (failing closed): {exc.reason}") from None
    return verdict(decided), decided


def _input_problem(what: str, exc: InputError) -> str:
    at = f" at {exc.field}" if exc.field else ""
    return f"ecs-admission cannot judge {what}{at}: {exc.problem}"


def _pass(message: str) -> Judgement:
    return Judgement("SUCCESS", None, message)


def _findings(decided: TemplateDecision) -> list[tuple[str, str, Finding]]:
    """(kind, logical id, finding) for every finding, violations first, each kind most severe first."""
    found = []
    for kind in ("violations", "warnings", "exempted"):
        batch = [(kind, logical_id, f) for logical_id, d in decided.results for f in getattr(d, kind)]
        found += sorted(batch, key=lambda item: item[2].sort_key())
    return found


def annotation(kind: str, logical_id: str, finding: Finding) -> dict[str, str]:
    status = {"violations": "FAILED", "warnings": "FAILED", "exempted": "SKIPPED"}[kind]
    note = {"violations": "", "warnings": " (warning: not enforced)", "exempted": " (exempted)"}[kind]
    entry = {
        "annotationName": finding.rule[:ANNOTATION_NAME_LIMIT],
        "status": status,
        "statusMessage": f"{logical_id} {finding.path}: {finding.message}{note}"[:ANNOTATION_TEXT_LIMIT],
        "remediationMessage": finding.remediation[:ANNOTATION_TEXT_LIMIT] or finding.title[:ANNOTATION_TEXT_LIMIT],
        "severityLevel": SEVERITY_LEVELS.get(finding.severity, "INFORMATIONAL"),
    }
    if finding.docs.startswith("https://") and len(finding.docs) <= ANNOTATION_LINK_LIMIT:
        entry["remediationLink"] = finding.docs
    return {k: v for k, v in entry.items() if v}


def verdict(decided: TemplateDecision) -> Judgement:
    """SUCCESS or FAILED (NonCompliant) with the findings, most severe first."""
    decisions = [d for _, d in decided.results]
    violations = sum(len(d.violations) for d in decisions)
    warnings = sum(len(d.warnings) for d in decisions)
    judged = ", ".join(logical_id for logical_id, _ in decided.results) or "nothing"
    found = _findings(decided)
    lines = []
    for kind, logical_id, finding in found:
        if kind == "exempted":
            continue
        tag = "" if kind == "violations" else " (warning)"
        lines.append(
            f"- {finding.rule} [{finding.severity}]{tag} {logical_id} {finding.path}: {finding.message} "
            f"Fix: {finding.remediation}"
        )
    annotations = [annotation(kind, logical_id, f) for kind, logical_id, f in found][:MAX_ANNOTATIONS]
    rules = ", ".join(dict.fromkeys(f.rule for kind, _, f in found if kind == "violations"))
    # The ids the decision records carry (one per task definition), so the log finds them.
    ids = ", ".join(d.decision_id for d in decisions) or decided.decision_id
    decided_as = f"decision{'s' if len(decisions) > 1 else ''} {ids}"
    if violations and decided.denied:
        head = f"ecs-admission denied {judged}: {violations} violation(s) ({rules}), {decided_as}"
        return Judgement("FAILED", "NonCompliant", "\n".join([head, *lines]), annotations, ids)
    if violations:
        head = (
            f"ecs-admission would deny {judged} (dry-run, not enforced): {violations} violation(s) ({rules}), "
            f"{decided_as}"
        )
    else:
        head = f"ecs-admission allowed {judged}: no violations, {warnings} warning(s), {decided_as}"
    return Judgement("SUCCESS", None, "\n".join([head, *lines]), annotations, ids)


def fit(message: str, limit: int) -> str:
    """Whole lines within `limit` characters, saying how many were left out."""
    if len(message) <= limit:
        return message
    lines = message.splitlines()
    kept: list[str] = []
    for index, line in enumerate(lines):
        tail = f"\n... {len(lines) - index} more line(s): the decision record and the annotations have them all"
        if len("\n".join([*kept, line])) + len(tail) > limit:
            if not kept:
                return line[: limit - len(tail)] + tail
            return "\n".join(kept) + tail
        kept.append(line)
    return "\n".join(kept)[:limit]


# ---- records and the response ---------------------------------------------------------------------


def _hook_fields(event: HookEvent) -> dict[str, Any]:
    return {
        "invocation_point": event.invocation_point,
        "target_type": records._short(event.target_type),
        "logical_id": records._short(event.logical_id),
        "stack_id": records._short(event.stack_id),
        "change_set_id": records._short(event.change_set_id),
        "client_request_token": records._short(event.token),
    }


def _caller(event: HookEvent) -> records.Caller:
    return records.Caller(event.hook_type or "cloudformation-hook", "cloudformation-hook")


def record_decisions(event: HookEvent, decided: TemplateDecision, settings: Settings, started: float) -> None:
    if not settings.decision_log:
        return
    total_ms = (time.perf_counter() - started) * 1000
    for logical_id, decision in decided.results:
        task = next((t for t in decided.template.task_definitions if t.logical_id == logical_id), None)
        digest = records.input_digest(task.request.task_definition) if task else None
        status = 403 if decision.violations and decision.enforced else 200
        record = records.decision_record(decision, _caller(event), status, total_ms, digest)
        record["hook"] = {**_hook_fields(event), "logical_id": records._short(logical_id)}
        records.emit(record)


def record_failure(event: HookEvent | None, reason: str, settings: Settings | None, started: float) -> None:
    if settings is not None and not settings.decision_log:
        return
    caller = _caller(event) if event else records.Caller("cloudformation-hook", "cloudformation-hook")
    mode = settings.default_mode if settings else None
    total_ms = (time.perf_counter() - started) * 1000
    record = records.failure_record(reason, "none", caller, 503, total_ms, mode, None, None)
    if event:
        record["hook"] = _hook_fields(event)
    records.emit(record)


def response(token: Any, judgement: Judgement, limit: int = MESSAGE_LIMIT) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "hookStatus": judgement.status,
        "message": fit(judgement.message, limit),
        "clientRequestToken": token if isinstance(token, str) else "",
    }
    if judgement.error_code:
        answer["errorCode"] = judgement.error_code
    if judgement.annotations:
        answer["annotations"] = judgement.annotations
    return answer


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Lambda entry point: a Lambda Hook request in, SUCCESS or FAILED out; never SUCCESS on an error."""
    started = time.perf_counter()
    token = event.get("clientRequestToken") if isinstance(event, dict) else None
    settings: Settings | None = None
    parsed: HookEvent | None = None
    try:
        settings = Settings.from_env()
        records.configure_logging(settings.decision_log)
        hook = HookSettings.from_env()
        parsed = HookEvent.parse(event, os.environ.get("AWS_REGION"))
        limit = MESSAGE_LIMIT if parsed.stack_id else CLOUD_CONTROL_MESSAGE_LIMIT
        judgement, decided = judge(parsed, settings, hook)
    except HookEventError as exc:
        reason = f"ecs-admission cannot read the hook event (failing closed): {exc}"
        LOG.error("%s", reason)
        record_failure(parsed, reason, settings, started)
        return response(token, Judgement("FAILED", "InternalFailure", reason))
    except (CannotJudge, ConfigError) as exc:
        what = "Lambda configuration: " if isinstance(exc, ConfigError) else ""
        reason = f"ecs-admission could not judge this (failing closed): {what}{exc}"
        LOG.error("%s %s: %s", parsed.target_type if parsed else "?", parsed.logical_id if parsed else "?", reason)
        record_failure(parsed, reason, settings, started)
        return response(token, Judgement("FAILED", "InternalFailure", reason))
    except Exception as exc:
        # A bug must not let a task definition through: FAILED, and the traceback in the logs.
        reason = f"ecs-admission could not judge this (failing closed): {type(exc).__name__}: {str(exc)[:500]}"
        LOG.error("crashed: %s", traceback.format_exc())
        record_failure(parsed, reason, settings, started)
        return response(token, Judgement("FAILED", "InternalFailure", reason))
    if decided is not None:
        record_decisions(parsed, decided, settings, started)
    LOG.info(
        "%s %s %s: %s %s",
        parsed.invocation_point,
        parsed.target_type,
        parsed.logical_id,
        judgement.status,
        judgement.error_code or "",
    )
    return response(parsed.token, judgement, limit)
