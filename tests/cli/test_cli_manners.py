"""How the command behaves at its edges: a reader that leaves early, a busy port, the exit codes
docs/cli.md promises. Each runs the installed console script as a shell would."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, REPO

CLI = str(Path(sys.executable).parent / "ecs-admission")
DENIED, CLEAN = str(EXAMPLES / "taskdef.json"), str(EXAMPLES / "taskdef-clean.json")


def run_with_reader_gone(*args: str) -> subprocess.CompletedProcess:
    """The command with its stdout a pipe whose reader has already left (as `| head` leaves)."""
    process = subprocess.Popen([CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before the command writes anything: its first write meets a closed pipe
    stderr = process.stderr.read().decode()
    return subprocess.CompletedProcess(process.args, process.wait(timeout=120), "", stderr)


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_a_closed_pipe_is_quiet_and_the_exit_code_is_still_the_verdict(fmt):
    denied = run_with_reader_gone("check", DENIED, CLEAN, "--format", fmt)
    assert denied.stderr == "" and denied.returncode == 1
    allowed = run_with_reader_gone("check", CLEAN, "--format", fmt)
    assert allowed.stderr == "" and allowed.returncode == 0


def test_a_closed_pipe_under_head_in_a_shell():
    many = " ".join([DENIED] * 40)
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {CLI} check {many} --format json | head -c 20 >/dev/null"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stderr == ""
    assert result.returncode == 1  # pipefail: the gate's verdict, not a crash


def test_a_bundle_cut_short_is_an_error_of_one_line():
    result = run_with_reader_gone("policy", "bundle", "-o", "-")
    assert result.returncode == 2  # the bundle is incomplete
    assert result.stderr.splitlines() == ["ecs-admission: cannot write -: Broken pipe"]


def test_policy_list_into_a_closed_pipe():
    result = run_with_reader_gone("policy", "list")
    assert result.stderr == "" and result.returncode == 0


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_a_busy_port_is_one_line_naming_the_way_out(how):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        args, env = ["serve", "--host", "127.0.0.1"], {"PATH": "/usr/bin:/bin", "ECS_ADMISSION_AUTH": "none"}
        if how == "flag":
            args += ["--port", port]
        else:
            env["ECS_ADMISSION_PORT"] = port
        result = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=30, env=env, cwd=REPO)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"ecs-admission: port {port} on 127.0.0.1 is already in use; choose another with --port or ECS_ADMISSION_PORT"
    ]


def documented_exit_codes() -> dict[int, str]:
    page = (REPO / "docs" / "cli.md").read_text()
    table = page[page.index("| exit | meaning |") :].split("\n\n", 1)[0]
    return {int(code): meaning for code, meaning in re.findall(r"^\| (\d) \| (.+) \|$", table, re.MULTILINE)}


def test_every_documented_exit_code_is_what_the_cli_does(tmp_path):
    documented = documented_exit_codes()
    assert sorted(documented) == [0, 1, 2, 3]
    broken = tmp_path / "policies"
    shutil.copytree(REPO / "rego", broken)
    (broken / "config.yaml").write_text("enforcement:\n  ECS-NOPE-001: deny\n")
    bad_config_env = {"ECS_ADMISSION_MODE": "sometimes"}
    scenarios = {
        0: [(["check", CLEAN], {}), (["check", DENIED, "--dry-run"], {})],
        1: [(["check", DENIED, CLEAN], {})],
        2: [
            (["check"], {}),
            (["check", str(tmp_path / "absent.json")], {}),
            (["check", CLEAN], bad_config_env),
            (["policy", "list", "--policy-dir", str(broken)], {}),
        ],
        # Policies that do not load: the gate cannot decide, as the webhook answers 503.
        3: [(["check", CLEAN, "--policy-dir", str(broken)], {})],
    }
    for code, runs in scenarios.items():
        assert documented[code]
        for args, env in runs:
            result = subprocess.run(
                [CLI, *args],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=REPO,
                env={"PATH": "/usr/bin:/bin", **env},
            )
            assert result.returncode == code, (args, env, result.stderr)
            if code == 2:
                assert len(result.stderr.strip().splitlines()) == 1, result.stderr
