"""Reports show the proposed fixes: SARIF `fixes` (valid against the full SARIF schema, and equal to
what `ecs-admission fix` writes), the patch in text and github output (docs/fixes.md)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from ecs_admission.cli.commands import main
from tests.cli.test_fix_cli import DANGEROUS
from tests.conftest import EXAMPLES
from tests.support.sarif_schema import assert_code_scanning_accepts, validate


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, stdin=io.StringIO())
    return code, out.getvalue(), err.getvalue()


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "agent.json").write_text(json.dumps(DANGEROUS, indent=2) + "\n")
    shutil.copy(EXAMPLES / "template.yaml", tmp_path / "template.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    return tmp_path


def apply_replacements(text: str, replacements: list[dict]) -> str:
    for change in sorted(replacements, key=lambda r: r["deletedRegion"]["charOffset"], reverse=True):
        region = change["deletedRegion"]
        inserted = change.get("insertedContent", {}).get("text", "")
        text = text[: region["charOffset"]] + inserted + text[region["charOffset"] + region["charLength"] :]
    return text


@pytest.mark.parametrize("name", ["agent.json", "template.yaml"])
def test_sarif_fixes_pass_the_full_schema_and_make_the_cli_fix(repo, name):
    code, out, _ = run("check", "--format", "sarif", name)
    assert code == 1
    sarif = json.loads(out)
    validate(sarif)
    assert_code_scanning_accepts(sarif)
    results = sarif["runs"][0]["results"]
    fixed = [r for r in results if r.get("fixes")]
    assert fixed and {r["ruleId"] for r in fixed} <= {"ECS-ISO-002", "ECS-ISO-003", "ECS-ISO-004", "ECS-ISO-006"}
    assert not [r for r in results if r["ruleId"] in ("ECS-ISO-001", "ECS-ISO-007") and r.get("fixes")]
    source = (repo / name).read_text()
    for result in fixed:
        (change,) = result["fixes"][0]["artifactChanges"]
        assert change["artifactLocation"] == result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert apply_replacements(source, change["replacements"]) != source
    # One fix at a time, as a viewer applies them: for a single-fix file the edit is the CLI's output.
    if name == "template.yaml":
        (result,) = fixed
        _, cli_out, _ = run("fix", name)
        assert apply_replacements(source, result["fixes"][0]["artifactChanges"][0]["replacements"]) == cli_out


def test_sarif_fix_of_one_field_deletes_exactly_its_line(repo):
    (repo / "taskdef.json").write_text((EXAMPLES / "taskdef.json").read_text())
    sarif = json.loads(run("check", "--format", "sarif", "taskdef.json")[1])
    (result,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "ECS-ISO-002"]
    (replacement,) = result["fixes"][0]["artifactChanges"][0]["replacements"]
    source = (repo / "taskdef.json").read_text()
    region = replacement["deletedRegion"]
    assert source[region["charOffset"] : region["charOffset"] + region["charLength"]] == '      "privileged": true,\n'
    assert "insertedContent" not in replacement


def test_sarif_from_stdin_has_no_fixes_but_is_valid(repo):
    (repo / "agent.json").unlink()  # else standard input is traced back to it (formats/origin.py)
    out, err = io.StringIO(), io.StringIO()
    main(["check", "--format", "sarif", "-"], stdout=out, stderr=err, stdin=io.StringIO(json.dumps(DANGEROUS)))
    sarif = json.loads(out.getvalue())
    validate(sarif)
    assert not any(r.get("fixes") for r in sarif["runs"][0]["results"])


def test_text_and_github_formats_show_the_patch(repo):
    _, text, _ = run("check", "agent.json")
    assert '         patch: [{"op": "test", "path": "/pidMode", "value": "host"}, ' in text
    _, github, _ = run("check", "--format", "github", "agent.json")
    iso3 = [line for line in github.splitlines() if "title=ECS-ISO-003" in line]
    assert iso3 and "Patch (ecs-admission fix applies it): [{" in iso3[0]
    # No patch line for a finding without a fix.
    _, text, _ = run("check", str(EXAMPLES / "taskdef-clean.json"))
    assert "patch:" not in text
