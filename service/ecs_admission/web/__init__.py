"""Flask application factory for the admission webhook."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from ecs_admission import metrics
from ecs_admission.config import Settings
from ecs_admission.engines import Engine
from ecs_admission.engines.factory import build_engine
from ecs_admission.gate import breakglass, build_gate
from ecs_admission.report import records
from ecs_admission.web import accepted, auth, observe, openapi, playground
from ecs_admission.web.recycle import recycle_when_stuck
from ecs_admission.web.reload import ACTIVE_DIR_ENV, PolicyReloader, status_from_env
from ecs_admission.web.routes import blueprint

EXTENSION = "ecs_admission"
log = logging.getLogger(__name__)


def _engine_settings(settings: Settings) -> Settings:
    """Under gunicorn the master hands workers a validated snapshot of the policy directory, or,
    newer, the set a worker's poll reload accepted since (web/accepted.py)."""
    newest = accepted.current()
    active = newest["directory"] if newest else os.environ.get(ACTIVE_DIR_ENV)
    return replace(settings, policy_dir=Path(active)) if active else settings


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Flask:
    """Build the app; the engine (and its compiled policies) is made once here, per worker."""
    settings = settings or Settings.from_env()
    records.configure_logging(settings.decision_log)
    app = Flask("ecs_admission")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # The worker's startup self-check (the policies' own Rego unit tests) runs here, once.
    given_engine = engine
    engine = engine or build_engine(_engine_settings(settings), self_check=True)
    gate = build_gate(settings, engine)
    authenticator = auth.Authenticator(settings)
    reloader = None
    if given_engine is None and getattr(gate.engine, "name", None) == "embedded":
        reloader = PolicyReloader(
            gate, settings.policy_dir, initial_error=status_from_env(), eval_timeout=settings.eval_timeout
        )
        reloader.start_polling(settings.policy_poll_seconds)
    if given_engine is None and accepted.state_dir() is not None:
        recycle_when_stuck(gate.engine)  # a gunicorn worker: only its exit ends a stuck evaluation
    app.extensions[EXTENSION] = {
        "settings": settings,
        "gate": gate,
        "auth": authenticator,
        "reloader": reloader,
        "break_glass": breakglass.announce(settings),
    }
    observe.install(app)  # first, so the clock includes authentication
    auth.install(app, authenticator, open_path=playground.is_open if settings.playground else None)
    app.register_blueprint(blueprint)
    app.register_blueprint(observe.blueprint)
    app.register_blueprint(openapi.blueprint)
    if settings.playground:
        app.register_blueprint(playground.blueprint)
    metrics.ensure_registered()
    if not authenticator.required:
        log.warning(
            "AUTHENTICATION IS OFF (ECS_ADMISSION_AUTH=none): anyone who can reach this port can call "
            "/v1/admit, /v1/policies and /metrics. Use it only for a local run."
        )
    elif authenticator.problem():
        log.error("%s; every protected request answers 503", authenticator.problem())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        # Every error is JSON, with the same keys as an input error, so clients parse one shape.
        body = {"error": (exc.name or "error").lower().replace(" ", "_"), "detail": exc.description, "field": None}
        if exc.code == 413:
            body["detail"] = f"request body is larger than the {settings.max_body_bytes}-byte limit"
        return jsonify(body), exc.code

    return app
