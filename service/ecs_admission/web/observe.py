"""What the routes report about each request: decision records and metrics, in one place.

The routes call these at the three ends a request can have (decided, engine failed, input
refused); the app factory installs the timing and per-response hooks.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request

from ecs_admission import metrics
from ecs_admission.decision import Decision
from ecs_admission.errors import EngineError, InputError
from ecs_admission.inputs import AdmissionRequest
from ecs_admission.report import records
from ecs_admission.web import rule_labels
from ecs_admission.web.auth import current_caller

log = logging.getLogger(__name__)
blueprint = Blueprint("observe", __name__)


def _elapsed_ms() -> float:
    started = getattr(g, "started", None)
    return (time.perf_counter() - started) * 1000 if started is not None else 0.0


def _records_on() -> bool:
    return bool(current_app.extensions["ecs_admission"]["settings"].decision_log)


def _break_glass() -> tuple[str, ...]:
    return current_app.extensions["ecs_admission"].get("break_glass", ())


def _engine() -> Any:
    return current_app.extensions["ecs_admission"]["gate"].engine


def decided(admission_request: AdmissionRequest, decision: Decision, status: int) -> None:
    total_ms = _elapsed_ms()
    timings = decision.timings_ms
    engine_ms, iam_ms = timings.get("engine"), timings.get("iam")
    metrics.decision(
        records.verdict_of(decision),
        decision.mode,
        decision.engine,
        total_ms / 1000,
        engine_seconds=engine_ms / 1000 if isinstance(engine_ms, int | float) else None,
        iam_seconds=iam_ms / 1000 if isinstance(iam_ms, int | float) else None,
        # Label values are the catalogue's rule ids; any other id is counted as "other" (rule_labels.py).
        **rule_labels.finding_labels(decision, _engine()),
    )
    if _records_on():
        digest = records.input_digest(admission_request.task_definition, admission_request.canonical)
        record = records.decision_record(
            decision, current_caller(), status, total_ms, digest, uid=admission_request.uid, break_glass=_break_glass()
        )
        records.emit(record)


def engine_failed(admission_request: AdmissionRequest, exc: EngineError, status: int, mode: str | None) -> None:
    metrics.engine_error(exc.engine)
    metrics.decision("error", mode or "unknown", exc.engine, _elapsed_ms() / 1000)
    log.error("engine could not decide (answered %d): %s", status, exc.reason)
    if _records_on():
        record = records.failure_record(
            exc.reason,
            exc.engine,
            current_caller(),
            status,
            _elapsed_ms(),
            mode,
            admission_request.family,
            records.input_digest(admission_request.task_definition, admission_request.canonical),
            break_glass=_break_glass(),
        )
        records.emit(record)


def input_refused(exc: InputError) -> None:
    metrics.input_rejected(exc.error)


@blueprint.get("/metrics")
def metrics_endpoint() -> Any:
    body, content_type = metrics.exposition()
    return Response(body, mimetype=None, content_type=content_type)


def install(app: Flask) -> None:
    """Time every request from its arrival (before authentication) and count every response."""

    @app.before_request
    def _start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _count(response: Any) -> Any:
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.response(rule, response.status_code)
        return response
