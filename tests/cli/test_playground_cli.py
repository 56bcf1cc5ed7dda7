"""`ecs-admission playground`: the Rego editor's API (edit, evaluate, test, save), its guard
against other origins and hosts, and the command binding 127.0.0.1 only."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ecs_admission.cli.commands import build_parser
from ecs_admission.cli.playground import HOST, build_app
from ecs_admission.web.playground.authoring import EngineCache, compile_errors
from tests.conftest import POLICY_DIR, free_port, wait_ready

PORT = 18081
HOST_HEADER = {"Host": f"127.0.0.1:{PORT}"}
HOST_PID = {
    "family": "debug",
    "pidMode": "host",
    "containerDefinitions": [{"name": "shell", "image": "busybox:1.36", "essential": True, "privileged": True}],
}
CONDITION = 'input.task_definition.pidMode == "host"'


@pytest.fixture(scope="module")
def policies(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("playground") / "policies"
    shutil.copytree(POLICY_DIR, copy)
    return copy


@pytest.fixture(scope="module")
def client(policies):
    return build_app(policies, PORT).test_client()


def call(client, method, path, **kwargs):
    headers = {**HOST_HEADER, **kwargs.pop("headers", {})}
    return getattr(client, method)(path, headers=headers, **kwargs)


def evaluate(client, edits=None, document=None):
    import json

    body = {"input": json.dumps(document or HOST_PID), "files": edits or {}}
    return call(client, "post", "/playground/rego/evaluate", json=body)


def test_lists_and_reads_the_rule_files(client, policies):
    files = call(client, "get", "/playground/rego/files").get_json()
    names = {f["name"] for f in files["files"]}
    assert "isolation.rego" in names and "isolation_test.rego" in names and files["writable"] is True
    source = call(client, "get", "/playground/rego/files/isolation.rego").get_json()["source"]
    assert source == (policies / "isolation.rego").read_text()
    assert call(client, "get", "/playground/rego/files/../pyproject.toml").status_code == 404
    assert call(client, "get", "/playground/rego/files/config.yaml").status_code == 404


def test_an_unsaved_edit_changes_the_verdict_not_the_file(client, policies):
    before = evaluate(client).get_json()
    assert {"ECS-ISO-002", "ECS-ISO-003"} <= {v["rule"] for v in before["violations"]}
    original = (policies / "isolation.rego").read_text()
    edited = original.replace(CONDITION, 'input.task_definition.pidMode == "never"')
    after = evaluate(client, {"isolation.rego": edited}).get_json()
    assert "ECS-ISO-003" not in {v["rule"] for v in after["violations"]}
    assert after["mode"] == "dry-run" and after["policy"]["revision"] != before["policy"]["revision"]
    assert (policies / "isolation.rego").read_text() == original


def test_a_compile_error_names_file_and_line(client, policies):
    original = (policies / "isolation.rego").read_text()
    response = evaluate(
        client, {"isolation.rego": original.replace("import rego.v1", "import rego.v1\nthis is not rego")}
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    line = original.splitlines().index("import rego.v1") + 2
    assert {"file": "isolation.rego", "line": line} == {k: errors[0][k] for k in ("file", "line")}, errors


def test_compile_errors_parse_opa_messages():
    reason = "policies do not compile: a.rego:3: rego_parse_error: unexpected ident; b/c.rego:10:5: rego_type_error: x"
    assert compile_errors(reason) == [
        {"file": "a.rego", "line": 3, "message": "rego_parse_error: unexpected ident"},
        {"file": "b/c.rego", "line": 10, "message": "rego_type_error: x"},
    ]
    assert compile_errors("nothing placed") == [{"file": None, "line": None, "message": "nothing placed"}]


def test_policy_tests_with_coverage_over_the_edit(client, policies):
    clean = call(client, "post", "/playground/rego/test", json={"files": {}}).get_json()
    assert clean["summary"]["fail"] == 0 and clean["summary"]["pass"] > 100
    assert clean["coverage"]["files"]["isolation.rego"]["percent"] > 50
    original = (policies / "isolation.rego").read_text()
    edited = original.replace(CONDITION, 'input.task_definition.pidMode == "never"')
    broken = call(client, "post", "/playground/rego/test", json={"files": {"isolation.rego": edited}}).get_json()
    failed = [t for t in broken["tests"] if t["status"] == "FAIL"]
    assert failed and all(t["name"].startswith("data.ecs.checks.isolation") for t in failed)


def test_save_writes_the_file_and_the_server_decides_with_it(client, policies):
    original = (policies / "isolation.rego").read_text()
    reworded = original.replace('"message": "pidMode is \\"host\\"', '"message": "EDITED pidMode is \\"host\\"')
    assert reworded != original
    try:
        response = call(client, "put", "/playground/rego/files/isolation.rego", json={"source": reworded})
        assert response.status_code == 200 and response.get_json()["reload_error"] is None
        assert (policies / "isolation.rego").read_text() == reworded
        admitted = call(client, "post", "/v1/admit?dry_run=true", json=HOST_PID).get_json()
        messages = [v["message"] for v in admitted["violations"] if v["rule"] == "ECS-ISO-003"]
        assert messages and messages[0].startswith("EDITED")
        # A save whose policies fail their own tests is written, and the server says it kept the
        # policies it had (the reload's validation, as for any policy push).
        disabled = original.replace(CONDITION, 'input.task_definition.pidMode == "never"')
        response = call(client, "put", "/playground/rego/files/isolation.rego", json={"source": disabled})
        assert (policies / "isolation.rego").read_text() == disabled
        assert "test_host_pid_fires" in response.get_json()["reload_error"]
        admitted = call(client, "post", "/v1/admit?dry_run=true", json=HOST_PID).get_json()
        assert "ECS-ISO-003" in {v["rule"] for v in admitted["violations"]}
    finally:
        call(client, "put", "/playground/rego/files/isolation.rego", json={"source": original})
    assert not list(policies.glob(".*playground*"))


def test_the_shipped_policies_are_read_only():
    client = build_app(None, PORT).test_client()
    response = call(client, "put", "/playground/rego/files/isolation.rego", json={"source": "package x"})
    assert response.status_code == 403 and "--policy-dir" in response.get_json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example:18081"},  # DNS rebinding: a foreign name resolving to 127.0.0.1
        {"Host": "127.0.0.1:9999"},
        {"Origin": "http://evil.example"},
    ],
)
def test_other_hosts_and_origins_are_refused(client, headers):
    assert call(client, "get", "/playground/rego/files", headers=headers).status_code == 403
    assert call(client, "post", "/playground/rego/test", json={}, headers=headers).status_code == 403


def test_a_form_post_cannot_write(client):
    """A cross-site form can send text/plain without a preflight; the editor accepts only JSON."""
    response = call(
        client, "put", "/playground/rego/files/isolation.rego", data='{"source": "x"}', content_type="text/plain"
    )
    assert response.status_code == 415


def test_the_command_has_no_host_option():
    with pytest.raises(Exception, match="unrecognized arguments"):
        build_parser().parse_args(["playground", "--host", "0.0.0.0"])
    assert HOST == "127.0.0.1"


def listening_addresses(port: int) -> list[str]:
    """The local addresses of the sockets listening on the port (Linux /proc/net/tcp, tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]) if len(address) == 8 else address)
    return found


@pytest.mark.slow
def test_the_command_serves_on_loopback_only(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, policies)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecs_admission.cli",
            "playground",
            "--policy-dir",
            str(policies),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_ready(port, process, path="/playground", timeout=60)
        listening = listening_addresses(port)
        assert listening and set(listening) == {"127.0.0.1"}, listening
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/playground" in out


def test_the_engine_is_compiled_again_only_when_the_sources_change(policies):
    cache = EngineCache()
    source = (policies / "isolation.rego").read_text()
    with cache.lock:
        first = cache.engine_for(policies, {})
        assert cache.engine_for(policies, {}) is first  # a new input, the same rules: no compile
        edited = cache.engine_for(policies, {"isolation.rego": source + "\n# an edit\n"})
        assert edited is not first
        assert cache.engine_for(policies, {"isolation.rego": source + "\n# an edit\n"}) is edited


def test_the_configured_policy_directory_is_the_one_edited(policies, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_POLICY_DIR", str(policies))
    editor = build_app(None, PORT).extensions["ecs_admission"]["rego_editor"]
    assert editor["policy_dir"] == policies.resolve() and editor["writable"] is True


def test_a_metadata_error_is_placed_too(client, policies):
    """A set that compiles but does not load (a rule id declared twice) is placed like a compile error."""
    original = (policies / "isolation.rego").read_text()
    response = evaluate(client, {"isolation.rego": original.replace("#   id: ECS-ISO-003", "#   id: ECS-ISO-002", 1)})
    assert response.status_code == 422 and response.get_json()["error"] == "policy_does_not_load"
    errors = response.get_json()["errors"]
    line = original.splitlines().index("#   id: ECS-ISO-003") + 1
    assert errors[0]["file"] == "isolation.rego" and abs(errors[0]["line"] - line) <= 5, errors


def test_a_link_loop_in_the_policy_directory_is_not_followed(tmp_path):
    """The editor lists, copies and digests the files the loader reads, as the loader reads them:
    `loop -> .` inside the directory once made the copy and the digest walk forever."""
    policies = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, policies)
    (policies / "loop").symlink_to(".", target_is_directory=True)
    client = build_app(policies, PORT).test_client()
    names = {f["name"] for f in call(client, "get", "/playground/rego/files").get_json()["files"]}
    assert "isolation.rego" in names and not any(name.startswith("loop/") for name in names)
    original = (policies / "isolation.rego").read_text()
    edited = original.replace(CONDITION, 'input.task_definition.pidMode == "never"')
    answer = evaluate(client, {"isolation.rego": edited})
    assert answer.status_code == 200
    assert "ECS-ISO-003" not in {v["rule"] for v in answer.get_json()["violations"]}
    tested = call(client, "post", "/playground/rego/test", json={"files": {}})
    assert tested.status_code == 200 and tested.get_json()["summary"]["fail"] == 0


def test_a_policy_directory_over_the_file_budget_is_a_clear_error(tmp_path, monkeypatch):
    policies = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, policies)
    monkeypatch.setenv("ECS_ADMISSION_POLICY_MAX_FILES", "3")
    client = build_app(policies, PORT).test_client()
    answer = call(client, "get", "/playground/rego/files")
    assert answer.status_code == 422 and answer.get_json()["error"] == "policy_does_not_load"
    assert "more than 3 policy files" in answer.get_json()["detail"]
