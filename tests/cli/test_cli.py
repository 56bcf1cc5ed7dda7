"""`ecs-admission check`: same decision as the webhook, pipeline-friendly exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from ecs_admission.cli.commands import main
from tests.conftest import EXAMPLES

CLEAN = str(EXAMPLES / "taskdef-clean.json")
DENIED = str(EXAMPLES / "taskdef.json")


def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


def test_allowed_exits_0_with_text_verdict():
    code, out, err = run("check", CLEAN)
    assert code == 0 and err == ""
    assert out.startswith(f"{CLEAN}: ALLOWED (family payments-api")


def test_denied_exits_1_and_lists_reasons():
    code, out, _ = run("check", DENIED)
    assert code == 1
    assert "DENIED" in out
    assert "ECS-ISO-002" in out and "/containerDefinitions/0/privileged" in out
    assert "fix: " in out


def test_dry_run_exits_0_with_same_reasons():
    code, out, _ = run("check", "--dry-run", DENIED)
    assert code == 0
    assert "WOULD DENY (dry-run)" in out and "ECS-ISO-002" in out


def test_json_single_file_is_an_object_and_several_an_array():
    code, out, _ = run("check", "--format", "json", DENIED)
    decision = json.loads(out)
    assert code == 1 and decision["allowed"] is False and decision["enforced"] is True
    code, out, _ = run("check", "--format", "json", CLEAN, DENIED)
    decisions = json.loads(out)
    assert code == 1 and [d["allowed"] for d in decisions] == [True, False]


def test_same_decision_as_webhook(client):
    _, out, _ = run("check", "--format", "json", DENIED)
    cli = json.loads(out)
    http = client.post("/v1/admit", data=Path(DENIED).read_text(), content_type="application/json").get_json()
    strip = ("decision_id", "duration_ms")
    assert {k: v for k, v in cli.items() if k not in strip} == {k: v for k, v in http.items() if k not in strip}


def test_stdin_and_yaml():
    code, out, _ = run("check", "-", stdin=(EXAMPLES / "taskdef-clean.json").read_text())
    assert code == 0 and out.startswith("<stdin>: ALLOWED")
    code, out, _ = run("check", str(EXAMPLES / "taskdef.yaml"))
    assert code == 0 and "batch-report" in out


def test_input_errors_exit_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"containerDefinitions": [{"name": "a", "privileged": "yes"}]}')
    code, out, err = run("check", str(bad))
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "/containerDefinitions/0/privileged: expected a boolean" in err
    code, _, err = run("check", str(tmp_path / "missing.json"))
    assert code == 2 and "no such file" in err


def test_worst_exit_code_wins_across_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    code, out, err = run("check", CLEAN, str(bad))
    assert code == 2 and "ALLOWED" in out and "expected an object" in err


def test_usage_errors_exit_2():
    for argv in ([], ["check"], ["check", "--format", "xml", CLEAN], ["frobnicate"]):
        code, _, err = run(*argv)
        assert code == 2 and err.startswith("ecs-admission: ") and err.count("\n") == 1


def test_bad_environment_setting_exits_2(monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_MODE", "sometimes")
    code, _, err = run("check", CLEAN)
    assert code == 2 and "ECS_ADMISSION_MODE" in err


def test_console_script_is_installed():
    result = subprocess.run(
        [sys.executable, "-m", "ecs_admission.cli", "check", DENIED],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "ECS-ISO-002" in result.stdout
