"""`ecs-admission policy bundle`: a standard OPA bundle, built without the opa binary."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import pytest

from ecs_admission.cli.commands import main
from ecs_admission.engines.embedded import EmbeddedEngine
from ecs_admission.policy.loader import load_policy_set
from tests.conftest import POLICY_DIR
from tests.support.opa_fixtures import bundle_manifest, bundle_members, start_standin

POLICY = load_policy_set(POLICY_DIR)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, stdin=io.StringIO())
    return code, out.getvalue(), err.getvalue()


def test_bundle_layout(policy_bundle):
    members = bundle_members(policy_bundle)
    modules = {f"/{m.name}" for m in POLICY.modules}
    assert set(members) == {"/.manifest", "/data.json", *modules}
    assert not any(name.endswith("_test.rego") for name in members)
    for module in POLICY.modules:
        assert members[f"/{module.name}"].decode() == module.source
    manifest = json.loads(members["/.manifest"])
    assert manifest["roots"] == ["ecs"]
    assert manifest["revision"] == POLICY.revision
    data = json.loads(members["/data.json"])
    # The policy directory's data, plus the decision table the engine works out from it once.
    derived = data["ecs"].pop("decision_table")
    assert derived["table"] == EmbeddedEngine(POLICY).query({}, "ecs.admission.global_table")
    assert derived["config"] == POLICY.data["ecs"]["config"]
    named = {entry.get("package") for entry in POLICY.data["ecs"]["catalog"].values()}
    assert sorted(derived["packages"]) == sorted(name for name in named if isinstance(name, str))
    assert data == POLICY.data
    assert set(data) == {"ecs"} and {"catalog", "config"} <= set(data["ecs"])


def test_default_revision_is_the_embedded_engines_revision(policy_bundle):
    assert bundle_manifest(policy_bundle)["revision"] == EmbeddedEngine(POLICY).revision


def test_explicit_revision_and_reproducible_output(tmp_path):
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    code, out, _ = run("policy", "bundle", "-o", str(first), "--revision", "git-3f2a9c1")
    assert code == 0 and "revision git-3f2a9c1" in out
    manifest = bundle_manifest(first)
    assert manifest["revision"] == "git-3f2a9c1"
    assert manifest["metadata"]["content_revision"] == POLICY.revision
    run("policy", "bundle", "-o", str(second), "--revision", "git-3f2a9c1")
    assert first.read_bytes() == second.read_bytes()


def test_bundle_to_stdout():
    result = subprocess.run(
        [sys.executable, "-m", "ecs_admission.cli", "policy", "bundle", "-o", "-"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout[:2] == b"\x1f\x8b"  # gzip
    assert b"wrote standard output" in result.stderr


def test_opa_loads_the_bundle_and_reports_its_revision(tmp_path):
    bundle = tmp_path / "bundle.tar.gz"
    run("policy", "bundle", "-o", str(bundle), "--revision", "r-42")
    standin = start_standin(bundle)
    try:
        assert standin.revision == "r-42"
        decision = standin.evaluate("ecs/admission/decision", {"task_definition": {"pidMode": "host"}}, True)
        assert [v["rule"] for v in decision["violations"]] == ["ECS-ISO-003"]
    finally:
        standin.close()


def copy_policies(tmp_path):
    target = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, target)
    return target


@pytest.mark.parametrize(
    ("filename", "source", "message"),
    [
        ("broken.rego", "package ecs.checks.broken\n\nfindings := {x |\n", "do not compile"),
        ("other.rego", "package elsewhere\n\nimport rego.v1\n\nx := 1\n", "package elsewhere is outside ecs"),
        (
            "bad.rego",
            "package ecs.checks.bad\n\nimport rego.v1\n\nx := y\n",
            "bad.rego:5: rego_unsafe_var_error: var y is unsafe",
        ),
        (
            "extra_test.rego",
            "package ecs.extra_test\n\nimport rego.v1\n\ntest_wrong if 1 == 2\n",
            "Rego unit test data.ecs.extra_test.test_wrong (extra_test.rego:5) failed",
        ),
    ],
)
def test_unbundleable_policies_exit_2_with_one_line(tmp_path, filename, source, message):
    directory = copy_policies(tmp_path)
    (directory / filename).write_text(source)
    output = tmp_path / "bundle.tar.gz"
    code, out, err = run("policy", "bundle", "--policy-dir", str(directory), "-o", str(output))
    assert code == 2 and out == ""
    assert err.startswith("ecs-admission: cannot bundle: ") and err.count("\n") == 1
    assert message in err
    assert not output.exists()


def test_usage_errors(tmp_path):
    for argv in (["policy"], ["policy", "bundle"], ["policy", "bundle", "-o", "x", "--revision", " "]):
        code, _, err = run(*argv)
        assert code == 2 and err.startswith("ecs-admission: ") and err.count("\n") == 1
    code, _, err = run("policy", "bundle", "--policy-dir", str(tmp_path / "absent"), "-o", str(tmp_path / "b"))
    assert code == 2 and "does not exist" in err
