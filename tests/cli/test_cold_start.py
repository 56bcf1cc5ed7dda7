"""A cold `ecs-admission check` pays only for what it uses: no botocore when it makes no AWS call,
no HTTP client when it asks no gate, no module only another command or input shape needs, no
readiness canary (its own decisions fail closed), and the ECS field model (ECS-INPUT-001) read
without botocore, identical to botocore's own."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from ecs_admission.cli import main
from ecs_admission.config import Settings
from ecs_admission.engines import UnavailableEngine
from ecs_admission.engines.canary import CANARY
from ecs_admission.engines.embedded import EmbeddedEngine
from ecs_admission.engines.factory import build_engine
from ecs_admission.inputs import ecs_model, fields
from tests.conftest import EXAMPLES, POLICY_DIR, REPO

PROBE = """
import json, sys
from ecs_admission.cli import main
code = main(["check", sys.argv[1], "--format", "json"])
aws = sorted(m for m in sys.modules if m.split(".")[0] in ("botocore", "boto3", "s3transfer"))
client = sorted(m for m in ("http.client", "urllib.request", "ssl") if m in sys.modules)
print(json.dumps({"code": code, "loaded": aws, "gate_client": client}), file=sys.stderr)
"""


def test_check_with_iam_lookups_off_never_imports_botocore():
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(EXAMPLES / "taskdef.json")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "ECS_ADMISSION_IAM_LOOKUP": "off"},
    )
    report = json.loads(result.stderr.strip().splitlines()[-1])
    # Denied, as the example is, decided without botocore, and without the HTTP client that only
    # `check --url` uses.
    assert report == {"code": 1, "loaded": [], "gate_client": []}
    assert json.loads(result.stdout)  # the decision was reported


def test_the_field_model_is_botocores():
    import botocore.loaders

    model = botocore.loaders.create_loader().load_service_model("ecs", "service-2")
    expected: dict = {}
    for name in ecs_model.ROOT_SHAPES:
        expected.update(ecs_model._tree(model["shapes"], name))
    assert expected == fields.KNOWN
    assert model["metadata"]["apiVersion"] == fields.API_VERSION


def test_a_model_the_shipped_tree_was_not_made_from_is_read_directly(tmp_path, monkeypatch):
    shipped = json.loads(ecs_model.SHIPPED.read_text())
    stale = tmp_path / "ecs_api_fields.json"
    stale.write_text(json.dumps({**shipped, "model_sha256": "0" * 64, "fields": {"family": None}}))
    monkeypatch.setattr(ecs_model, "SHIPPED", stale)
    known, version = ecs_model.load_known()
    assert known == fields.KNOWN and version == fields.API_VERSION


# What a `check` of one task definition, in text or JSON, has no use for: the template and plan
# machinery, the fixer, the bundle writer, the Rego test runner and the other output formats.
NOT_NEEDED = (
    "ecs_admission.gate.templates",
    "ecs_admission.gate.terraform",
    "ecs_admission.gate.fixer",
    "ecs_admission.inputs.cloudformation.resources",
    "ecs_admission.inputs.terraform.load",
    "ecs_admission.engines.bundle",
    "ecs_admission.engines.rego_tests",
    "ecs_admission.formats.github",
    "ecs_admission.formats.sarif",
    "ecs_admission.formats.junit",
    "ecs_admission.iam.managed",
    "tarfile",
    "xml.etree.ElementTree",
    "concurrent.futures",  # the IAM lookups' pool: lookups are off here
    "gzip",  # reading botocore's ECS model, when the shipped field tree is stale
    "difflib",  # suggesting a name for an unknown key
)
LAZY_PROBE = """
import json, sys
from ecs_admission.cli import main
watched = json.loads(sys.argv[1])
code = main(["check", *sys.argv[2:]])
print(json.dumps({"code": code, "loaded": sorted(m for m in watched if m in sys.modules)}), file=sys.stderr)
"""


def _probe_loaded(*arguments):
    result = subprocess.run(
        [sys.executable, "-c", LAZY_PROBE, json.dumps(NOT_NEEDED), *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "ECS_ADMISSION_IAM_LOOKUP": "off"},
    )
    return json.loads(result.stderr.strip().splitlines()[-1])


def test_a_task_definition_check_loads_only_what_it_uses():
    assert _probe_loaded(EXAMPLES / "taskdef.json") == {"code": 1, "loaded": []}
    assert _probe_loaded(EXAMPLES / "taskdef.json", "--format", "json") == {"code": 1, "loaded": []}


def test_a_template_check_still_loads_the_template_machinery():
    report = _probe_loaded(EXAMPLES / "template.yaml", "--format", "sarif")
    assert report["code"] in (0, 1)
    assert {"ecs_admission.gate.templates", "ecs_admission.formats.sarif"} <= set(report["loaded"])


# A check package whose rule has two values: OPA's eval_conflict_error on every input.
CONFLICT = "package ecs.checks.conflict\n\nimport rego.v1\n\nfindings := {}\n\nfindings := {1}\n"


# The shipped decision renamed, and one whose violations are not a list put in its place.
MALFORMED_DECISION = 'package ecs.admission\n\nimport rego.v1\n\ndecision := {"violations": "none"}\n'


def _policy_copy(tmp_path, name: str | None = None, source: str = "", replace: tuple[str, str] | None = None):
    directory = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, directory)
    if name:
        (directory / name).write_text(source)
    if replace:
        admission = directory / "admission.rego"
        text = admission.read_text()
        assert replace[0] in text
        admission.write_text(text.replace(*replace))
    return directory


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_set_that_errors_on_every_input_still_fails_a_check_closed(tmp_path, capsys, output):
    # No readiness canary for a `check`: its own decision is what fails, exit 3 with OPA's reason.
    directory = _policy_copy(tmp_path, "conflict.rego", CONFLICT)
    for path in (EXAMPLES / "taskdef-clean.json", EXAMPLES / "taskdef.json"):
        code = main(["check", "--policy-dir", str(directory), "--format", output, str(path)])
        err = capsys.readouterr().err
        assert code == 3, err
        assert "policy engine could not decide" in err and "conflict" in err
    code = main(["check", "--dry-run", "--policy-dir", str(directory), str(EXAMPLES / "taskdef-clean.json")])
    assert code == 3  # dry-run reports the verdict without blocking; an engine error is no verdict


def test_an_undefined_or_malformed_decision_fails_a_check_closed(tmp_path, capsys):
    undefined = _policy_copy(tmp_path / "u", replace=("decision := ", "decision_renamed := "))
    assert main(["check", "--policy-dir", str(undefined), str(EXAMPLES / "taskdef-clean.json")]) == 3
    assert "data.ecs.admission.decision is undefined" in capsys.readouterr().err
    malformed = _policy_copy(
        tmp_path / "m", "malformed.rego", MALFORMED_DECISION, replace=("\ndecision := ", "\ndecision_shipped := ")
    )
    assert main(["check", "--policy-dir", str(malformed), str(EXAMPLES / "taskdef-clean.json")]) == 3
    assert "'violations' is not a list" in capsys.readouterr().err


def test_a_check_evaluates_no_canary_and_a_server_does(monkeypatch):
    seen: list[dict] = []
    original = EmbeddedEngine.evaluate

    def evaluate(self, document):
        seen.append(document)
        return original(self, document)

    monkeypatch.setattr(EmbeddedEngine, "evaluate", evaluate)
    settings = Settings(policy_dir=POLICY_DIR)
    engine = build_engine(settings, expected_decisions=1)
    assert not isinstance(engine, UnavailableEngine) and seen == []
    engine.evaluate(CANARY)  # the engine itself is the same: it decides
    assert seen == [CANARY]
    seen.clear()
    assert not isinstance(build_engine(settings), UnavailableEngine)
    assert seen == [CANARY]  # the server's start-up canary


def test_a_policy_that_does_not_compile_is_still_reported_as_such(tmp_path, capsys):
    directory = _policy_copy(tmp_path, "broken.rego", "package ecs.checks.broken\nfindings := {x |\n")
    assert main(["check", "--policy-dir", str(directory), str(EXAMPLES / "taskdef-clean.json")]) == 3
    err = capsys.readouterr().err
    assert "policies do not compile" in err and "broken.rego:" in err


def test_the_console_script_ends_a_check_with_its_output_and_reports_whole(tmp_path):
    """`check` leaves without the interpreter's teardown: what it wrote must all be there first."""
    report = tmp_path / "findings.sarif"
    result = subprocess.run(
        [sys.executable, "-m", "ecs_admission.cli", "check", str(EXAMPLES / "taskdef.json"), "--format", "json",
         "--report", f"sarif={report}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "ECS_ADMISSION_IAM_LOOKUP": "off"},
    )
    assert result.returncode == 1, result.stderr  # the example is denied
    assert json.loads(result.stdout)["allowed"] is False
    assert json.loads(report.read_text())["runs"][0]["results"]
    # Other commands exit as before (their code, through sys.exit).
    usage = subprocess.run(
        [sys.executable, "-m", "ecs_admission.cli", "policy", "--no-such-option"],
        capture_output=True, text=True, timeout=120, cwd=REPO, env={"PATH": "/usr/bin:/bin"},
    )
    assert usage.returncode == 2 and "ecs-admission" in usage.stderr


def test_the_lazy_packages_export_their_names_and_refuse_others():
    import ecs_admission.inputs.cloudformation as cloudformation
    import ecs_admission.inputs.terraform as terraform
    from ecs_admission.inputs.cloudformation.resources import load_template
    from ecs_admission.inputs.terraform.load import load_plan

    assert cloudformation.load_template is load_template and terraform.load_plan is load_plan
    assert "load_template" in vars(cloudformation)  # found once, then an ordinary attribute
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        _ = terraform.nothing_here
