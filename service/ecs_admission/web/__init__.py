"""Flask application factory for the admission webhook."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from ..admission import build_gate
from ..config import Settings
from ..engines import Engine
from ..engines.factory import build_engine
from .routes import blueprint

EXTENSION = "ecs_admission"


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Flask:
    """Build the app; the engine (and its compiled policies) is made once here, per worker."""
    settings = settings or Settings.from_env()
    app = Flask("ecs_admission")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # The worker's startup self-check (the policies' own Rego unit tests) runs here, once.
    engine = engine or build_engine(settings, self_check=True)
    app.extensions[EXTENSION] = {"settings": settings, "gate": build_gate(settings, engine)}
    app.register_blueprint(blueprint)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        # Every error is JSON, with the same keys as an input error, so clients parse one shape.
        body = {"error": (exc.name or "error").lower().replace(" ", "_"), "detail": exc.description, "field": None}
        if exc.code == 413:
            body["detail"] = f"request body is larger than the {settings.max_body_bytes}-byte limit"
        return jsonify(body), exc.code

    return app
