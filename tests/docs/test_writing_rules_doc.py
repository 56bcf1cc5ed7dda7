"""docs/writing-rules.md, followed literally: every file it shows is written, every command run.

The page's conventions: a fenced block whose info string is `LANG PATH` (```rego my-policies/acme.rego)
is a file to write; a ```console block holds `$ command` lines, each followed by lines its output
must contain (compared with runs of whitespace made one space; `[exit N]` is the exit status,
0 when not shown). `ecs-admission serve` starts the real server (tests/conftest.py serving()) with
the command's environment, and the `curl` commands after it are sent to that server.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import POLICY_DIR, REPO, serving

DOC = REPO / "docs" / "writing-rules.md"
FENCE = re.compile(r"^```(\w+)(?: (\S+))?\n(.*?)^```$", re.MULTILINE | re.DOTALL)
SERVE_PORT = "8080"


@dataclass
class Command:
    line: str
    expected: list[str] = field(default_factory=list)
    exit_code: int = 0


def doc_steps() -> list[tuple[str, object]]:
    """("file", (path, text)) and ("command", Command) in the order the page gives them."""
    steps: list[tuple[str, object]] = []
    for language, path, body in FENCE.findall(DOC.read_text()):
        if path:
            steps.append(("file", (path, body)))
        elif language == "console":
            for chunk in re.split(r"^\$ ", body, flags=re.MULTILINE)[1:]:
                line, *output = chunk.rstrip("\n").split("\n")
                command = Command(line)
                for expected in output:
                    status = re.fullmatch(r"\[exit (\d+)\]", expected.strip())
                    if status:
                        command.exit_code = int(status.group(1))
                    elif expected.strip():
                        command.expected.append(expected)
                steps.append(("command", command))
    return steps


def squeeze(text: str) -> str:
    return " ".join(text.split())


def test_the_page_has_the_steps_it_promises():
    steps = doc_steps()
    files = {step[0] for kind, step in steps if kind == "file"}
    assert {"my-policies/acme.rego", "my-policies/acme_test.rego", "taskdef.json"} <= files
    assert {"my-policies/no_latest.rego", "my-policies/requiredtags.rego"} <= files
    lines = [step.line for kind, step in steps if kind == "command"]
    assert any("ecs-admission serve" in line for line in lines) and any(line.startswith("curl ") for line in lines)


def test_following_the_page_enforces_the_new_rules(tmp_path):
    # A clone of the repository: the page starts from its rego/ directory.
    shutil.copytree(POLICY_DIR, tmp_path / "rego")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("ECS_ADMISSION_POLICY_DIR", None)
    server = None
    with contextlib.ExitStack() as stack:
        for kind, step in doc_steps():
            if kind == "file":
                path, text = step
                (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / path).write_text(text)
                continue
            assert isinstance(step, Command)
            if step.line.endswith("ecs-admission serve"):
                settings = dict(word.split("=", 1) for word in shlex.split(step.line)[:-2])
                settings["ECS_ADMISSION_POLICY_DIR"] = str(tmp_path / settings["ECS_ADMISSION_POLICY_DIR"])
                assert server is None, "the page starts two servers"
                server = stack.enter_context(serving(settings))
                continue
            line = step.line
            if line.startswith("curl "):
                assert server is not None, "the page curls before it serves"
                line = line.replace(f"localhost:{SERVE_PORT}", f"127.0.0.1:{server.port}")
            result = subprocess.run(
                ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
            )
            output = squeeze(result.stdout + result.stderr)
            assert result.returncode == step.exit_code, (step.line, result.stdout, result.stderr)
            for expected in step.expected:
                assert squeeze(expected) in output, (step.line, expected, result.stdout + result.stderr)
    assert server is not None
