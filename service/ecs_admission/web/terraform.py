"""The HTTP faces of Terraform: a plan as the body of POST /v1/admit, and the run task endpoint.

POST /v1/admit with a `terraform show -json` plan answers as a CloudFormation template does: a
decision per task definition (named by its Terraform address), 403 if any is denied and enforced.
POST /v1/terraform/run-task is HCP Terraform's run task: authenticated by the run task's HMAC
key, answered at once, judged in the background (integrations/terraform_run_task.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import current_app, jsonify, request

from ecs_admission import metrics
from ecs_admission.config import ConfigError
from ecs_admission.errors import EngineError, InputError
from ecs_admission.gate import Gate
from ecs_admission.gate.terraform import PlanDecision, decide_plan
from ecs_admission.inputs.terraform import load_plan
from ecs_admission.integrations.terraform_run_task import (
    SIGNATURE_HEADER,
    RunTaskRequest,
    RunTaskRunner,
    RunTaskSettings,
    parse_payload,
    refused_urls,
    verify_signature,
)
from ecs_admission.report import records
from ecs_admission.web import observe, rule_labels
from ecs_admission.web.limits import read_body

RUNNER = "terraform_run_task"
_RUNNER_LOCK = threading.Lock()


def admit_plan(gate: Gate, document: dict[str, Any], dry_run_of: Callable[[], bool | None]) -> Any:
    """A plan: a decision per task definition; 403 if any is denied and enforced; 200 for a plan without any."""
    try:
        dry_run = dry_run_of()
        plan = load_plan(document)
        decision = decide_plan(gate, plan, dry_run=dry_run)
    except InputError as exc:
        observe.input_refused(exc)
        return jsonify(exc.to_dict()), 400
    except EngineError as exc:
        mode = gate.default_mode if dry_run is None else ("dry-run" if dry_run else "enforce")
        for task_definition in plan.task_definitions:
            observe.engine_failed(task_definition.request, exc, 503, mode)
        return jsonify(exc.to_dict()), 503
    status = 403 if decision.denied else 200
    requests = {t.logical_id: t.request for t in plan.task_definitions}
    for address, task_decision in decision.results:
        observe.decided(requests[address], task_decision, status)
    return jsonify(decision.to_dict()), status


def _runner() -> RunTaskRunner:
    extension = current_app.extensions["ecs_admission"]
    runner = extension.get(RUNNER)
    if runner is None:
        gate_holder = extension
        app_settings = extension["settings"]

        def record(run: RunTaskRequest, decision: PlanDecision) -> None:
            # A metric sample and a decision record per task definition, as POST /v1/admit gives; the
            # caller is the workspace. Off the request thread, so observe.decided (which reads it) is not used.
            caller = records.Caller(f"hcp-terraform:{run.organization}/{run.workspace}", "run-task-hmac")
            requests = {t.logical_id: t.request for t in decision.plan.task_definitions}
            status = 403 if decision.denied else 200
            engine = gate_holder["gate"].engine
            for address, task_decision in decision.results:
                metrics.decision(
                    records.verdict_of(task_decision),
                    task_decision.mode,
                    task_decision.engine,
                    task_decision.duration_ms / 1000,
                    # Label values bounded to the catalogue's rule ids, as observe.decided does (rule_labels.py).
                    **rule_labels.finding_labels(task_decision, engine),
                )
                if app_settings.decision_log:
                    digest = records.input_digest(requests[address].task_definition)
                    record = records.decision_record(task_decision, caller, status, task_decision.duration_ms, digest)
                    records.emit(record)

        with _RUNNER_LOCK:  # threads of one worker share one pool
            runner = extension.get(RUNNER)
            if runner is None:
                runner = RunTaskRunner(lambda: gate_holder["gate"], RunTaskSettings.from_env(), record)
                extension[RUNNER] = runner
    return runner


def run_task() -> Any:
    """HCP Terraform's run task request: 200 at once (the verdict goes to the callback), 401 unsigned."""
    try:
        runner = _runner()
    except ConfigError as exc:
        return jsonify({"error": "not_configured", "detail": str(exc), "field": None}), 503
    settings = runner.settings
    if not settings.hmac_key:
        # Unsigned run tasks would let anyone who can reach the gate make it fetch and call back: refused.
        detail = "run tasks are not enabled on this gate: ECS_ADMISSION_TFC_HMAC_KEY is not set"
        return jsonify({"error": "not_configured", "detail": detail, "field": None}), 403
    raw = read_body(request)
    if not verify_signature(raw, request.headers.get(SIGNATURE_HEADER), settings.hmac_key):
        body = {"error": "bad_signature", "detail": f"{SIGNATURE_HEADER} does not match the body", "field": None}
        return jsonify(body), 401
    try:
        run = parse_payload(raw)
    except InputError as exc:
        observe.input_refused(exc)
        return jsonify(exc.to_dict()), 400
    if run.verification:
        return jsonify({"status": "verified"}), 200
    refused = refused_urls(run, settings)
    if refused:
        detail = f"{', '.join(refused)} names a host not in ECS_ADMISSION_TFC_ALLOWED_HOSTS; nothing was contacted"
        return jsonify({"error": "host_not_allowed", "detail": detail, "field": f"/{refused[0]}"}), 400
    if not runner.submit(run):
        return jsonify({"error": "busy", "detail": "too many run tasks in progress; retry", "field": None}), 503
    return jsonify({"status": "accepted", "run_id": run.run_id}), 200
