"""A cold `ecs-admission check` pays only for what it uses: no botocore when it makes no AWS call,
no HTTP client when it asks no gate, and the ECS field model (ECS-INPUT-001) read without botocore,
identical to botocore's own."""

from __future__ import annotations

import json
import subprocess
import sys

from ecs_admission.inputs import ecs_model, fields
from tests.conftest import EXAMPLES, REPO

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
