"""The Rego editor behind the local playground (`ecs-admission playground`, docs/playground.md).

Routes under /playground/rego/ to read the policy directory's .rego files, decide an input with
unsaved edits applied, run the policy tests with coverage, and save a file. Only cli/playground.py
registers this blueprint, on a server bound to 127.0.0.1: create_app never does, so `serve` (the
production gate) never runs Rego a person typed into a page.

A local server that writes files and runs code is worth attacking from any web page the same
person has open, so: the Host must be the loopback address the server was started on (no DNS
rebinding), writes and evaluations must be JSON (a cross-site form cannot send that without a
CORS preflight, which is never answered), an Origin header must be this origin, and only .rego
files already in the directory can be read or written.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from ecs_admission.config import Settings
from ecs_admission.engines.embedded import EmbeddedEngine
from ecs_admission.engines.rego_tests import Coverage, run_tests
from ecs_admission.errors import EngineError, InputError
from ecs_admission.gate import build_gate
from ecs_admission.gate.templates import decide_template
from ecs_admission.inputs import normalise, parse_file_bytes
from ecs_admission.inputs.cloudformation import is_template, load_template
from ecs_admission.policy.loader import PolicyError, load_policy_set
from ecs_admission.policy.snapshot import PolicyFile, SnapshotError, copy_policy_files, policy_files
from ecs_admission.web.playground import ASSETS, asset

EXTENSION_KEY = "rego_editor"
MAX_SOURCE_BYTES = 512 * 1024
MAX_INPUT_BYTES = 1024 * 1024
LOCAL_HOSTS = ("127.0.0.1", "localhost")
# OPA names each error file:line (a compile error may add a column).
ERROR_RE = re.compile(r"(?P<file>[^\s:;]+\.rego):(?P<line>\d+)(?::\d+)?: (?P<message>[^;]+)")

blueprint = Blueprint("rego_editor", __name__)


class EditorError(Exception):
    def __init__(self, status: int, error: str, detail: str, field: str | None = None, errors: list | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail, self.field, self.errors = status, error, detail, field, errors

    def response(self) -> tuple[Response, int]:
        body: dict[str, Any] = {"error": self.error, "detail": self.detail, "field": self.field}
        if self.errors is not None:
            body["errors"] = self.errors  # each {file, line, message}, for the editor to place
        return jsonify(body), self.status


def install(app: Any, policy_dir: Path, port: int, writable: bool) -> None:
    """Offer the Rego editor on this app (the local playground's, never serve's)."""
    app.extensions["ecs_admission"][EXTENSION_KEY] = {
        "policy_dir": Path(policy_dir).resolve(),
        "port": port,
        "writable": writable,
        "engines": EngineCache(),
    }
    app.register_blueprint(blueprint)


def _editor() -> dict[str, Any]:
    return current_app.extensions["ecs_admission"][EXTENSION_KEY]


@blueprint.errorhandler(EditorError)
def _editor_error(exc: EditorError) -> Any:
    return exc.response()


@blueprint.before_request
def _local_only() -> Any:
    editor = _editor()
    allowed = {f"{host}:{editor['port']}" for host in LOCAL_HOSTS}
    if request.host not in allowed:
        return EditorError(403, "forbidden", f"the Rego editor answers only to {sorted(allowed)}", "Host").response()
    origin = request.headers.get("Origin")
    if origin is not None and origin not in {f"http://{host}" for host in allowed}:
        return EditorError(403, "forbidden", "requests from another origin are refused", "Origin").response()
    if request.method in ("POST", "PUT") and request.mimetype != "application/json":
        return EditorError(415, "unsupported_media_type", "send application/json", "Content-Type").response()
    return None


def _policy_files(directory: Path) -> list[PolicyFile]:
    """The files the loader reads, listed as it lists them: bounded, links kept inside the directory
    (an unbounded walk of a directory holding `a -> .` never ends)."""
    try:
        return policy_files(directory)
    except (OSError, SnapshotError) as exc:
        raise _unreadable(exc) from None


def _unreadable(exc: Exception) -> EditorError:
    return EditorError(422, "policy_does_not_load", f"the policy directory cannot be read: {exc}", "files")


def _rego_files(directory: Path) -> list[str]:
    return [f.relative for f in _policy_files(directory) if f.relative.endswith(".rego")]


def _checked_name(name: str) -> str:
    if name not in _rego_files(_editor()["policy_dir"]):
        raise EditorError(404, "not_found", f"{name!r} is not a .rego file of the policy directory", "name")
    return name


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise EditorError(400, "invalid_json", "the body must be a JSON object", None)
    return body


def _edits(body: dict[str, Any]) -> dict[str, str]:
    files = body.get("files") or {}
    if not isinstance(files, dict):
        raise EditorError(400, "invalid_field", "must be an object of file name to source", "files")
    for name, source in files.items():
        _checked_name(name)
        if not isinstance(source, str) or len(source.encode()) > MAX_SOURCE_BYTES:
            raise EditorError(
                400, "invalid_field", f"must be text of at most {MAX_SOURCE_BYTES} bytes", f"files.{name}"
            )
    return files


def compile_errors(reason: str) -> list[dict[str, Any]]:
    """OPA's messages as {file, line, message}; one entry without a place if none names one."""
    found = [
        {"file": m.group("file"), "line": int(m.group("line")), "message": m.group("message").strip()}
        for m in ERROR_RE.finditer(reason)
    ]
    return found or [{"file": None, "line": None, "message": reason}]


@contextmanager
def edited_policies(directory: Path, edits: dict[str, str]) -> Iterator[Path]:
    """A copy of the policy directory with the unsaved edits written into it (the file stays as is)."""
    with tempfile.TemporaryDirectory(prefix="ecs-admission-playground-") as scratch:
        copy = Path(scratch) / "policies"
        copy.mkdir()
        try:
            copy_policy_files(directory, copy)
        except (OSError, SnapshotError) as exc:
            raise _unreadable(exc) from None
        for name, source in edits.items():
            (copy / name).write_text(source, encoding="utf-8")
        yield copy


def sources_key(directory: Path, edits: dict[str, str]) -> str:
    """A digest of every file of the policy directory as the edits leave it."""
    digest = hashlib.sha256()
    for policy_file in _policy_files(directory):
        name = policy_file.relative
        content = edits[name].encode() if name in edits else policy_file.path.read_bytes()
        digest.update(f"{name}\0{len(content)}\0".encode() + content)
    return digest.hexdigest()


class EngineCache:
    """The engine for the sources last evaluated. Evaluate again with a new input and the same
    rules (the common case) and it is reused, not compiled again (about a second for the set)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._key: str | None = None
        self._engine: EmbeddedEngine | None = None

    def engine_for(self, directory: Path, edits: dict[str, str]) -> EmbeddedEngine:
        """The engine for these sources; EngineError if they do not compile. Call with the lock held."""
        key = sources_key(directory, edits)
        if key != self._key or self._engine is None:
            with edited_policies(directory, edits) as copy:
                engine = EmbeddedEngine(_load(copy))
            if self._engine is not None:
                self._engine.close()
            self._engine, self._key = engine, key
        return self._engine


def _load(directory: Path) -> Any:
    try:
        return load_policy_set(directory)
    except PolicyError as exc:
        raise EditorError(422, "policy_does_not_load", str(exc), "files", compile_errors(str(exc))) from None


def _not_compiled(reason: str) -> tuple[Response, int]:
    body = {"error": "policy_does_not_compile", "detail": reason, "field": "files", "errors": compile_errors(reason)}
    return jsonify(body), 422


@blueprint.get("/playground/rego/rego-editor.js")
def script() -> Response:
    return asset("rego-editor.js", "text/javascript; charset=utf-8", ASSETS)


@blueprint.get("/playground/rego/files")
def files() -> Any:
    editor = _editor()
    names = _rego_files(editor["policy_dir"])
    listed = [{"name": name, "test": name.endswith("_test.rego")} for name in names]
    return jsonify({"directory": str(editor["policy_dir"]), "writable": editor["writable"], "files": listed})


@blueprint.get("/playground/rego/files/<path:name>")
def read(name: str) -> Any:
    path = _editor()["policy_dir"] / _checked_name(name)
    return jsonify({"name": name, "source": path.read_text(encoding="utf-8")})


@blueprint.put("/playground/rego/files/<path:name>")
def save(name: str) -> Any:
    editor = _editor()
    if not editor["writable"]:
        raise EditorError(
            403, "read_only", "the shipped policies are not edited in place: start with --policy-dir DIR", "name"
        )
    source = _json_body().get("source")
    if not isinstance(source, str) or len(source.encode()) > MAX_SOURCE_BYTES:
        raise EditorError(400, "invalid_field", f"must be text of at most {MAX_SOURCE_BYTES} bytes", "source")
    path = editor["policy_dir"] / _checked_name(name)
    # Written beside the file and renamed over it: a reader never sees half a file.
    temporary = path.with_name(f".{path.name}.playground-{os.getpid()}")
    temporary.write_text(source, encoding="utf-8")
    shutil.copymode(path, temporary)
    os.replace(temporary, path)
    reloader = current_app.extensions["ecs_admission"].get("reloader")
    reload_error = None
    if reloader is not None:
        reloader.reload()  # /v1/admit on this server decides with the saved file too
        reload_error = (reloader.last_error or {}).get("error")
    return jsonify({"saved": name, "reload_error": reload_error})


def _decide(settings: Settings, engine: EmbeddedEngine, text: str) -> Any:
    gate = build_gate(settings, engine)
    raw = text.encode()
    name = "input.json" if text.lstrip()[:1] in ("{", "[") else "input.yaml"
    document = parse_file_bytes(raw, name)
    if is_template(document):
        return decide_template(gate, load_template(document, gate.default_context), dry_run=True).to_dict()
    return gate.decide(normalise(document), dry_run=True).to_dict()


@blueprint.post("/playground/rego/evaluate")
def evaluate() -> Any:
    """The input decided in dry-run by the policies with the unsaved edits, as /v1/admit answers."""
    body = _json_body()
    text = body.get("input")
    if not isinstance(text, str) or not text.strip() or len(text.encode()) > MAX_INPUT_BYTES:
        raise EditorError(
            400, "invalid_field", f"must be a task definition of at most {MAX_INPUT_BYTES} bytes", "input"
        )
    edits = _edits(body)
    settings: Settings = current_app.extensions["ecs_admission"]["settings"]
    cache: EngineCache = _editor()["engines"]
    with cache.lock:  # one evaluation at a time: the engine in use is never closed under it
        try:
            engine = cache.engine_for(_editor()["policy_dir"], edits)
        except EngineError as exc:
            return _not_compiled(exc.reason)
        try:
            return jsonify(_decide(settings, engine, text))
        except InputError as exc:
            return jsonify(exc.to_dict()), 400
        except EngineError as exc:
            return jsonify(exc.to_dict()), 503


@blueprint.post("/playground/rego/test")
def test() -> Any:
    """`policy test --coverage` over the policies with the unsaved edits."""
    edits = _edits(_json_body())
    coverage = Coverage()
    with edited_policies(_editor()["policy_dir"], edits) as directory:
        policy = _load(directory)
        try:
            results = run_tests(policy, coverage=coverage)
        except EngineError as exc:
            return _not_compiled(exc.reason)
    statuses = ["SKIPPED" if r.skipped else "PASS" if r.passed else "FAIL" for r in results]
    files = {
        name: {"covered": covered, "missing": missing, "percent": round(percent, 1)}
        for name, (covered, missing, percent) in coverage.files().items()
    }
    covered_total = sum(entry["covered"] for entry in files.values())
    lines = covered_total + sum(entry["missing"] for entry in files.values())
    return jsonify(
        {
            "summary": {
                "total": len(results),
                "pass": statuses.count("PASS"),
                "fail": statuses.count("FAIL"),
                "skipped": statuses.count("SKIPPED"),
            },
            "tests": [
                {"name": r.qualified_name, "location": r.location, "status": status, "detail": r.detail}
                for r, status in zip(results, statuses, strict=True)
            ],
            "coverage": {"files": files, "percent": round(100.0 * covered_total / (lines or 1), 1)},
        }
    )
