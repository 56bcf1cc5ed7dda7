"""Placement parity: OPA in-process and OPA as a sidecar must give the same answer, to the character.

One engine, two placements. The in-process side loads the policy directory; the sidecar side is
the real `opa` binary when there is one, else OPA's own Go evaluator behind OPA's REST API
(tests/support/opa_fixtures.py), serving the bundle the CLI builds. What differs between the two is
everything around the evaluator: the bundle's data.json and roots, the REST framing, JSON both
ways. Compared: the full decision document (verdict, rule ids, paths, messages, metadata,
enforcement) for the HTTP tests' inputs, the example files, a set of inputs written to make each
shipped rule fire and not fire, the case files, and every register / describe / codedeploy /
CloudFormation file of the external corpus when it is there (ECS_ADMISSION_CORPUS).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ecs_admission.config import Settings
from ecs_admission.engines.bundle import write_bundle
from ecs_admission.engines.embedded import EmbeddedEngine
from ecs_admission.engines.opa import OpaEngine
from ecs_admission.errors import InputError
from ecs_admission.gate import build_gate
from ecs_admission.inputs import normalise, parse_file_bytes
from ecs_admission.inputs.cloudformation import is_template, load_template
from ecs_admission.policy.loader import DECISION_PACKAGE, DECISION_RULE, RegoFile, load_policy_set
from tests.conftest import EXAMPLES, POLICY_DIR, corpus_dir, example
from tests.gate.test_cases import load_cases
from tests.support.opa_fixtures import start_standin

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
POLICY = load_policy_set(POLICY_DIR)
CLEAN = example("taskdef-clean.json")
DENIED = example("taskdef.json")
SECRET = [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf"}]


def task(**fields: Any) -> dict[str, Any]:
    return {"family": "parity", "containerDefinitions": [{"name": "app", "image": "nginx:1.27"}], **fields}


# Inputs written to make every shipped rule fire, and not fire, in the ways its tests care about.
CRAFTED: dict[str, Any] = {
    "http-clean": CLEAN,
    "http-denied": DENIED,
    "http-codedeploy-template": {
        **CLEAN,
        "taskRoleArn": "<TASK_ROLE_ARN>",
        "containerDefinitions": [{**CLEAN["containerDefinitions"][0], "image": "<IMAGE1_NAME>"}],
    },
    "http-describe": {"taskDefinition": {**CLEAN, "revision": 7, "status": "ACTIVE"}, "tags": []},
    # Quotes, backslashes and control characters must survive JSON both ways on both placements.
    "strings-needing-escapes": task(
        family='we"b\\app',
        containerDefinitions=[
            {
                "name": 'a"b',
                "image": 'repo/img:"1"',
                "privileged": True,
                "user": "0",
                "environment": [{"name": "JSON", "value": '{"k": "v\\n"}'}],
            },
        ],
        volumes=[{"name": "host", "host": {"sourcePath": "C:\\ProgramData\\Amazon\\ECS"}}],
    ),
    "template-unresolved-parameter": {
        "Parameters": {"Image": {"Type": "String"}},
        "Resources": {
            "Task": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {"Family": "web", "ContainerDefinitions": [{"Name": "app", "Image": {"Ref": "Image"}}]},
            }
        },
    },
    "host-network": task(networkMode="host"),
    "awsvpc-network": task(networkMode="awsvpc"),
    "host-pid": task(pidMode="host"),
    "task-pid": task(pidMode="task"),
    "privileged-second-container": task(
        containerDefinitions=[{"name": "app", "image": "nginx"}, {"name": "agent", "image": "dd", "privileged": True}]
    ),
    "privileged-second-named": task(containerDefinitions=[{"name": "unnamed", "image": "nginx", "privileged": True}]),
    "privileged-false": task(containerDefinitions=[{"name": "app", "image": "nginx:1.27", "privileged": False}]),
    "secrets-without-execution-role": task(containerDefinitions=[{"name": "api", "image": "a:1", "secrets": SECRET}]),
    "secrets-with-execution-role": task(
        executionRoleArn="arn:aws:iam::111122223333:role/exec",
        containerDefinitions=[{"name": "api", "image": "a:1", "secrets": SECRET}],
    ),
    "placeholders-in-both-roles": task(taskRoleArn="<TASK_ROLE_ARN>", executionRoleArn="<EXECUTION_ROLE_ARN>"),
    "everything-at-once": task(
        networkMode="host",
        pidMode="host",
        taskRoleArn="<TASK_ROLE_ARN>",
        containerDefinitions=[
            {"name": "a", "image": "x", "privileged": True, "secrets": SECRET},
            {"name": "b", "image": "y", "privileged": True, "secrets": SECRET},
        ],
    ),
    "unicode-names": task(containerDefinitions=[{"name": "приложение-✓", "image": "x", "privileged": True}]),
    "envelope-with-roles": {
        "taskDefinition": task(taskRoleArn="arn:aws:iam::111122223333:role/app"),
        "roles": {
            "arn:aws:iam::111122223333:role/app": {
                "trustPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "policies": [],
            }
        },
        "context": {"account": "111122223333", "region": "us-east-1"},
    },
}

EXAMPLE_FILES = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".json", ".yaml", ".yml"))
CORPUS_FILES = sorted(
    p for folder in ("register", "describe", "codedeploy", "cloudformation") for p in (corpus_dir() / folder).glob("*")
)


def input_documents(document: Any) -> list[dict[str, Any]]:
    """The engine inputs the webhook would build (one per task definition of a template); [] when
    the file is not a task definition."""
    gate = build_gate(Settings(iam_lookup="off"), engine=_NO_ENGINE)
    try:
        if isinstance(document, Path):
            document = parse_file_bytes(document.read_bytes(), document.name)
        if is_template(document):
            requests = [t.request for t in load_template(document, gate.default_context).task_definitions]
        else:
            requests = [normalise(document)]
    except InputError:
        return []
    return [gate.input_document(request, NOW) for request in requests]


def input_document(document: Any) -> dict[str, Any] | None:
    """The single engine input for a task definition, or None when the file is not one."""
    found = input_documents(document)
    return found[0] if len(found) == 1 else None


class _NoEngine:
    name, revision = "none", "none"


_NO_ENGINE: Any = _NoEngine()


def case_file_inputs() -> dict[str, dict[str, Any]]:
    """tests/cases/*.yaml inputs as engine inputs, with the case's injected facts and clock laid over
    them as the case tests do (cases that change the policy configuration are left to those tests)."""
    found = {}
    for name, case in load_cases():
        if "config" in case:
            continue
        documents = input_documents(case["input"])
        if len(documents) != 1:
            continue
        (document,) = documents
        for field, extra in (case.get("facts") or {}).items():
            document["task_roles"][field] = {**document["task_roles"].get(field, {}), **extra}
        if "now" in case:
            document["now"] = str(case["now"])
        found[name] = document
    return found


def cases() -> list[Any]:
    found = [pytest.param(CRAFTED[name], id=f"crafted/{name}") for name in CRAFTED]
    found += [pytest.param(document, id=f"cases/{name[:70]}") for name, document in case_file_inputs().items()]
    for path in (*EXAMPLE_FILES, *CORPUS_FILES):
        folder = "examples" if path.parent == EXAMPLES else path.parent.name
        # Files that are not task definitions get a 400 before any engine runs (tests/gate/test_corpus.py).
        for index, engine_input in enumerate(input_documents(path)):
            found.append(pytest.param(engine_input, id=f"{folder}/{path.name[:70]}#{index}"))
    return found


def canonical(decision: Any) -> dict[str, list[str]]:
    """Each finding list as sorted canonical JSON: order is an engine's choice, content is not."""
    assert isinstance(decision, dict), decision
    return {
        key: sorted(json.dumps(item, sort_keys=True, ensure_ascii=False) for item in decision.get(key, []))
        for key in ("violations", "warnings", "exempted")
    }


def differences(embedded: Any, opa: Any) -> list[str]:
    left, right = canonical(embedded), canonical(opa)
    found = []
    for key in left:
        for item in sorted(set(left[key]) ^ set(right[key])):
            side = "embedded only" if item in left[key] else "opa only"
            found.append(f"{key}: {side}: {item}")
    return found


def opa_decision(engine: OpaEngine, document: dict[str, Any]) -> Any:
    body = engine._query(DECISION_PACKAGE, DECISION_RULE, document)
    assert "result" in body, f"OPA: decision undefined: {body}"
    return body["result"]


@pytest.fixture(scope="module")
def embedded() -> EmbeddedEngine:
    return EmbeddedEngine(POLICY)


@pytest.fixture(scope="module")
def opa(opa_server) -> OpaEngine:
    return OpaEngine(opa_server.url, connect_timeout=2, read_timeout=10)


def test_the_cases_are_there():
    assert len(cases()) >= len(CRAFTED) + len(EXAMPLE_FILES) + len(CORPUS_FILES) + 50
    assert CORPUS_FILES


@pytest.mark.external_corpus
def test_the_external_corpus_is_swept():
    assert len(CORPUS_FILES) >= 50


@pytest.mark.parametrize("document", cases())
def test_same_decision_in_process_and_on_the_sidecar(embedded, opa, opa_server, document):
    engine_input = document if "task_definition" in document else input_document(document)
    assert engine_input is not None
    left = embedded.query(engine_input)
    right = opa_decision(opa, engine_input)
    assert differences(left, right) == []
    a, b = embedded.evaluate(engine_input), opa.evaluate(engine_input)
    assert (not a.violations) == (not b.violations)
    for key in ("violations", "warnings", "exempted"):
        assert [f.to_dict() for f in getattr(a, key)] == [f.to_dict() for f in getattr(b, key)]
    assert a.revision == b.revision == opa_server.revision


def test_parity_cases_make_every_shipped_rule_fire(embedded):
    """Every rule is compared on both placements in a case where it fires."""
    fired = set()
    inputs = [input_documents(document)[0] for document in CRAFTED.values()] + list(case_file_inputs().values())
    for engine_input in inputs:
        decision = embedded.query(engine_input)
        fired |= {f["rule"] for key in ("violations", "warnings") for f in decision[key]}
    # Two rules fire only under a different policy set, not a different input: ECS-HARD-008 needs
    # allowed_registries configured (tests/cases/hardening.yaml), ECS-POLICY-001 a check package that
    # stopped producing findings (tests/policy/test_policy_data.py).
    assert fired >= set(POLICY.catalog) - {"ECS-HARD-008", "ECS-POLICY-001"}


# The suite must be able to fail: a sidecar serving a bundle that decides differently is caught.
DIVERGENT_CHECK = """package ecs.checks.divergent

import rego.v1

findings contains {"rule": "ECS-ISO-002", "path": "/family", "message": sprintf("family %q", [family])} if {
	family := input.task_definition.family
}
"""


def test_parity_suite_catches_a_sidecar_that_decides_differently(tmp_path, embedded):
    shipped = load_policy_set(POLICY_DIR)
    divergent = replace(shipped, modules=(*shipped.modules, RegoFile("divergent.rego", DIVERGENT_CHECK)))
    document = input_document(task())
    write_bundle(divergent, tmp_path / "divergent.tar.gz")
    standin = start_standin(tmp_path / "divergent.tar.gz")
    try:
        opa = OpaEngine(standin.url, connect_timeout=2, read_timeout=10)
        found = differences(embedded.query(document), opa_decision(opa, document))
    finally:
        standin.close()
    assert found and all("opa only" in line for line in found), found
    assert any('family \\"parity\\"' in line for line in found), found
