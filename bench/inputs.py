"""What the benchmark posts: the hardened Fargate envelope, or corpus task definitions as envelopes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from checkout import BENCH, REPO

ACCOUNT = "111122223333"
PERMISSIONS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::app-config/*"}],
}
HARDENED = BENCH / "hardened-fargate.json"


def corpus_dir() -> Path:
    """ECS_ADMISSION_CORPUS when set (the larger corpus), else the corpus the test suite ships."""
    configured = os.environ.get("ECS_ADMISSION_CORPUS")
    path = Path(configured) if configured else REPO / "tests" / "fixtures" / "corpus"
    if not path.is_dir():
        sys.exit(f"bench: no corpus at {path}; set ECS_ADMISSION_CORPUS to a folder of task definitions")
    return path


def hardened_inputs() -> list[dict[str, Any]]:
    return [json.loads(HARDENED.read_text())]


def build_inputs(corpus: Path) -> list[dict[str, Any]]:
    """Corpus task definitions the gate accepts, as envelopes with inline role facts."""
    from ecs_admission.errors import InputError
    from ecs_admission.inputs import normalise, parse_file_bytes

    trust_files = sorted((corpus / "trust-policies").glob("*.json"))
    trust = json.loads(trust_files[0].read_text()) if trust_files else {"Version": "2012-10-17", "Statement": []}
    envelopes = []
    for path in sorted((corpus / "register").glob("*.json")) + sorted((corpus / "codedeploy").glob("*.json")):
        try:
            request = normalise(parse_file_bytes(path.read_bytes(), path.name))
        except InputError:
            continue
        roles = {}
        for field in ("taskRoleArn", "executionRoleArn"):
            arn = request.task_definition.get(field)
            if isinstance(arn, str) and arn.startswith("arn:aws:iam::"):
                roles[arn] = {"trustPolicy": trust, "policies": [PERMISSIONS]}
        envelopes.append(
            {
                "taskDefinition": request.task_definition,
                "roles": roles,
                "context": {"account": ACCOUNT, "region": "us-east-1"},
            }
        )
    if not envelopes:
        sys.exit(f"bench: no usable task definitions under {corpus}")
    return envelopes


def write_bodies(workdir: Path, name: str, items: list[dict[str, Any]]) -> tuple[list[Path], list[bytes]]:
    """The envelopes as request bodies: files for wrk, which reads its bodies from disk, and bytes for
    the Python client."""
    paths = []
    for index, envelope in enumerate(items):
        path = workdir / f"{name}-{index:03d}.json"
        path.write_bytes(json.dumps(envelope).encode())
        paths.append(path)
    return paths, [p.read_bytes() for p in paths]
