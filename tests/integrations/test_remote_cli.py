"""`ecs-admission check --url`: the CLI as a client of a running gate, including when the gate fails."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ecs_admission.cli.commands import main
from ecs_admission.integrations.gate_client import GateClient
from tests.conftest import EXAMPLES
from tests.support.doc_pages import code_blocks, page, section
from tests.support.pipeline_servers import closed_port, gate_server, stub_server

DENIED = str(EXAMPLES / "taskdef.json")
CLEAN = str(EXAMPLES / "taskdef-clean.json")
YAML = str(EXAMPLES / "taskdef.yaml")
REVIEW = str(EXAMPLES / "admission-review.json")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def gate():
    with gate_server() as server:
        yield server


@pytest.fixture(scope="module")
def stub_module():
    with stub_server() as (url, seen):
        yield url, seen


@pytest.fixture()
def stub(stub_module):
    stub_module[1].clear()
    return stub_module


def without_ids(text: str) -> str:
    return UUID.sub("<id>", text)


# ---- same output, same exit codes ----------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [DENIED],
        [CLEAN],
        ["--dry-run", DENIED],
        [YAML],
        [REVIEW],
        [CLEAN, DENIED, YAML],
        ["--format", "github", DENIED],
    ],
    ids=["denied", "clean", "dry-run", "yaml", "admission-review", "several", "github"],
)
def test_remote_output_and_exit_code_match_local(gate, argv):
    local = run("check", *argv)
    remote = run("check", "--url", gate.url, *argv)
    assert remote[0] == local[0]
    strip = re.compile(r"\b[0-9a-f]{32}\b")  # the per-run stop-commands token
    assert strip.sub("", without_ids(remote[1])) == strip.sub("", without_ids(local[1]))
    assert remote[2] == local[2] == ""


def test_remote_json_is_the_gate_decision(gate):
    code, out, _ = run("check", "--url", gate.url + "/", "--format", "json", DENIED)
    remote = json.loads(out)
    _, local_out, _ = run("check", "--format", "json", DENIED)
    local = json.loads(local_out)
    assert code == 1
    for key in ("decision_id", "duration_ms"):
        remote.pop(key), local.pop(key)
    assert remote == local


def test_request_carries_file_content_type_and_dry_run(gate):
    gate.requests.clear()
    run("check", "--url", gate.url, "--dry-run", YAML, DENIED)
    yaml_request, json_request = gate.requests
    assert (yaml_request.method, yaml_request.path, yaml_request.query) == ("POST", "/v1/admit", "dry_run=true")
    assert yaml_request.headers["content-type"] == "application/yaml"
    assert yaml_request.body == Path(YAML).read_bytes()  # the raw file, not a re-serialisation
    assert json_request.headers["content-type"] == "application/json"
    assert "authorization" not in json_request.headers
    gate.requests.clear()
    run("check", "--url", gate.url, DENIED)
    assert gate.requests[0].query == ""  # without --dry-run the gate's own default mode applies


def test_stdin_is_sent_too(gate):
    code, out, _ = run("check", "--url", gate.url, "-", stdin=Path(DENIED).read_text())
    assert code == 1 and out.startswith("<stdin>: DENIED")


def test_gate_400_exits_2_with_field_and_detail(gate, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"containerDefinitions": "web"}')
    code, out, err = run("check", "--url", gate.url, str(bad), CLEAN)
    assert code == 2 and "ALLOWED" in out
    assert err.count("\n") == 1
    assert f"{bad} at /containerDefinitions: expected a list" in err and "(gate answered 400)" in err


def test_remote_reports_use_the_gate_catalogue(gate):
    gate.requests.clear()
    code, out, _ = run("check", "--url", gate.url, "--format", "junit", DENIED)
    cases = ET.fromstring(out).findall("testsuite/testcase")
    assert code == 1 and len(cases) >= 5
    assert [r.path for r in gate.requests] == ["/v1/admit", "/v1/policies"]


# ---- the bearer token ---------------------------------------------------------------------------


def test_token_from_named_environment_variable(gate, monkeypatch):
    monkeypatch.setenv("GATE_TOKEN", "s3cret-value")
    gate.token = "s3cret-value"
    gate.requests.clear()
    try:
        code, out, err = run("check", "--url", gate.url, "--token-env", "GATE_TOKEN", DENIED)
        assert code == 1 and "DENIED" in out
        assert gate.requests[0].headers["authorization"] == "Bearer s3cret-value"
        assert "s3cret" not in out + err
        # A wrong token is a misconfigured pipeline: exit 3, and never failed open.
        monkeypatch.setenv("GATE_TOKEN", "wrong")
        code, out, err = run(
            "check", "--url", gate.url, "--token-env", "GATE_TOKEN", "--fail-open-on-unreachable", DENIED
        )
        assert code == 3 and out == "" and "answered 401" in err and "--token-env" in err
        assert "wrong" not in err
    finally:
        gate.token = None


def test_token_env_must_be_set(gate, monkeypatch):
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    code, _, err = run("check", "--url", gate.url, "--token-env", "NO_SUCH_TOKEN", DENIED)
    assert code == 2 and "NO_SUCH_TOKEN" in err and err.count("\n") == 1


def test_token_over_plain_http_is_flagged_except_on_loopback():
    assert GateClient("http://gate.internal", token="t").token_over_plain_http
    assert not GateClient("https://gate.internal", token="t").token_over_plain_http
    assert not GateClient("http://127.0.0.1:8080", token="t").token_over_plain_http
    assert not GateClient("http://gate.internal").token_over_plain_http


def test_plain_http_token_warning_reaches_stderr(monkeypatch):
    # Tests reach loopback only, so pretend 127.0.0.1 is a remote host rather than resolve a name.
    monkeypatch.setattr("ecs_admission.integrations.gate_client.is_loopback", lambda host: False)
    monkeypatch.setenv("GATE_TOKEN", "t")
    code, _, err = run("check", "--url", f"http://127.0.0.1:{closed_port()}", "--token-env", "GATE_TOKEN", DENIED)
    assert code == 3 and "over plain http" in err and "unreachable" in err


# ---- the gate is down, slow or broken -----------------------------------------------------------


def test_closed_port_exits_3_with_one_line_and_does_not_retry_each_file():
    url = f"http://127.0.0.1:{closed_port()}"
    code, out, err = run("check", "--url", url, DENIED, CLEAN)
    assert code == 3 and out == ""
    lines = err.splitlines()
    assert len(lines) == 2 and "unreachable" in lines[0] and url in lines[0]
    assert "not retried" in lines[1]


def test_fail_open_exits_0_with_a_loud_warning():
    url = f"http://127.0.0.1:{closed_port()}"
    code, out, err = run("check", "--url", url, "--fail-open-on-unreachable", "--format", "github", DENIED)
    assert code == 0
    assert "WARNING: FAILING OPEN" in err and "was NOT checked" in err
    warnings = [line for line in out.splitlines() if line.startswith("::warning")]
    assert len(warnings) == 1 and "NOT checked" in warnings[0]


def test_fail_open_junit_marks_the_file_skipped_not_passed():
    url = f"http://127.0.0.1:{closed_port()}"
    code, out, err = run("check", "--url", url, "--fail-open-on-unreachable", "--format", "junit", DENIED)
    assert code == 0 and "rule catalogue unavailable" in err
    root = ET.fromstring(out)
    (suite,) = root.findall("testsuite")  # junit-10.xsd counts skipped tests per suite only
    assert (
        suite.get("skipped") == "1"
        and root.get("failures") == "0"
        and root.find("testsuite/testcase/skipped") is not None
    )


def test_timeout_exits_3(stub):
    url, _ = stub
    code, out, err = run("check", "--url", f"{url}/slow", "--timeout", "0.3", DENIED)
    assert code == 3 and out == "" and "did not answer within 0.3s" in err


@pytest.mark.parametrize(("mode", "expect"), [("500", "answered 500"), ("502", "answered 502"), ("503", "x.rego:3")])
def test_5xx_exits_3_and_may_fail_open(stub, mode, expect):
    url, _ = stub
    code, out, err = run("check", "--url", f"{url}/{mode}", DENIED)
    assert code == 3 and out == "" and expect in err and err.count("\n") == 1
    code, _, err = run("check", "--url", f"{url}/{mode}", "--fail-open-on-unreachable", DENIED)
    assert code == 0 and "FAILING OPEN" in err


@pytest.mark.parametrize(
    ("mode", "expect"),
    [
        ("redirect", "redirected (307) to http://127.0.0.1:9/v1/admit"),
        ("html", "answered 200 without a decision"),
        ("contradiction", "allowed contradicts the violations"),
        ("notfound", "base URL"),
    ],
)
def test_answers_that_are_not_decisions_exit_3_and_never_fail_open(stub, mode, expect):
    url, seen = stub
    code, out, err = run("check", "--url", f"{url}/{mode}", "--fail-open-on-unreachable", DENIED)
    assert code == 3 and out == "" and expect in err
    assert len(seen) == 1  # a redirect is not followed


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["--url", "ftp://gate", DENIED], "http(s)"),
        (["--url", "http://gate?x=1", DENIED], "query"),
        (["--url", "http://gate", "--policy-dir", "rego", DENIED], "--policy-dir"),
        (["--url", "http://gate", "--timeout", "0", DENIED], "--timeout"),
        (["--token-env", "X", DENIED], "need --url"),
        (["--fail-open-on-unreachable", DENIED], "need --url"),
    ],
)
def test_remote_usage_errors_exit_2(argv, expect):
    code, _, err = run("check", *argv)
    assert code == 2 and expect in err and err.count("\n") == 1


# ---- the documented pipeline steps --------------------------------------------------------------


def test_documented_curl_pipeline_step(gate, tmp_path):
    step = re.search(r"In a pipeline step:\n\n```sh\n(.*?)\n```", page("http-api.md"), re.DOTALL).group(1)
    for example, expected in (("taskdef.json", 1), ("taskdef-clean.json", 0)):
        shutil.copy(EXAMPLES / example, tmp_path / "taskdef.json")
        result = subprocess.run(
            ["bash", "-c", step],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "GATE_URL": gate.url},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == expected, (example, result.stdout, result.stderr)
        decision = json.loads((tmp_path / "decision.json").read_text())
        assert decision["allowed"] is (expected == 0)


def pipelines_block(heading: str, language: str) -> str:
    return code_blocks(section(page("pipelines.md"), f"## {heading}"), language)[0]


def test_documented_pipelines_curl_step_tells_denied_from_unreachable(gate, tmp_path):
    step = pipelines_block("curl", "sh")
    bad = '{"containerDefinitions": "web"}'
    with stub_server() as (stub_url, _):
        for body, url, expected, said in (
            ((EXAMPLES / "taskdef.json").read_text(), gate.url, 1, "ECS-ISO-002 /containerDefinitions/0/privileged"),
            ((EXAMPLES / "taskdef-clean.json").read_text(), gate.url, 0, "allowed: true"),
            (bad, gate.url, 2, "/containerDefinitions: expected a list"),
            (bad, f"http://127.0.0.1:{closed_port()}", 3, "gate unreachable"),
            (bad, f"{stub_url}/503", 3, "gate could not decide (503)"),
        ):
            (tmp_path / "taskdef.json").write_text(body)
            result = subprocess.run(
                ["bash", "-c", step],
                cwd=tmp_path,
                env={"PATH": "/usr/bin:/bin", "GATE_URL": url},
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert result.returncode == expected, (url, result.stdout, result.stderr)
            assert said in result.stdout


def test_pipelines_page_has_each_integration_and_the_readme_stays_short():
    headings = [line[3:] for line in page("pipelines.md").splitlines() if line.startswith("## ")]
    assert headings == ["GitHub Actions", "CodePipeline", "CodeBuild", "curl"]
    assert len(page("README.md").splitlines()) <= 120  # a few screens; the depth is under docs/
