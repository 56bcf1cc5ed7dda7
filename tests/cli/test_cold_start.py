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
