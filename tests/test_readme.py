"""README's curl examples, run as written against a real server under gunicorn."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from .conftest import REPO, serving

README = (REPO / "README.md").read_text()
BLOCK_RE = re.compile(r"```sh\n(# .*?\(expect: (\d{3})(?:, allowed (true|false))?\)\n)(curl .*?)\n```", re.DOTALL)
EXAMPLES = BLOCK_RE.findall(README)


@pytest.fixture(scope="module")
def server():
    # The README quick start runs with authentication off (`make serve`); so does this server.
    with serving() as served:
        yield served.port


def test_readme_has_the_examples():
    assert len(EXAMPLES) >= 8
    quick = "curl -s -X POST 'localhost:8080/v1/admit?dry_run=true' -H 'content-type: application/json' --data @"
    assert quick in README


@pytest.mark.parametrize(("comment", "status", "allowed", "command"), EXAMPLES, ids=[e[0][2:40] for e in EXAMPLES])
def test_readme_curl_example(server, comment, status, allowed, command):
    command = command.replace("localhost:8080", f"127.0.0.1:{server}") + " -w '\\n%{http_code}'"
    result = subprocess.run(["bash", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=30)
    body, _, code = result.stdout.rpartition("\n")
    assert code == status, (command, result.stdout, result.stderr)
    document = json.loads(body)
    if allowed:
        assert document["allowed"] is (allowed == "true")
