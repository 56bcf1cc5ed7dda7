"""The shared corpus through the full catalogue: real task definitions with real trust policies.

tests/gate/test_corpus.py proves every corpus file decides; this file sends each one with every role
fact filled in (the corpus's trust policies as the request envelope's roles, and evaluator
verdicts laid over them), so every check package runs on real documents, and pins what the
catalogue must say about the corpus's trust policies.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from ecs_admission.engines.embedded import EmbeddedEngine
from ecs_admission.errors import InputError
from ecs_admission.gate import CallerSuppliedFacts, Gate
from ecs_admission.inputs import normalise, parse_file_bytes
from ecs_admission.policy.loader import load_policy_set
from tests.conftest import POLICY_DIR, corpus_dir, external_corpus

FOLDERS = ("register", "describe", "codedeploy")
TASK_FILES = sorted(p for folder in FOLDERS for p in (corpus_dir() / folder).glob("*") if p.is_file())
TRUST_FILES = sorted((corpus_dir() / "trust-policies").glob("*"))
ACCOUNT = "111122223333"
TASK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/corpus-task"
EXEC_ROLE = f"arn:aws:iam::{ACCOUNT}:role/corpus-execution"
PERMISSIONS = {
    "admin_equivalent": True,
    "escalation_paths": [{"id": "CreateNewPolicyVersion", "actions": ["iam:CreatePolicyVersion"], "description": ""}],
    "passrole_any": True,
    "assumerole_any": True,
    "wildcard_data_access": [{"action": "kms:Decrypt", "resource": "*"}],
    "beyond_execution_baseline": ["s3:GetObject"],
}


class EverythingKnown:
    """Caller facts plus evaluator verdicts on every role, so the permission rules run too."""

    def gather(self, request, context, timings=None):
        roles = CallerSuppliedFacts().gather(request, context, timings)
        for entry in roles.values():
            entry["permissions"] = PERMISSIONS
            entry["access"] = [
                {
                    "purpose": "secret",
                    "action": "secretsmanager:GetSecretValue",
                    "resource": "*",
                    "path": "/containerDefinitions/0/secrets/0",
                    "decision": "denied",
                }
            ]
        return roles


@pytest.fixture(scope="module")
def gate():
    return Gate(EmbeddedEngine(load_policy_set(POLICY_DIR)), facts=EverythingKnown())


def trust_policy(path: Path) -> dict:
    return json.loads(path.read_text())


def envelope(task_definition: dict, trust: dict) -> dict:
    task_definition = {**task_definition, "taskRoleArn": TASK_ROLE, "executionRoleArn": EXEC_ROLE}
    return {
        "taskDefinition": task_definition,
        "roles": {TASK_ROLE: {"trustPolicy": trust, "policies": []}, EXEC_ROLE: {"trustPolicy": trust, "policies": []}},
        "context": {"account": ACCOUNT, "region": "us-east-1"},
    }


def test_corpus_trust_policies_are_present():
    assert len(TRUST_FILES) >= (10 if external_corpus() else 3)


@pytest.mark.parametrize("path", TASK_FILES, ids=lambda p: f"{p.parent.name}/{p.name[:60]}")
def test_corpus_task_definition_with_corpus_trust_runs_every_package(gate, path):
    try:
        request = normalise(parse_file_bytes(path.read_bytes(), path.name))
    except InputError:
        pytest.skip("not a task definition (tests/gate/test_corpus.py pins which)")
    trust = trust_policy(TRUST_FILES[zlib.crc32(path.name.encode()) % len(TRUST_FILES)])
    decision = gate.decide(normalise(envelope(request.task_definition, trust)))
    rules = {f.rule for f in (*decision.violations, *decision.warnings)}
    # The injected facts make these fire on every document: the permission package ran to the end,
    # and no catalogued package went silent.
    assert {"ECS-PERM-001", "ECS-PERM-002", "ECS-PERM-006"} <= rules
    assert "ECS-POLICY-001" not in rules


EXPECTED_TRUST = {
    # ecs.amazonaws.com is the ECS service, not the tasks' principal: ECS cannot hand it to a task.
    "jakemeout__quantum-curator-backend__ecs-task-trust-policy.json": ({"ECS-TRUST-001", "ECS-TRUST-002"}, set()),
    # ec2, ecs, logs and s3 may assume it, ecs-tasks may not.
    "ecs-admission__ecs-service-principal.json": ({"ECS-TRUST-001", "ECS-TRUST-002"}, set()),
    # Both confused-deputy conditions: nothing to say.
    "ecs-admission__ecs-tasks-with-source-account.json": (set(), set()),
    "fattist__web-terraform__tf_modules_aws_iam_json_ecs_role.tpl": ({"ECS-TRUST-001", "ECS-TRUST-002"}, set()),
    # A Terraform template variable where the deploy account belongs.
    "nationalarchives__tdr-terraform-environments__templates_iam_policy_ecs_assume_role_policy.json.tpl": (
        set(),
        {"ECS-TRUST-004"},
    ),
}


@pytest.mark.parametrize("path", TRUST_FILES, ids=lambda p: p.name[:60])
def test_corpus_trust_policy_verdicts(gate, path):
    base = {
        "family": "corpus",
        "networkMode": "awsvpc",
        "containerDefinitions": [{"name": "app", "image": "nginx:1.27"}],
    }
    decision = gate.decide(normalise(envelope(base, trust_policy(path))))
    denied = {f.rule for f in decision.violations if f.rule.startswith("ECS-TRUST")}
    warned = {f.rule for f in decision.warnings if f.rule.startswith("ECS-TRUST")}
    # Default for the rest of the corpus: ecs-tasks with sts:AssumeRole and no confused-deputy condition.
    expected_denied, expected_warned = EXPECTED_TRUST.get(path.name, (set(), {"ECS-TRUST-004"}))
    assert denied == expected_denied
    assert expected_warned <= warned
