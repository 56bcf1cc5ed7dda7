"""The curl examples of README.md and docs/*.md, run as written against a real server under gunicorn.

An executable example is a ```sh block holding one curl command under a comment that ends in
`(expect: STATUS[, allowed true|false])`; every page is searched, so a new example is run too.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.conftest import REPO, serving
from tests.support.doc_pages import DOCS, README, page

BLOCK_RE = re.compile(r"```sh\n(# .*?\(expect: (\d{3})(?:, allowed (true|false))?\)\n)(curl .*?)\n```", re.DOTALL)
PAGES = [README, *sorted(DOCS.glob("*.md"))]
EXAMPLES = [
    (path.relative_to(REPO).as_posix(), *found) for path in PAGES for found in BLOCK_RE.findall(path.read_text())
]


@pytest.fixture(scope="module")
def server():
    # The README quick start runs with authentication off (`make serve`); so does this server.
    with serving() as served:
        yield served.port


def test_the_pages_have_the_examples():
    where = [name for name, *_ in EXAMPLES]
    assert where.count("README.md") >= 1 and where.count("docs/http-api.md") >= 8
    quick = "curl -s -X POST 'localhost:8080/v1/admit?dry_run=true' -H 'content-type: application/json' --data @"
    assert quick in page("README.md")


@pytest.mark.parametrize(
    ("name", "comment", "status", "allowed", "command"), EXAMPLES, ids=[f"{e[0]}:{e[1][2:40]}" for e in EXAMPLES]
)
def test_documented_curl_example(server, name, comment, status, allowed, command):
    command = command.replace("localhost:8080", f"127.0.0.1:{server}") + " -w '\\n%{http_code}'"
    result = subprocess.run(["bash", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=30)
    body, _, code = result.stdout.rpartition("\n")
    assert code == status, (name, command, result.stdout, result.stderr)
    document = json.loads(body)
    if allowed:
        assert document["allowed"] is (allowed == "true")
