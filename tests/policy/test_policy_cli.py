"""`ecs-admission policy test` and `policy list`, and docs/rules.md generated from the catalogue."""

from __future__ import annotations

import io
import json
import shutil

from ecs_admission.cli.commands import main
from tests.conftest import POLICY_DIR, REPO


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, stdin=io.StringIO(""))
    return code, out.getvalue(), err.getvalue()


def policy_with_module(tmp_path, name: str, module: str, test: str):
    """The shipped policies plus NAME.rego and its NAME_test.rego."""
    directory = policy_copy(tmp_path)
    (directory / f"{name}.rego").write_text(module)
    (directory / f"{name}_test.rego").write_text(test)
    return directory


def policy_copy(tmp_path):
    directory = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, directory)
    return directory


def test_policy_test_passes_on_the_shipped_policies():
    code, out, err = run("policy", "test")
    assert code == 0, out + err
    assert out.strip().splitlines() == [f"PASS: {count}/{count}" for count in [int(out.split("/")[-1])]]
    assert int(out.split("/")[-1]) >= 150


def test_policy_test_verbose_lists_every_test_by_file_like_opa_test():
    code, out, _ = run("policy", "test", "-v", "--run", "trust_test")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0] == "trust_test.rego:"
    assert "data.ecs.checks.trust_test.test_recommended_trust_policy_has_no_findings: PASS" in lines
    assert lines[-2] == "-" * 80 and lines[-1] == f"PASS: {len(lines) - 3}/{len(lines) - 3}"


def test_policy_test_reports_failures_with_file_line_and_expression_and_exits_1(tmp_path):
    directory = policy_copy(tmp_path)
    (directory / "team_test.rego").write_text(
        "package ecs.team_test\n\nimport rego.v1\n\ntest_ok if { 1 == 1 }\n\n"
        "test_broken if {\n\tcount([1, 2]) == 3\n}\n\ntodo_test_later if { false }\n"
    )
    code, out, _ = run("policy", "test", "--policy-dir", str(directory), "--run", "team_test")
    assert code == 1
    assert out.splitlines() == [
        "team_test.rego:",
        "data.ecs.team_test.test_broken: FAIL",
        "  team_test.rego:7: undefined, failed at team_test.rego:8: count([1, 2]) == 3",
        "-" * 80,
        "PASS: 1/3",
        "FAIL: 1/3",
        "SKIPPED: 1/3",
    ]
    code, out, _ = run("policy", "test", "--policy-dir", str(directory), "--run", "team_test", "--format", "json")
    statuses = {t["name"]: (t["status"], t["location"]) for t in json.loads(out)["tests"]}
    assert statuses == {
        "data.ecs.team_test.test_ok": ("PASS", "team_test.rego:5"),
        "data.ecs.team_test.test_broken": ("FAIL", "team_test.rego:7"),
        "data.ecs.team_test.todo_test_later": ("SKIPPED", "team_test.rego:11"),
    }


def test_policy_test_coverage_reports_each_file(tmp_path):
    directory = policy_with_module(
        tmp_path,
        "extra",
        "package ecs.extra\n\nimport rego.v1\n\nused if input.x == 1\n\nunused if input.y == 2\n",
        "package ecs.extra_test\n\nimport rego.v1\n\nimport data.ecs.extra\n\n"
        'test_used if extra.used with input as {"x": 1}\n',
    )
    code, out, _ = run("policy", "test", "--policy-dir", str(directory), "--run", "extra_test", "--coverage")
    assert code == 0
    assert [line.split()[:2] for line in out.splitlines() if line.startswith("extra.rego ")] == [["extra.rego", "1/2"]]
    code, out, _ = run(
        "policy", "test", "--policy-dir", str(directory), "--run", "extra_test", "--coverage", "--format", "json"
    )
    report = json.loads(out)["coverage"]["files"]["extra.rego"]
    assert report["covered_lines"] == 1 and report["not_covered"] == [7]


def test_policy_test_without_tests_fails(tmp_path):
    directory = policy_copy(tmp_path)
    for test_file in directory.glob("*_test.rego"):
        test_file.unlink()
    code, out, _ = run("policy", "test", "--policy-dir", str(directory))
    assert code == 1 and "no tests found" in out


def test_policy_test_on_a_policy_that_does_not_load_is_exit_2(tmp_path):
    directory = policy_copy(tmp_path)
    (directory / "config.yaml").write_text("enforcement: {ECS-ISO-02: off}\n")
    code, _, err = run("policy", "test", "--policy-dir", str(directory))
    assert code == 2
    assert "config.yaml: enforcement.ECS-ISO-02" in err and len(err.strip().splitlines()) == 1


def test_policy_test_reports_opas_compile_error_with_file_and_line(tmp_path):
    directory = policy_copy(tmp_path)
    (directory / "broken.rego").write_text("package ecs.checks.broken\n\nfindings := {x |\n")
    code, out, err = run("policy", "test", "--policy-dir", str(directory), "--run", "lib_test")
    assert code == 2 and out == ""  # a set that does not compile is a usage error (docs/cli.md), not a failing test
    assert err.startswith("ecs-admission: policies do not compile: broken.rego:4: rego_parse_error: unexpected eof")


def test_policy_group_needs_a_subcommand():
    code, _, err = run("policy")
    assert code == 2 and "a policy command is required" in err


def test_policy_list_table_json_and_bad_format():
    code, out, _ = run("policy", "list")
    assert code == 0
    header, *rows = out.strip().splitlines()
    assert header.split()[:3] == ["ID", "ENFORCEMENT", "SEVERITY"]
    assert rows[0].startswith("ECS-EXEC-001") and any(r.startswith("ECS-ISO-002 ") for r in rows)

    code, out, _ = run("policy", "list", "--format", "json")
    listing = json.loads(out)
    rules = {rule["id"]: rule for rule in listing["rules"]}
    assert rules["ECS-ISO-002"]["anchors"] and rules["ECS-ISO-002"]["beyond_anchors"]
    assert rules["ECS-HARD-002"]["enforcement"] == "warn" and rules["ECS-HARD-002"]["package"] == "hardening"

    code, _, err = run("policy", "list", "--format", "xml")
    assert code == 2 and "invalid choice" in err


def test_policy_list_shows_config_overrides(tmp_path):
    directory = policy_copy(tmp_path)
    (directory / "config.yaml").write_text(
        "enforcement: {ECS-HARD-005: deny}\n"
        "exemptions:\n"
        "  - {rule: ECS-ISO-005, family: 'agent-*', justification: vetted, ticket: SEC-9, expires: 2027-01-31}\n"
    )
    code, out, _ = run("policy", "list", "--format", "markdown", "--policy-dir", str(directory))
    assert code == 0
    assert "enforcement deny (catalogue default warn, changed in config.yaml)" in out
    assert "exemption ECS-ISO-005 for family `agent-*` until 2027-01-31 (SEC-9): vetted" in out


def test_docs_rules_md_is_generated_from_the_catalogue():
    code, out, _ = run("policy", "list", "--format", "markdown")
    assert code == 0
    current = (REPO / "docs" / "rules.md").read_text()
    assert current == out, "docs/rules.md is stale: run `ecs-admission policy list --format markdown > docs/rules.md`"


def test_verbose_shows_print_output_under_the_test_that_printed(tmp_path):
    # As `opa test -v` does: a print() in a rule shows under each test whose evaluation reached it.
    directory = policy_with_module(
        tmp_path,
        "noisy",
        "package ecs.checks.noisy\n\nimport rego.v1\n\n"
        'findings contains "x" if {\n\tprint("saw", input.n)\n\tinput.n > 1\n}\n',
        "package ecs.checks.noisy_test\n\nimport rego.v1\n\nimport data.ecs.checks.noisy\n\n"
        'test_big if noisy.findings with input as {"n": 2}\n\ntest_quiet if 1 == 1\n',
    )
    code, out, _ = run("policy", "test", "--policy-dir", str(directory), "--run", "noisy", "-v")
    assert code == 0
    assert "data.ecs.checks.noisy_test.test_big: PASS\n  noisy.rego:6: saw 2\n" in out
    assert "test_quiet: PASS\n-" in out
    code, out, _ = run("policy", "test", "--policy-dir", str(directory), "--run", "noisy", "--format", "json")
    outputs = {test["name"].rsplit(".", 1)[1]: test["output"] for test in json.loads(out)["tests"]}
    assert outputs == {"test_big": ["noisy.rego:6: saw 2"], "test_quiet": []}
