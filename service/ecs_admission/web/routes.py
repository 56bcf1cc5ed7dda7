"""HTTP routes of the v1 contract (docs/http-api.md)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from ecs_admission.decision import Decision
from ecs_admission.engines.canary import CANARY
from ecs_admission.errors import EngineError, InputError
from ecs_admission.gate import Gate
from ecs_admission.gate.templates import decide_template
from ecs_admission.inputs import normalise, parse_body
from ecs_admission.inputs.cloudformation import is_template, load_template
from ecs_admission.inputs.parse import JSON_TYPES, YAML_TYPES, media_type
from ecs_admission.inputs.shapes import REVIEW_API_VERSION
from ecs_admission.inputs.terraform import is_plan
from ecs_admission.policy.catalogue import rule_catalogue
from ecs_admission.web import fixing, observe, readiness, terraform
from ecs_admission.web.limits import read_body

blueprint = Blueprint("admission", __name__)

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")

def _gate() -> Gate:
    return current_app.extensions["ecs_admission"]["gate"]


def _flag(raw: str | None, field: str) -> bool | None:
    if raw is None:
        return None
    lowered = raw.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise InputError(f"must be true or false, got {raw[:40]!r}", field=field)


def _requested_dry_run(envelope_value: bool | None) -> bool | None:
    """An explicit true anywhere wins; an explicit false can force enforce over a dry-run default."""
    values = [
        _flag(request.args.get("dry_run"), "dry_run"),
        _flag(request.headers.get("X-Dry-Run"), "X-Dry-Run"),
        envelope_value,
    ]
    if True in values:
        return True
    if False in values:
        return False
    return None


def _error(exc: InputError, status: int = 400) -> tuple[Response, int]:
    return jsonify(exc.to_dict()), status


def _engine_unavailable(exc: EngineError) -> tuple[Response, int]:
    return jsonify(exc.to_dict()), 503


def _review_response(uid: str, decision: Decision | None, code: int, message: str, fix: bool = False) -> Response:
    response: dict[str, Any] = {
        "uid": uid,
        "allowed": bool(decision and (decision.allowed or not decision.enforced)),
        "status": {"code": code, "message": message},
        "warnings": [],
    }
    if decision is not None:
        findings = [*decision.warnings, *(decision.violations if not decision.enforced else [])]
        response["warnings"] = [f"[{f.rule}] {f.path}: {f.message}" for f in findings]
        response["decision"] = decision.to_dict()
        if fix:
            fixing.review_patch(response, decision)
    return jsonify({"apiVersion": REVIEW_API_VERSION, "kind": "AdmissionReview", "response": response})


def _summary(decision: Decision) -> str:
    if not decision.violations:
        return "allowed"
    rules = ", ".join(decision.rule_ids)
    verdict = "denied" if decision.enforced else "would be denied (dry-run)"
    return f"{verdict}: {len(decision.violations)} violation(s): {rules}"


@blueprint.post("/v1/admit")
def admit() -> Any:
    kind = media_type(request.content_type)
    if kind not in JSON_TYPES + YAML_TYPES:
        shown = kind or "none"
        exc = InputError(
            f"content type {shown!r} is not accepted; send application/json or application/yaml",
            field="Content-Type",
            error="unsupported_media_type",
        )
        observe.input_refused(exc)
        return _error(exc, 415)
    try:
        document = parse_body(read_body(request), request.content_type)
    except InputError as exc:
        observe.input_refused(exc)
        return _error(exc)
    if is_template(document):
        return _admit_template(document)
    if is_plan(document):
        return terraform.admit_plan(_gate(), document, lambda: _requested_dry_run(None))
    is_review = isinstance(document, dict) and document.get("kind") == "AdmissionReview"
    try:
        admission_request = normalise(document)
        dry_run = _requested_dry_run(admission_request.dry_run)
        fix = fixing.requested(_flag(request.args.get("fix"), "fix"), admission_request.fix)
    except InputError as exc:
        observe.input_refused(exc)
        uid = (
            document.get("request", {}).get("uid") if is_review and isinstance(document.get("request"), dict) else None
        )
        if is_review and isinstance(uid, str) and uid:
            # The envelope is sound, only its object is not: answer in kind, never an allow.
            return _review_response(uid, None, 400, f"{exc.field}: {exc.problem}")
        return _error(exc)
    try:
        decision = _gate().decide(admission_request, dry_run=dry_run)
    except InputError as exc:  # found while gathering facts: past the evaluator's budget (docs/hardening.md)
        observe.input_refused(exc)
        return _error(exc)
    except EngineError as exc:
        mode = _gate().default_mode if dry_run is None else ("dry-run" if dry_run else "enforce")
        if admission_request.uid is not None:
            observe.engine_failed(admission_request, exc, 200, mode)
            return _review_response(admission_request.uid, None, 503, f"policy engine unavailable: {exc.reason}")
        observe.engine_failed(admission_request, exc, 503, mode)
        return _engine_unavailable(exc)
    if admission_request.uid is not None:
        code = 403 if decision.violations and decision.enforced else 200
        observe.decided(admission_request, decision, 200)
        return _review_response(admission_request.uid, decision, code, _summary(decision), fix)
    status = 403 if decision.violations and decision.enforced else 200
    observe.decided(admission_request, decision, status)
    body = decision.to_dict()
    return jsonify(fixing.with_patch(body, [decision]) if fix else body), status


def _admit_template(document: Any) -> Any:
    """A CloudFormation template: a decision per task definition; 403 if any is denied and enforced."""
    gate = _gate()
    try:
        dry_run = _requested_dry_run(None)
        fix = fixing.requested(_flag(request.args.get("fix"), "fix"), None)
        template = load_template(document, gate.default_context)
    except InputError as exc:
        observe.input_refused(exc)
        return _error(exc)
    try:
        decision = decide_template(gate, template, dry_run=dry_run)
    except InputError as exc:
        observe.input_refused(exc)
        return _error(exc)
    except EngineError as exc:
        mode = gate.default_mode if dry_run is None else ("dry-run" if dry_run else "enforce")
        for task_definition in template.task_definitions:
            observe.engine_failed(task_definition.request, exc, 503, mode)
        return _engine_unavailable(exc)
    status = 403 if decision.denied else 200
    # One decision record (and metric sample) per task definition, as if each had been sent alone.
    requests = {t.logical_id: t.request for t in template.task_definitions}
    for logical_id, task_decision in decision.results:
        observe.decided(requests[logical_id], task_decision, status)
    body = decision.to_dict()
    return jsonify(fixing.with_patch(body, [d for _, d in decision.results]) if fix else body), status


@blueprint.post("/v1/terraform/run-task")
def terraform_run_task() -> Any:
    """HCP Terraform / Terraform Enterprise run task (docs/terraform.md); signed with the run task's HMAC key."""
    return terraform.run_task()


@blueprint.get("/healthz")
def healthz() -> Any:
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
def readyz() -> Any:
    engine = _gate().engine
    extension = current_app.extensions["ecs_admission"]
    try:
        ready = getattr(engine, "ready", None)  # optional ReadinessProbe (OPA: /health?bundles)
        if ready is not None:
            ready(CANARY)
        else:
            engine.evaluate(CANARY)
    except EngineError as exc:
        return jsonify({"status": "not ready", "engine": engine.name, "reason": exc.reason}), 503
    auth_problem = extension["auth"].problem() if extension.get("auth") else None
    if auth_problem:
        return jsonify({"status": "not ready", "engine": engine.name, "reason": auth_problem}), 503
    body = {"status": "ready", "engine": engine.name, "revision": engine.revision}
    body.update(readiness.accepted_view(engine.revision))
    if extension.get("break_glass"):
        body["break_glass"] = list(extension["break_glass"])  # what an on-call curl should see first
    reloader = extension.get("reloader")
    if reloader is not None and reloader.last_error is not None:
        # Still ready: the previous policies serve. The field says the new ones were refused, and why.
        body["reload_error"] = readiness.reload_error_view(reloader.last_error)
    return jsonify(body)


@blueprint.get("/v1/policies")
def policies() -> Any:
    engine = _gate().engine
    try:
        data = engine.policy_data()
    except EngineError as exc:
        return _engine_unavailable(exc)
    return jsonify({"engine": engine.name, "revision": engine.revision, "rules": rule_catalogue(data)})
