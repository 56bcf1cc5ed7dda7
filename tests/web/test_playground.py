"""GET /playground on the webhook: off unless configured, self-contained, a strict CSP, open like
a static page while the data calls keep their authentication, and never the Rego editor."""

from __future__ import annotations

import re

import pytest

from ecs_admission.config import ConfigError, Settings
from ecs_admission.web import create_app
from ecs_admission.web.auth import hash_token
from ecs_admission.web.playground import STATIC
from tests.conftest import EXAMPLES

TOKEN = "playground-token"


@pytest.fixture(scope="module")
def on():
    return create_app(Settings(iam_lookup="off", auth="none", playground=True)).test_client()


@pytest.fixture(scope="module")
def protected():
    settings = Settings(
        iam_lookup="off", auth="required", token_hashes=(("person", hash_token(TOKEN)),), playground=True
    )
    return create_app(settings).test_client()


def test_off_by_default(client):
    assert Settings().playground is False
    for path in ("/playground", "/playground/static/playground.js", "/playground/config.json"):
        assert client.get(path).status_code == 404


@pytest.mark.parametrize(("raw", "expected"), [("on", True), ("true", True), ("off", False), ("", False)])
def test_setting(raw, expected):
    assert Settings.from_env({"ECS_ADMISSION_PLAYGROUND": raw}).playground is expected


def test_setting_refuses_other_words():
    with pytest.raises(ConfigError, match="ECS_ADMISSION_PLAYGROUND"):
        Settings.from_env({"ECS_ADMISSION_PLAYGROUND": "maybe"})


def test_page_is_self_contained_with_a_strict_policy(on):
    response = on.get("/playground")
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "img-src", "connect-src"):
        assert directives[name] == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = response.get_data(as_text=True)
    assert 'id="task-definition"' in page and 'id="evaluate"' in page and 'id="decision"' in page
    # No inline script or style: every script and stylesheet is a same-origin file.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page) and "<style" not in page and " style=" not in page
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers either
    for src in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert src.startswith("/playground/static/"), src


def test_assets_name_no_other_host(on):
    for name, mimetype in STATIC.items():
        response = on.get(f"/playground/static/{name}")
        assert response.status_code == 200 and response.content_type == mimetype
        text = response.get_data(as_text=True)
        # The SVG's XML namespace is a name, not a request.
        urls = [u for u in re.findall(r"https?://[^\s\"')]+", text) if u != "http://www.w3.org/2000/svg"]
        assert urls == [], (name, urls)
        assert "@import" not in text and "url(" not in text
    assert on.get("/playground/static/../routes.py").status_code == 404
    assert on.get("/playground/static/rego-editor.js").status_code == 404


def test_shipped_examples_are_served(on):
    config = on.get("/playground/config.json").get_json()
    names = {entry["name"] for entry in config["examples"]}
    assert names == {p.name for p in EXAMPLES.iterdir() if p.suffix in (".json", ".yaml")}
    for name in names:
        assert on.get(f"/playground/examples/{name}").get_data() == (EXAMPLES / name).read_bytes()
    assert on.get("/playground/examples/..%2Fpyproject.toml").status_code == 404


def test_serve_never_offers_the_rego_editor(on):
    """Arbitrary Rego must not run on the production gate: no editor route, no editor script."""
    app = on.application
    assert not [rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/playground/rego")]
    assert on.get("/playground/config.json").get_json()["rego_editor"] is False
    for method, path in (
        ("get", "/playground/rego/files"),
        ("get", "/playground/rego/rego-editor.js"),
        ("post", "/playground/rego/evaluate"),
        ("put", "/playground/rego/files/isolation.rego"),
    ):
        assert getattr(on, method)(path, json={}).status_code in (404, 405)


def test_page_is_open_and_the_data_calls_are_protected(protected):
    assert protected.get("/playground").status_code == 200
    assert protected.get("/playground/static/playground.js").status_code == 200
    assert protected.get("/playground/config.json").get_json()["auth_required"] is True
    assert protected.post("/v1/admit?dry_run=true", json={}).status_code == 401
    assert protected.get("/v1/policies").status_code == 401
    authorised = {"Authorization": f"Bearer {TOKEN}"}
    assert protected.get("/v1/policies", headers=authorised).status_code == 200
    # Only the playground's own paths are open, and only those.
    assert protected.get("/playgroundx").status_code == 401
    assert protected.get("/metrics").status_code == 401
