"""deploy/codepipeline: the gate Lambda's and the pipeline's templates (cfn-lint, least privilege, the
gate stage's place), the CodeBuild buildspec run for real against a local gate, and the docs that
name them. The handler itself is tested in tests/integrations/test_codepipeline.py.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from ecs_admission.integrations.codepipeline import ActionConfig, handler
from tests.conftest import EXAMPLES
from tests.support.codepipeline import DEPLOY, IMAGE, role_actions, taskdef, template
from tests.support.doc_pages import code_blocks, page, section
from tests.support.pipeline_servers import gate_server


@pytest.mark.parametrize("name", ["gate-lambda.yaml", "pipeline.yaml"])
def test_templates_pass_cfn_lint(name):
    import cfnlint.api  # here, not at import: it costs ~2 s and only this test needs it

    text = (DEPLOY / name).read_text()
    assert [str(match) for match in cfnlint.api.lint(text)] == []
    broken = text.replace("Type: AWS::IAM::Role", "Type: AWS::IAM::Rolle").replace(
        "Category: Invoke", "Category: Invok"
    )
    assert cfnlint.api.lint(broken), "cfn-lint accepted a broken template: the check above proves nothing"


def test_lambda_role_is_least_privilege():
    assert role_actions() == {
        "codepipeline:PutJobSuccessResult",
        "codepipeline:PutJobFailureResult",
        "ecs:DescribeServices",
        "ecs:DescribeTaskDefinition",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:SendMessage",  # its dead-letter queue
        "kms:Decrypt",  # its key: the dead-letter queue and the environment are encrypted with it
        "kms:GenerateDataKey",
    }
    function = template("gate-lambda.yaml")["Resources"]["Function"]["Properties"]
    module, _, attribute = function["Handler"].rpartition(".")
    assert getattr(importlib.import_module(module), attribute) is handler
    assert function["Runtime"] == "python3.14" and function["Architectures"] == ["x86_64"]


def test_pipeline_gate_stage_sits_between_build_and_deploy():
    parameters = {"ClusterName": "prod", "ServiceName": "payments-api"}
    stages = template("pipeline.yaml")["Resources"]["Pipeline"]["Properties"]["Stages"]
    names = [stage["Name"] for stage in stages]
    assert names.index("Build") < names.index("Gate") < names.index("Deploy")
    (gate_action,) = stages[names.index("Gate")]["Actions"]
    (deploy_action,) = stages[names.index("Deploy")]["Actions"]
    assert gate_action["ActionTypeId"] == {"Category": "Invoke", "Owner": "AWS", "Provider": "Lambda", "Version": "1"}
    assert gate_action["InputArtifacts"] == deploy_action["InputArtifacts"]
    raw = gate_action["Configuration"]["UserParameters"]["Fn::Sub"]
    config = ActionConfig.parse(re.sub(r"\$\{(\w+)\}", lambda m: parameters[m.group(1)], raw))
    assert (config.cluster, config.service) == (
        deploy_action["Configuration"]["ClusterName"]["Ref"] and "prod",
        "payments-api",
    )
    assert deploy_action["Configuration"]["FileName"] == ActionConfig().image_definitions_file


def run_buildspec(workdir: Path, variables: dict[str, str]) -> subprocess.CompletedProcess:
    """The build phase as CodeBuild runs it: the commands in order, in one bash, stopping at a failure."""
    spec = yaml.safe_load((DEPLOY / "buildspec.yml").read_text())
    assert spec["version"] == 0.2 and spec["env"]["shell"] == "bash"
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", **spec["env"]["variables"], **variables}
    script = "set -e\n" + "\n".join(spec["phases"]["build"]["commands"])
    return subprocess.run(["bash", "-c", script], cwd=workdir, env=env, capture_output=True, text=True, timeout=60)


def junit_report(workdir: Path) -> ET.Element:
    spec = yaml.safe_load((DEPLOY / "buildspec.yml").read_text())
    group = spec["reports"]["ecs-admission"]
    assert group["file-format"] == "JUNITXML"
    (pattern,) = group["files"]
    return ET.parse(workdir / group["base-directory"] / pattern).getroot()


def test_buildspec_fails_the_build_and_writes_the_junit_report(tmp_path):
    shutil.copy(EXAMPLES / "taskdef.json", tmp_path / "taskdef.json")
    result = run_buildspec(tmp_path, {})
    assert result.returncode == 1 and "DENIED" in result.stdout
    report = junit_report(tmp_path)
    assert report.get("failures") == "2" and int(report.get("tests")) >= 5


def test_buildspec_dry_run_passes_with_the_same_report(tmp_path):
    shutil.copy(EXAMPLES / "taskdef.json", tmp_path / "taskdef.json")
    result = run_buildspec(tmp_path, {"DRY_RUN": "true"})
    assert result.returncode == 0 and "WOULD DENY" in result.stdout
    assert junit_report(tmp_path).get("failures") == "2"


def test_buildspec_substitutes_the_image_and_asks_the_gate(tmp_path):
    (tmp_path / "taskdef.json").write_text(json.dumps(taskdef(), indent=2))
    with gate_server() as gate:
        result = run_buildspec(tmp_path, {"IMAGE_URI": IMAGE, "GATE_URL": gate.url})
    assert result.returncode == 0, result.stderr
    sent = json.loads(gate.requests[0].body)
    assert sent["containerDefinitions"][0]["image"] == IMAGE
    assert junit_report(tmp_path).get("failures") == "0"
    assert "<IMAGE1_NAME>" in (tmp_path / "taskdef.json").read_text()  # the source file is left alone


def test_package_script_targets_the_runtime_the_engine_installs_on():
    script = (DEPLOY.parent / "lambda" / "package.sh").read_text()  # package-lambda.sh runs it
    assert "--platform manylinux_2_34_x86_64" in script and "LAMBDA_PYTHON_VERSION:-3.14" in script
    assert template("gate-lambda.yaml")["Resources"]["Function"]["Properties"]["Runtime"] == "python3.14"
    assert template("gate-lambda.yaml")["Resources"]["Function"]["Properties"]["Handler"] in script


def pipelines_section(heading: str) -> str:
    return section(page("pipelines.md"), f"## {heading}")


def test_documented_user_parameters_are_what_the_handler_accepts():
    (block,) = code_blocks(pipelines_section("CodePipeline"), "json")
    config = ActionConfig.parse(block)
    assert config.cluster == "prod" and config.images == {"IMAGE1_NAME": "ImageArtifact"}
    assert set(json.loads(block)) == set(ActionConfig.KEYS)  # every parameter is documented


def test_documented_codebuild_command_is_the_buildspec_command():
    (command,) = code_blocks(pipelines_section("CodeBuild"), "sh")
    build = "\n".join(yaml.safe_load((DEPLOY / "buildspec.yml").read_text())["phases"]["build"]["commands"])
    assert command.startswith('ecs-admission check "$gated" ')
    assert f"args=({command.removeprefix('ecs-admission ')})" in build
