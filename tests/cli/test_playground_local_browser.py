"""`ecs-admission playground` in a real browser: the rule author's loop. Edit a rule, Evaluate,
see the new verdict; a compile error at its file:line; the policy tests and coverage; save to
the file (docs/playground.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import POLICY_DIR, free_port, wait_ready
from tests.support.browser import (
    PRIVILEGED_HOST_PID,
    assert_local_only,
    chromium,
    console_problems,
    evaluate,
    findings,
    open_page,
    paste,
    wait_for,
)

pytestmark = pytest.mark.slow

HOST_PID_CONDITION = 'input.task_definition.pidMode == "host"'
MESSAGE = 'pidMode is \\"host\\": containers see every process'


@pytest.fixture()
def policies(tmp_path: Path) -> Path:
    copy = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, copy)
    return copy


@pytest.fixture()
def playground(policies: Path) -> Iterator[int]:
    port = free_port()
    command = [sys.executable, "-m", "ecs_admission.cli", "playground", "--policy-dir", str(policies)]
    process = subprocess.Popen([*command, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, process, path="/playground/rego/files", timeout=60)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def set_rego(driver: Any, source: str) -> None:
    driver.execute_script(
        "const e = document.getElementById('rego-source'); e.value = arguments[0];"
        "e.dispatchEvent(new Event('input', {bubbles: true}))",
        source,
    )


def choose_file(driver: Any, name: str) -> str:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", "rego-file")).select_by_value(name)
    package = "package ecs.checks." + name.removesuffix(".rego") + "\n"
    return wait_for(
        driver, "const s = document.getElementById('rego-source').value; return s.includes(arguments[0]) && s", package
    )


def test_edit_a_rule_and_see_the_new_verdict(policies, playground):
    with chromium() as browser:
        open_page(browser, f"http://127.0.0.1:{playground}/playground")
        wait_for(browser, "return document.body.dataset.regoReady === 'true'")
        paste(browser, PRIVILEGED_HOST_PID)
        assert evaluate(browser) == "DENIED"
        assert {"ECS-ISO-002", "ECS-ISO-003"} <= {f["rule"] for f in findings(browser)}

        # Edit the host-PID rule so it cannot fire: the verdict changes, the file does not (yet).
        original = choose_file(browser, "isolation.rego")
        assert HOST_PID_CONDITION in original
        set_rego(browser, original.replace(HOST_PID_CONDITION, 'input.task_definition.pidMode == "no-such-mode"'))
        assert evaluate(browser) == "DENIED"
        rules = {f["rule"] for f in findings(browser)}
        assert "ECS-ISO-003" not in rules and "ECS-ISO-002" in rules
        assert (policies / "isolation.rego").read_text() == original

        # A compile error is shown at its file:line, and a click goes to that line.
        broken_line = original.splitlines().index(HOST_PID_CONDITION.join(("\t", ""))) + 1
        broken = original.replace(HOST_PID_CONDITION, "input.task_definition.pidMode == ")
        set_rego(browser, broken)
        assert evaluate(browser) == "POLICY ERROR"
        error = wait_for(
            browser,
            "const e = document.querySelector('#rego-errors .error'); return e && {file: e.dataset.file,"
            " line: Number(e.dataset.line), text: e.textContent}",
        )
        assert error["file"] == "isolation.rego" and abs(error["line"] - broken_line) <= 1, error
        browser.find_element("css selector", "#rego-errors .error button").click()
        assert (
            browser.execute_script(
                "const e = document.getElementById('rego-source');"
                "return e.value.slice(0, e.selectionStart).split('\\n').length"
            )
            == error["line"]
        )
        # Every error OPA reports is listed, each at its own line.
        two = original.replace(HOST_PID_CONDITION, "no_such_function_a(input)").replace(
            "container.privileged == true", "no_such_function_b(container)", 1
        )
        set_rego(browser, two)
        assert evaluate(browser) == "POLICY ERROR"
        rows = browser.execute_script(
            "return [...document.querySelectorAll('#rego-errors .error')].map(e => Number(e.dataset.line))"
        )
        lines = two.splitlines()
        expected = {n for n, text in enumerate(lines, start=1) if "no_such_function_" in text}
        assert set(rows) == expected and len(expected) == 2

        # The policy tests over the edit: the rule's own tests now fail, with coverage per file.
        set_rego(browser, original.replace(HOST_PID_CONDITION, 'input.task_definition.pidMode == "no-such-mode"'))
        browser.find_element("id", "rego-test").click()
        summary = wait_for(browser, "const s = document.getElementById('rego-test-summary'); return s && s.textContent")
        assert "FAIL" in summary
        failures = browser.execute_script(
            "return [...document.querySelectorAll('#rego-tests .failure')].map(d => d.textContent)"
        )
        assert failures and all("isolation" in text for text in failures)
        # A failing test's file:line opens the test file at that line.
        place = browser.find_element("css selector", "#rego-tests .failure button")
        test_file, _, test_line = place.text.partition(":")
        assert test_file == "isolation_test.rego"
        place.click()
        before_selection = wait_for(
            browser,
            "const e = document.getElementById('rego-source');"
            "return e.value.includes('package ecs.checks.isolation_test') && e.value.slice(0, e.selectionStart);",
        )
        assert before_selection.count("\n") + 1 == int(test_line)
        choose_file(browser, "isolation.rego")
        covered = browser.execute_script(
            "return [...document.querySelectorAll('#rego-coverage tr[data-file]')].map(r => r.dataset.file)"
        )
        assert "isolation.rego" in covered

        # Save (a reworded message): the file holds it, and the server's own /v1/admit decides with it.
        set_rego(browser, original.replace(MESSAGE, "EDITED " + MESSAGE))
        browser.find_element("id", "rego-save").click()
        state = wait_for(
            browser, "const s = document.getElementById('rego-state').textContent; return s.startsWith('saved ') && s"
        )
        assert state == "saved isolation.rego"
        assert "EDITED " + MESSAGE in (policies / "isolation.rego").read_text()
        assert evaluate(browser) == "DENIED"
        assert any(f["rule"] == "ECS-ISO-003" and "EDITED" in f["text"] for f in findings(browser))
        assert_local_only(browser, playground)
        # The compile error's 422 is the only thing the console may show.
        problems = [p for p in console_problems(browser) if "status of 422" not in p["message"]]
        assert problems == []

    import json
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{playground}/v1/admit?dry_run=true",
        data=PRIVILEGED_HOST_PID.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        violations = json.load(response)["violations"]
    assert next(v["message"] for v in violations if v["rule"] == "ECS-ISO-003").startswith("EDITED")
