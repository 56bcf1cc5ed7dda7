"""The webhook's playground in a real browser (headless Chromium): paste, evaluate, the verdict and
its findings on their lines, the share link, the token, the catalogue; a clean console and no
request to any host but 127.0.0.1 (docs/playground.md)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from ecs_admission.config import Settings
from ecs_admission.formats.locate import SourceLocator
from ecs_admission.web import create_app
from ecs_admission.web.auth import hash_token
from tests.conftest import EXAMPLES, corpus_dir
from tests.support.browser import (
    PRIVILEGED_HOST_PID,
    ThreadedServer,
    assert_local_only,
    chromium,
    console_problems,
    evaluate,
    findings,
    flagged_lines,
    line_of,
    open_page,
    paste,
    wait_for,
)

pytestmark = pytest.mark.slow

SCREENSHOT_ENV = "ECS_ADMISSION_PLAYGROUND_SCREENSHOT"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def webhook() -> Iterator[ThreadedServer]:
    app = create_app(Settings(iam_lookup="off", auth="none", playground=True, decision_log=False))
    with ThreadedServer(app) as server:
        yield server


def test_done_when_privileged_and_host_pid_are_denied_on_their_lines(browser, webhook):
    """Paste, Evaluate: DENIED with ECS-ISO-002 and ECS-ISO-003 on their highlighted lines; the
    console is clean and nothing was loaded from anywhere but the webhook."""
    open_page(browser, webhook.url("/playground"))
    paste(browser, PRIVILEGED_HOST_PID)
    assert evaluate(browser) == "DENIED"
    found = findings(browser)
    by_rule = {f["rule"]: f for f in found}
    assert {"ECS-ISO-002", "ECS-ISO-003"} <= set(by_rule)
    privileged = line_of(PRIVILEGED_HOST_PID, '"privileged"')
    pid = line_of(PRIVILEGED_HOST_PID, '"pidMode"')
    assert by_rule["ECS-ISO-002"]["line"] == privileged
    assert by_rule["ECS-ISO-003"]["line"] == pid
    assert {privileged, pid} <= flagged_lines(browser)
    if os.environ.get(SCREENSHOT_ENV):  # how docs/playground.png is taken (docs/playground.md)
        browser.save_screenshot(os.environ[SCREENSHOT_ENV])
    # The finding carries what a person acts on: severity, message and the fix.
    assert "critical" in by_rule["ECS-ISO-002"]["text"] and "Remediation" in by_rule["ECS-ISO-002"]["text"]
    # The finding's line link selects that line in the editor.
    browser.find_element("css selector", "li.finding[data-rule='ECS-ISO-003'] .line-link").click()
    selected = browser.execute_script(
        "const e = document.getElementById('task-definition');return e.value.slice(e.selectionStart, e.selectionEnd)"
    )
    assert selected.strip() == '"pidMode": "host",'
    assert console_problems(browser) == []
    assert_local_only(browser, webhook.port)
    assert any(path.startswith("/v1/admit?dry_run=true") for path in webhook.paths)
    # The webhook's page has no Rego editor: the section is gone and its script was never asked for.
    assert browser.execute_script("return document.getElementById('rego') === null")
    assert not [path for path in webhook.paths if path.startswith("/playground/rego")]


def test_page_headers_forbid_anything_but_this_origin(webhook):
    import urllib.request

    with urllib.request.urlopen(webhook.url("/playground")) as response:
        policy = response.headers["Content-Security-Policy"]
        page = response.read().decode()
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in page and "style=" not in page


def test_share_link_round_trip_keeps_the_input_out_of_every_request(browser, webhook):
    text = (
        "# shared\n"
        + "family: shared-example\npidMode: host\ncontainerDefinitions:\n  - name: app\n    image: nginx:1.27\n"
    )
    open_page(browser, webhook.url("/playground"))
    paste(browser, text)
    browser.find_element("id", "share").click()
    link = wait_for(browser, "const l = document.getElementById('share-link'); return !l.hidden && l.value")
    before, _, fragment = link.partition("#")
    assert before == webhook.url("/playground") and fragment.startswith("input=")
    seen = len(webhook.paths)
    open_page(browser, link)
    assert browser.execute_script("return document.getElementById('task-definition').value") == text
    # Opened from the link, the page evaluates the shared input at once.
    verdict = wait_for(browser, "const v = document.getElementById('verdict').textContent; return v !== '…' && v")
    assert verdict == "DENIED"
    assert "ECS-ISO-003" in {f["rule"] for f in findings(browser)}
    assert line_of(text, "pidMode") in flagged_lines(browser)
    assert not [path for path in webhook.paths[seen:] if "input=" in path or fragment[6:30] in path]
    assert console_problems(browser) == []


def test_shipped_examples_are_one_click_away_and_lines_match_the_server_locator(browser, webhook):
    """Each shipped example: one click loads it; each finding's line is the one the CLI's
    locator (formats/locate.py) gives for the same file, JSON and YAML, templates too."""
    open_page(browser, webhook.url("/playground"))
    names = browser.execute_script(
        "return [...document.querySelectorAll('#examples button')].map(b => b.dataset.example)"
    )
    assert set(names) == {p.name for p in EXAMPLES.iterdir() if p.suffix in (".json", ".yaml")}
    located = 0
    for name in names:
        browser.find_element("css selector", f"#examples button[data-example='{name}']").click()
        raw = (EXAMPLES / name).read_text()
        wait_for(browser, "return document.getElementById('task-definition').value === arguments[0]", raw)
        assert evaluate(browser) in ("ALLOWED", "DENIED")
        locator = SourceLocator(raw.encode(), "")
        for finding in browser.execute_script(
            "return [...document.querySelectorAll('#findings li.finding')].map(li => ({"
            "line: li.dataset.line ? Number(li.dataset.line) : null, path: li.querySelector('.path').textContent}))"
        ):
            path = "" if finding["path"].startswith("(") else finding["path"]
            assert finding["line"] == locator.line(path), (name, finding)
            located += 1
    assert located >= 5
    assert console_problems(browser) == []


def test_locator_agrees_with_the_server_on_every_corpus_pointer(browser, webhook):
    """locate.js and formats/locate.py give the same line for every pointer of every corpus file
    (and for paths that do not exist: the nearest parent)."""
    from ecs_admission.formats.locate import join_pointer
    from ecs_admission.inputs.parse import parse_file_bytes

    def pointers(node: Any, tokens: list[str], out: list[str]) -> None:
        out.append(join_pointer(tokens))
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in children:
            pointers(value, [*tokens, str(key)], out)

    open_page(browser, webhook.url("/playground"))
    files = [p for p in sorted(corpus_dir().rglob("*")) if p.suffix in (".json", ".yaml", ".yml")]
    files += sorted(EXAMPLES.iterdir())
    compared = 0
    for path in files:
        raw = path.read_bytes()
        try:
            document = parse_file_bytes(raw, path.name)
        except Exception:
            continue
        locator = SourceLocator(raw, "")
        found: list[str] = []
        pointers(document, [], found)
        root = "".join("/" + token for token in locator.task_definition_root())
        relative = [p[len(root) :] for p in found if p.startswith(root)]
        relative += [p + "/noSuchField" for p in relative[:40]]
        expected = [locator.line(p) for p in relative]
        got = browser.execute_script(
            "const l = new EcsLocate.Locator(arguments[0]); return arguments[1].map(p => l.line(p))",
            raw.decode("utf-8"),
            relative,
        )
        mismatched = [(p, e, g) for p, e, g in zip(relative, expected, got, strict=True) if e != g]
        assert mismatched == [], (path.name, mismatched[:5])
        compared += len(relative)
    assert compared > 500


def test_catalogue_is_searchable_with_docs_links(browser, webhook):
    open_page(browser, webhook.url("/playground"))
    wait_for(browser, "return document.querySelectorAll('#rules li.rule').length > 30")
    search = browser.find_element("id", "rule-search")
    search.send_keys("process namespace")
    visible = browser.execute_script(
        "return [...document.querySelectorAll('#rules li.rule')].filter(li => !li.hidden).map(li => li.dataset.rule)"
    )
    assert "ECS-ISO-003" in visible and "ECS-EXEC-001" not in visible
    href = browser.execute_script("return document.querySelector(\"#rules li[data-rule='ECS-ISO-003'] a\").href")
    assert href.startswith("https://docs.aws.amazon.com/")
    assert console_problems(browser) == []


def test_with_authentication_the_token_stays_in_session_storage(browser):
    token = "playground-test-token"
    app = create_app(
        Settings(
            iam_lookup="off",
            auth="required",
            token_hashes=(("person", hash_token(token)),),
            playground=True,
            decision_log=False,
        )
    )
    with ThreadedServer(app) as server:
        open_page(browser, server.url("/playground"))
        assert browser.find_element("id", "auth").is_displayed()
        paste(browser, PRIVILEGED_HOST_PID)
        assert evaluate(browser) == "NOT AUTHORISED"
        browser.find_element("id", "token").send_keys(token + "\n")
        browser.execute_script("document.getElementById('token').dispatchEvent(new Event('change'))")
        assert evaluate(browser) == "DENIED"
        storage = browser.execute_script(
            "return {session: sessionStorage.getItem('ecs-admission-playground-token'), local: localStorage.length,"
            "cookies: document.cookie}"
        )
        assert storage == {"session": token, "local": 0, "cookies": ""}
        wait_for(browser, "return document.querySelectorAll('#rules li.rule').length > 30")
        assert token not in json.dumps(server.paths)


def test_a_findings_fix_is_shown_when_the_decision_has_one(browser, webhook):
    """Findings may carry a `fix` (text, or a structured change): shown beside the remediation."""
    open_page(browser, webhook.url("/playground"))
    paste(browser, PRIVILEGED_HOST_PID)
    decision = {
        "allowed": False,
        "enforced": False,
        "mode": "dry-run",
        "violations": [
            {
                "rule": "ECS-ISO-003",
                "severity": "high",
                "title": "Task shares the host's process namespace",
                "message": "pidMode is host",
                "path": "/pidMode",
                "remediation": "Remove pidMode.",
                "docs": "",
                "fix": {"op": "remove", "path": "/pidMode"},
            },
            {
                "rule": "ECS-ISO-002",
                "severity": "critical",
                "title": "Container runs privileged",
                "message": "privileged",
                "path": "/containerDefinitions/0/privileged",
                "remediation": "",
                "docs": "",
                "fix": 'set "privileged": false',
            },
        ],
        "warnings": [],
        "exempted": [],
    }
    # The page's own fetch answers this one call with the decision above (no server involved).
    browser.execute_script(
        "const real = window.fetch; window.fetch = (url, opts) => String(url).startsWith('/v1/admit')"
        " ? Promise.resolve(new Response(JSON.stringify(arguments[0]), {status: 200,"
        " headers: {'Content-Type': 'application/json'}})) : real(url, opts);",
        decision,
    )
    assert evaluate(browser) == "DENIED"
    fixes = browser.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#findings li.finding')]"
        ".map(li => [li.dataset.rule, li.querySelector('.fix') && li.querySelector('.fix').textContent]))"
    )
    assert fixes["ECS-ISO-002"] == 'Fix: set "privileged": false'
    assert fixes["ECS-ISO-003"].startswith("Fix: {") and '"op": "remove"' in fixes["ECS-ISO-003"]
    lines = {line_of(PRIVILEGED_HOST_PID, '"pidMode"'), line_of(PRIVILEGED_HOST_PID, '"privileged"')}
    assert lines <= flagged_lines(browser)
