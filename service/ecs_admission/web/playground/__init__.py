"""GET /playground: the gate in a browser (docs/playground.md).

One page and its assets, package data beside this module: no CDN, no external font or
script, and a Content-Security-Policy that lets the page load nothing and call nothing but this
origin, with no inline script or style. The page is only code: it holds no policy and no data,
so it and its assets are served without a credential (a browser cannot send a bearer token when
it navigates); every call that carries data (POST /v1/admit, GET /v1/policies) goes through the
same authentication as any other client, with a token the person types (kept in sessionStorage).

Off unless ECS_ADMISSION_PLAYGROUND says otherwise (`make serve` turns it on); the Rego editor
is never part of it: only `ecs-admission playground` (cli/playground.py) adds that, on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

ASSETS = Path(__file__).parent
PAGE = "index.html"
# What the playground blueprint serves, and as what; rego-editor.js is not here (the local
# playground serves it, under /playground/rego/).
STATIC = {
    "playground.js": "text/javascript; charset=utf-8",
    "locate.js": "text/javascript; charset=utf-8",
    "playground.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
EXAMPLE_SUFFIXES = (".json", ".yaml", ".yml")
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
# The page and its assets: open paths (auth.py) while the playground is on; 404 when it is off.
OPEN_PATHS = frozenset({"/playground", "/playground/config.json"})
OPEN_PREFIXES = ("/playground/static/", "/playground/examples/")

blueprint = Blueprint("playground", __name__)


def examples_dir() -> Path:
    """The shipped examples: examples/ inside an installed wheel, or the repository's examples/."""
    package_dir = Path(__file__).resolve().parents[2]
    for candidate in (package_dir / "examples", package_dir.parents[1] / "examples"):
        if candidate.is_dir():
            return candidate
    return package_dir / "examples"


def shipped_examples() -> list[dict[str, str]]:
    found = []
    for path in sorted(examples_dir().iterdir()):
        if path.is_file() and path.suffix in EXAMPLE_SUFFIXES:
            found.append({"name": path.name, "title": path.name})
    return found


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def secure(response: Response) -> Response:
    """The headers every playground answer carries."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-cache"
    return response


def asset(name: str, mimetype: str, directory: Path = ASSETS) -> Response:
    return secure(Response((directory / name).read_bytes(), content_type=mimetype))


def _not_found() -> tuple[Response, int]:
    return jsonify({"error": "not_found", "detail": "no such playground file", "field": None}), 404


@blueprint.get("/playground")
def page() -> Response:
    return asset(PAGE, "text/html; charset=utf-8")


@blueprint.get("/playground/static/<name>")
def static_asset(name: str) -> Any:
    if name not in STATIC:
        return _not_found()
    return asset(name, STATIC[name])


@blueprint.get("/playground/examples/<name>")
def example(name: str) -> Any:
    if name not in {entry["name"] for entry in shipped_examples()}:
        return _not_found()
    return asset(name, "text/plain; charset=utf-8", examples_dir())


@blueprint.get("/playground/config.json")
def config() -> Response:
    extension = current_app.extensions["ecs_admission"]
    return secure(
        jsonify(
            {
                "auth_required": extension["auth"].required,
                "rego_editor": bool(extension.get("rego_editor")),
                "examples": shipped_examples(),
            }
        )
    )
