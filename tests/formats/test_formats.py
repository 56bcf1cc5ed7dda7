"""github, sarif and junit formats of `ecs-admission check`, on real decisions from the shipped policies."""

from __future__ import annotations

import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import yaml
from lxml import etree

from ecs_admission.cli.commands import main
from ecs_admission.decision import Decision, Finding, TaskDefinitionSummary
from ecs_admission.formats import CheckResult, RenderContext, Source, render
from ecs_admission.formats.github import escape_data, escape_property, step_summary
from ecs_admission.policy.loader import load_policy_set
from tests.conftest import EXAMPLES, POLICY_DIR
from tests.support.sarif_schema import assert_code_scanning_accepts, validate

DENIED = EXAMPLES / "taskdef.json"
CLEAN = EXAMPLES / "taskdef-clean.json"


def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


def many_privileged(tmp_path: Path, count: int, name: str = "many") -> list[str]:
    """`count` privileged containers, one per line block so each has its own line, in as many task
    definition files as ECS's 10 containers per task definition need (many-0.json, many-1.json...)."""
    paths = []
    for start in range(0, count, 10):
        containers = [{"name": f"c{i}", "image": "nginx", "privileged": True} for i in range(min(10, count - start))]
        td = {"family": "wide", "networkMode": "awsvpc", "containerDefinitions": containers}
        path = tmp_path / f"{name}-{start // 10}.json"
        path.write_text(json.dumps(td, indent=2))
        paths.append(str(path))
    return paths


@pytest.fixture(autouse=True)
def only_two_rules(tmp_path_factory, monkeypatch):
    """These tests are about formats, not rules: keep the catalogue to the two rules they were
    written around (ECS-ISO-002, ECS-EXEC-001) so counts and lines stay meaningful as rules grow."""
    directory = tmp_path_factory.mktemp("policies") / "rego"
    shutil.copytree(POLICY_DIR, directory)
    catalog = load_policy_set(directory).catalog
    keep = {"ECS-ISO-002", "ECS-EXEC-001"}
    enforcement = {rule: "off" for rule in catalog if rule not in keep}
    (directory / "config.yaml").write_text(yaml.safe_dump({"enforcement": enforcement}))
    monkeypatch.setenv("ECS_ADMISSION_POLICY_DIR", str(directory))


def annotation_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("::error", "::warning", "::notice"))]


# ---- github -------------------------------------------------------------------------------------


def test_escaping_follows_the_workflow_command_spec():
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a,b:c%\n") == "a%2Cb%3Ac%25%0A"


def test_github_annotations_point_at_file_and_line(monkeypatch):
    monkeypatch.chdir(EXAMPLES.parent)
    code, out, _ = run("check", "--format", "github", "examples/taskdef.json")
    assert code == 1
    lines = annotation_lines(out)
    # ECS-ISO-002, and ECS-EXEC-001 twice (the secrets, and the ECR pull on Fargate).
    assert lines == [line for line in lines if line.startswith("::error ")] and len(lines) == 3
    source = DENIED.read_text().splitlines()
    privileged = next(line for line in lines if "title=ECS-ISO-002::" in line)
    assert privileged.startswith("::error file=examples/taskdef.json,line=")
    line_number = int(privileged.split("line=")[1].split(",")[0])
    assert '"privileged": true' in source[line_number - 1]
    assert "%0AFix: Remove" in privileged and "\n" not in privileged
    # The full text report is in a log group, with workflow commands stopped around it.
    group = out.split("::group::", 1)[1]
    token = group.split("::stop-commands::", 1)[1].split("\n", 1)[0]
    assert len(token) == 32 and f"\n::{token}::\n::endgroup::" in group


def test_dry_run_violations_are_warnings_and_exit_0():
    code, out, _ = run("check", "--format", "github", "--dry-run", str(DENIED))
    lines = annotation_lines(out)
    assert code == 0 and len(lines) == 3
    assert all(line.startswith("::warning ") and "(would deny)" in line for line in lines)


def test_annotations_are_capped_at_10_per_level_and_the_summary_has_everything(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("previous step's summary\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    wide = many_privileged(tmp_path, 13)
    code, out, _ = run("check", "--format", "github", *wide)
    lines = annotation_lines(out)
    assert code == 1
    assert sum(line.startswith("::error ") for line in lines) == 10
    notice = [line for line in lines if line.startswith("::notice ")]
    assert len(notice) == 1 and "3 more error(s)" in notice[0] and "job summary" in notice[0]
    text = summary.read_text()
    assert text.startswith("previous step's summary\n## ecs-admission: denied")  # appended, not overwritten
    assert text.count("| deny | [ECS-ISO-002]") == 13
    for index in range(10):
        assert f"/containerDefinitions/{index}/privileged</code> (line " in text
    assert text.count("/containerDefinitions/2/privileged</code> (line ") == 2  # one in each file


def test_warning_cap_is_separate_from_the_error_cap(tmp_path):
    code, out, _ = run("check", "--format", "github", "--dry-run", *many_privileged(tmp_path, 12))
    lines = annotation_lines(out)
    assert code == 0
    assert sum(line.startswith("::warning ") for line in lines) == 10
    assert "0 more error(s) and 2 more warning(s)" in lines[-1] and "the log above" in lines[-1]


def test_input_errors_are_error_annotations_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the file is in the repository, so annotations name it
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    bad = tmp_path / "bad,name:x.json"
    bad.write_text('{"containerDefinitions": "web"}')
    code, out, err = run("check", "--format", "github", str(bad), str(CLEAN))
    assert code == 2 and "expected a list" in err
    lines = annotation_lines(out)
    assert len(lines) == 1 and lines[0].startswith("::error file=") and "bad%2Cname%3Ax.json" in lines[0]
    assert "title=ecs-admission::" in lines[0]


def test_summary_escapes_markdown_and_html():
    finding = Finding(
        rule="ECS-ROLE-001",
        severity="medium",
        title="Placeholder",
        message="taskRoleArn is <TASK_ROLE_ARN> | not rendered\nsecond line",
        path="/taskRoleArn",
        remediation="Render it & retry",
        docs="https://example.invalid/a b)",
    )
    decision = Decision(
        decision_id="d-1",
        allowed=True,
        enforced=True,
        mode="enforce",
        violations=[],
        warnings=[finding],
        exempted=[],
        task_definition=TaskDefinitionSummary(family="fam|ily", source="codedeploy", envelope="none"),
        engine="embedded",
        revision="r",
        duration_ms=1.0,
    )
    text = step_summary([CheckResult("t.json", decision=decision)], RenderContext())
    row = next(line for line in text.splitlines() if line.startswith("| warn |"))
    assert "&lt;TASK_ROLE_ARN&gt; \\| not rendered<br>second line" in row
    assert "Render it &amp; retry" in row and "(https://example.invalid/a%20b%29)" in row
    assert "fam\\|ily" in text


# ---- sarif --------------------------------------------------------------------------------------


def test_sarif_is_valid_and_locates_results(tmp_path, monkeypatch):
    monkeypatch.chdir(EXAMPLES.parent)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    output = tmp_path / "out" / "results.sarif"
    code, out, _ = run(
        "check", "--format", "sarif", "--output", str(output), "examples/taskdef.json", "examples/taskdef.yaml"
    )
    assert code == 1 and out == ""
    sarif = json.loads(output.read_text())
    assert_code_scanning_accepts(sarif)
    (run_,) = sarif["runs"]
    rules = run_["tool"]["driver"]["rules"]
    assert {rule["id"] for rule in rules} >= {
        "ECS-ISO-001",
        "ECS-ISO-002",
        "ECS-ISO-003",
        "ECS-EXEC-001",
        "ECS-ROLE-001",
    }
    by_id = {rule["id"]: rule for rule in rules}
    assert by_id["ECS-ISO-002"]["defaultConfiguration"]["level"] == "error"
    assert by_id["ECS-ROLE-001"]["defaultConfiguration"]["level"] == "warning"  # medium
    assert by_id["ECS-ISO-002"]["properties"]["security-severity"] == "9.5"
    assert by_id["ECS-ISO-002"]["help"]["text"].startswith("Remove")
    assert by_id["ECS-ISO-002"]["helpUri"].startswith("https://docs.aws.amazon.com/")
    results = run_["results"]
    assert len(results) == 3 and all(r["level"] == "error" for r in results)
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"] == {"uri": "examples/taskdef.json", "uriBaseId": "%SRCROOT%"}
        line = DENIED.read_text().splitlines()[physical["region"]["startLine"] - 1]
        expected = {"ECS-ISO-002": ('"privileged"',), "ECS-EXEC-001": ('"secrets"', '"image"')}[result["ruleId"]]
        assert any(marker in line for marker in expected), line
    assert run_["invocations"][0]["executionSuccessful"] is True
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"] == EXAMPLES.parent.resolve().as_uri() + "/"


def test_sarif_reports_input_errors_as_notifications(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    code, out, _ = run("check", "--format", "sarif", str(bad))
    sarif = json.loads(out)
    assert_code_scanning_accepts(sarif)
    invocation = sarif["runs"][0]["invocations"][0]
    assert code == 2 and invocation["executionSuccessful"] is False
    assert "expected an object" in invocation["toolExecutionNotifications"][0]["message"]["text"]


def test_sarif_dry_run_stdin_and_exemptions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a repository without the file standard input holds
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    code, out, err = run("check", "--format", "sarif", "--dry-run", "-", stdin=DENIED.read_text())
    sarif = json.loads(out)
    assert_code_scanning_accepts(sarif)
    results = sarif["runs"][0]["results"]
    assert code == 0 and all(r["message"]["text"].startswith("[dry-run, would deny]") for r in results)
    # Code scanning needs a location for every result (GH1001): standard input is named `stdin`.
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results} == {"stdin"}
    assert "standard input is outside the repository" in err
    # The shipped policies exempt nothing yet; an exempted finding is a suppressed result.
    finding = Finding(
        "ECS-ISO-002", "critical", "Privileged", "exempt until 2026-12-31 (ticket SEC-1)", "/x", "fix", ""
    )
    decision = Decision(
        "d", True, True, "enforce", [], [], [finding], TaskDefinitionSummary("f", "register", "none"), "e", "r", 0.0
    )
    exempt = json.loads(render("sarif", [CheckResult("x.json", decision=decision)], RenderContext()))
    assert_code_scanning_accepts(exempt)
    (result,) = exempt["runs"][0]["results"]
    assert result["level"] == "note" and result["suppressions"][0]["kind"] == "external"


def sarif_uris(sarif: dict) -> set[str]:
    return {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]}


def test_stdin_from_a_rendered_file_maps_back_to_its_origin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    (tmp_path / "deploy").mkdir()
    shutil.copy(DENIED, tmp_path / "deploy" / "api.json")
    # Not a checkout: nothing is searched (a home directory would be walked for nothing).
    code, out, err = run("check", "--format", "sarif", "-", stdin=DENIED.read_text())
    assert code == 1 and sarif_uris(json.loads(out)) == {"stdin"}
    (tmp_path / ".git").mkdir()
    code, out, err = run("check", "--format", "sarif", "-", stdin=DENIED.read_text())
    sarif = json.loads(out)
    assert_code_scanning_accepts(sarif)
    assert code == 1 and sarif_uris(sarif) == {"deploy/api.json"}
    assert "findings point at deploy/api.json" in err


def test_sarif_uris_are_percent_encoded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    odd = tmp_path / "task defs" / "a#1.json"
    odd.parent.mkdir()
    shutil.copy(DENIED, odd)
    sarif = json.loads(run("check", "--format", "sarif", "task defs/a#1.json")[1])
    assert_code_scanning_accepts(sarif)
    location = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location["uri"] == "task%20defs/a%231.json"


def test_the_full_schema_rejects_what_code_scanning_would():
    good = json.loads(run("check", "--format", "sarif", str(DENIED))[1])
    for breakage in (
        lambda s: s.pop("version"),
        lambda s: s["runs"][0]["tool"]["driver"].pop("name"),
        lambda s: s["runs"][0]["results"][0].update(level="fatal"),
        lambda s: s["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"].update(startLine=0),
        lambda s: s["runs"][0]["results"][0].update(ruleIndx=0),
    ):
        broken = json.loads(json.dumps(good))
        breakage(broken)
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)


# ---- junit --------------------------------------------------------------------------------------

# Jenkins' xunit plugin validates JUnit reports with this schema (jenkinsci/xunit-plugin,
# src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/junit-10.xsd, MIT).
JUNIT_XSD = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "support" / "junit-10.xsd")))


def junit_root(out: str) -> ET.Element:
    """The report, after checking it against junit-10.xsd."""
    document = etree.fromstring(out.encode())
    assert JUNIT_XSD.validate(document), JUNIT_XSD.error_log
    return ET.fromstring(out)


def test_junit_one_testcase_per_rule_per_task_definition(tmp_path):
    code, out, _ = run("check", "--format", "junit", str(DENIED), str(CLEAN))
    root = junit_root(out)
    suites = root.findall("testsuite")
    assert code == 1 and len(suites) == 2
    rule_count = len(suites[0].findall("testcase"))
    assert rule_count >= 5 and len(suites[1].findall("testcase")) == rule_count
    assert root.get("tests") == str(2 * rule_count) and root.get("failures") == "2"
    failed = {
        case.get("name").split(":")[0]: case
        for case in suites[0].findall("testcase")
        if case.find("failure") is not None
    }
    assert set(failed) == {"ECS-ISO-002", "ECS-EXEC-001"}
    failure = failed["ECS-ISO-002"].find("failure")
    assert failure.get("type") == "deny" and "runs privileged" in failure.get("message")
    assert "/containerDefinitions/0/privileged (line 13)" in failure.text and "fix: Remove" in failure.text
    # junit-10.xsd has no testcase@file: the suite names the file, and so does each failure's text.
    assert suites[0].get("file").endswith("examples/taskdef.json") and "examples/taskdef.json: " in failure.text
    assert all(case.get("file") is None for case in root.iter("testcase")) and root.get("skipped") is None
    properties = {p.get("name"): p.get("value") for p in suites[0].find("properties")}
    assert properties["allowed"] == "false" and properties["mode"] == "enforce"
    assert suites[1].get("failures") == "0"


def test_junit_warn_off_and_errors(tmp_path):
    policies = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, policies)
    (policies / "config.yaml").write_text("enforcement:\n  ECS-ISO-002: warn\n  ECS-ISO-003: 'off'\n")
    bad = tmp_path / "bad.json"
    bad.write_text("{\x01")
    code, out, _ = run("check", "--format", "junit", "--policy-dir", str(policies), str(DENIED), str(bad))
    root = junit_root(out)
    suite, errored = root.findall("testsuite")
    cases = {case.get("name").split(":")[0]: case for case in suite.findall("testcase")}
    assert code == 2
    assert cases["ECS-ISO-002"].find("failure") is None
    assert "warning: ECS-ISO-002" in cases["ECS-ISO-002"].find("system-out").text
    assert cases["ECS-ISO-003"].find("skipped").get("message") == "rule enforcement is off"
    assert cases["ECS-EXEC-001"].find("failure") is not None
    assert errored.get("errors") == "1" and errored.find("testcase/error") is not None


def test_junit_strips_characters_xml_cannot_carry():
    finding = Finding("R-1", "low", "t", "bad \x07 bell", "/p", "fix", "")
    decision = Decision(
        "d", False, True, "enforce", [finding], [], [], TaskDefinitionSummary("f", "register", "none"), "e", "r", 0.0
    )
    out = render("junit", [CheckResult("x.json", decision=decision, source=Source("x.json", b"{}"))], RenderContext())
    assert "bad \ufffd bell" in junit_root(out).find("testsuite/testcase/failure").get("message")


def test_junit_schema_refuses_what_jenkins_would():
    out = run("check", "--format", "junit", str(DENIED))[1]
    junit_root(out)
    for attribute in ("testsuites", "skipped"), ("testcase", "file"):
        broken = etree.fromstring(out.encode())
        next(broken.iter(attribute[0])).set(attribute[1], "1")
        assert not JUNIT_XSD.validate(broken)


# ---- options ------------------------------------------------------------------------------------


def test_report_writes_extra_formats_from_the_same_decisions(tmp_path):
    sarif, junit = tmp_path / "r.sarif", tmp_path / "deep" / "r.xml"
    code, out, _ = run(
        "check", "--format", "json", "--report", f"sarif={sarif}", "--report", f"junit={junit}", str(DENIED)
    )
    decision_id = json.loads(out)["decision_id"]
    assert code == 1
    assert all(
        r["properties"]["decision_id"] == decision_id for r in json.loads(sarif.read_text())["runs"][0]["results"]
    )
    props = {p.get("name"): p.get("value") for p in ET.parse(junit).getroot().find("testsuite/properties")}
    assert props["decision_id"] == decision_id


def test_bad_report_and_output_options_exit_2(tmp_path):
    code, _, err = run("check", "--report", "xml=out.xml", str(DENIED))
    assert code == 2 and "FORMAT=FILE" in err
    code, _, err = run("check", "--output", str(tmp_path), str(DENIED))
    assert code == 2 and "cannot write" in err and err.count("\n") == 1


def test_source_file_attributes_lines_to_the_template(tmp_path):
    # The render action rewrites the file; annotations should point at the template in the repository.
    rendered = tmp_path / "rendered.json"
    rendered.write_text(json.dumps(json.loads(DENIED.read_text())))  # one line
    code, out, _ = run("check", "--format", "github", "--source-file", str(DENIED), str(rendered))
    privileged = next(line for line in annotation_lines(out) if "ECS-ISO-002" in line)
    assert code == 1 and ",line=13," in privileged and "taskdef.json" in privileged
    code, _, err = run("check", "--source-file", str(DENIED), str(rendered), str(CLEAN))
    assert code == 2 and "exactly one PATH" in err
