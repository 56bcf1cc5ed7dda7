"""deploy/opa/log-mask.rego, evaluated by OPA's own Go evaluator (opa_bindings), applied as OPA applies it.

OPA itself is not installable here; opa-golib-python-bindings embeds OPA's Go `rego` package, so
the policy is evaluated with OPA's semantics, and apply_mask follows plugins/logs/mask.go: a string
is a "remove" (which walks arrays by index but only deletes an object's field) and an object may
"upsert" (through objects only).
"""

from __future__ import annotations

import copy
import io
import json
import re
from typing import Any

import pytest
import yaml

from ecs_admission.cli import commands as cli
from ecs_admission.gate import CallerSuppliedFacts, Gate, utc_now
from ecs_admission.inputs import normalise
from tests.conftest import REPO, example
from tests.report.test_records import PLANTED, planted_task_definition
from tests.support.opa_standin import PACKAGE_RE, read_bundle

opa_bindings = pytest.importorskip("opa_bindings")

POLICY = REPO / "deploy" / "opa" / "log-mask.rego"


@pytest.fixture(scope="module")
def opa():
    engine = opa_bindings.OpaEngine()
    engine.add_policy("log-mask.rego", POLICY.read_text())
    yield engine
    engine.close()


def lookup(node: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(node, dict):
            if part not in node:
                return None
            node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return None
            node = node[int(part)]
        else:
            return None
    return node


def apply_mask(event: dict[str, Any], rules: list[Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    for rule in rules:
        op, path, value = (
            ("remove", rule, None) if isinstance(rule, str) else (rule["op"], rule["path"], rule.get("value"))
        )
        parts = path[1:].split("/")
        assert parts[0] in ("input", "result"), path
        if len(parts) == 1:
            event[parts[0]] = None if op == "remove" else value
            continue
        if op == "remove":
            parent = lookup(event.get(parts[0]), parts[1:-1])
            if isinstance(parent, dict):
                parent.pop(parts[-1], None)
        else:
            node = event.get(parts[0])
            for part in parts[1:-1]:
                if not isinstance(node, dict):
                    break
                node = node.setdefault(part, {})
            else:
                if isinstance(node, dict):
                    node[parts[-1]] = value
    return event


def logged_event(task_definition: dict[str, Any], result: Any) -> dict[str, Any]:
    return {
        "decision_id": "4ca636c1-55e4-417a-b1d8-4aceb67960d1",
        "path": "ecs/admission/decision",
        "input": {
            "task_definition": task_definition,
            "task_roles": {"arn:aws:iam::111122223333:role/app-execution": {"source": "caller"}},
            "context": {"account": "111122223333", "note": f"Bearer {PLANTED['bearer_token']}"},
        },
        "result": result,
    }


def test_planted_secrets_are_masked(opa):
    result = {
        "violations": [{"rule": "ECS-ISO-002", "message": f"uses {PLANTED['access_key_id']} in a label"}],
        "warnings": [],
    }
    event = logged_event(planted_task_definition(True), result)
    rules = opa.eval_document("system.log.mask", event)
    masked = apply_mask(event, rules)
    text = json.dumps(masked)
    leaked = [name for name, value in PLANTED.items() if value in text]
    assert not leaked, (leaked, rules)
    container = masked["input"]["task_definition"]["containerDefinitions"][0]
    # Names stay, values go: the log still says which variables and secrets a task had.
    assert container["environment"] == [
        {"name": "PLAIN"},
        {"name": "AWS_ACCESS_KEY_ID"},
        {"name": "AWS_SECRET_ACCESS_KEY"},
    ]
    assert container["secrets"] == [{"name": "DB_PASSWORD"}]
    assert "repositoryCredentials" not in container and "options" not in container["logConfiguration"]
    assert masked["input"]["task_definition"]["family"] == "planted-app"
    assert masked["result"]["violations"][0]["rule"] == "ECS-ISO-002"


def test_clean_decision_is_logged_whole(opa):
    task_definition = json.loads((REPO / "examples" / "taskdef-clean.json").read_text())
    result = {"violations": [], "warnings": [], "exempted": []}
    event = logged_event(task_definition, result)
    event["input"]["context"].pop("note")
    rules = opa.eval_document("system.log.mask", event)
    # Only the fields masked by design; nothing ordinary (images, ARNs, family) looks like a credential.
    prefix = "/input/task_definition/containerDefinitions/0"
    assert sorted(rules) == [f"{prefix}/logConfiguration/options", f"{prefix}/secrets/0/valueFrom"]
    masked = apply_mask(event, rules)
    assert masked["input"]["task_roles"] == event["input"]["task_roles"] and masked["result"] == result


def test_unaddressable_credential_removes_the_nearest_removable_parent(opa):
    task_definition = {
        "family": "f",
        "containerDefinitions": [
            {"name": "a", "image": "i", "command": ["serve", f"--password={PLANTED['command_password']}"]},
            {"name": "b", "image": "i", "dockerLabels": {"odd/key": f"Bearer {PLANTED['bearer_token']}"}},
        ],
    }
    event = logged_event(task_definition, {"violations": []})
    masked = apply_mask(event, opa.eval_document("system.log.mask", event))
    text = json.dumps(masked)
    assert PLANTED["command_password"] not in text and PLANTED["bearer_token"] not in text
    containers = masked["input"]["task_definition"]["containerDefinitions"]
    assert "command" not in containers[0] and containers[0]["name"] == "a"
    assert "dockerLabels" not in containers[1] and containers[1]["name"] == "b"


# -- the mask as OPA loads it: a bundle of its own beside the policy bundle -------------------------


def example_input() -> dict[str, Any]:
    """What the webhook sends the engine for examples/taskdef.json."""
    gate = Gate(engine=None, facts=CallerSuppliedFacts())  # type: ignore[arg-type]
    return gate.input_document(normalise(example("taskdef.json")), utc_now())


def overlapping(left: list[str], right: list[str]) -> list[tuple[str, str]]:
    """Root pairs OPA refuses across two bundles: equal, or one a path prefix of the other."""
    return [
        (a, b)
        for a in left
        for b in right
        if a == b or a == "" or b == "" or a.startswith(b + "/") or b.startswith(a + "/")
    ]


@pytest.fixture(scope="module")
def mask_bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("mask") / "log-mask.tar.gz"
    stdout, stderr = io.StringIO(), io.StringIO()
    code = cli.main(["policy", "mask-bundle", str(POLICY), "-o", str(path)], stdout=stdout, stderr=stderr)
    assert code == 0, stderr.getvalue()
    assert "roots system/log" in stdout.getvalue()
    return path


def test_the_mask_bundle_is_valid_and_beside_the_policy_bundle(mask_bundle, policy_bundle):
    manifest, modules, data = read_bundle(mask_bundle)
    assert manifest["roots"] == ["system/log"] and re.fullmatch(r"[0-9a-f]{16}", manifest["revision"])
    assert list(modules) == ["/system/log/log-mask.rego"] and data == []
    policy_manifest, policy_modules, _ = read_bundle(policy_bundle)
    # OPA activates several bundles only when no root of one overlaps a root of another; and the
    # policy bundle could not carry the mask (system.log is outside its roots, which OPA refuses).
    assert overlapping(manifest["roots"], policy_manifest["roots"]) == []
    assert policy_manifest["roots"] == ["ecs"]
    for source in policy_modules.values():
        assert not PACKAGE_RE.search(source).group(1).startswith("system")


def test_opa_applies_the_mask_from_its_bundle_next_to_the_policies(mask_bundle, policy_bundle):
    # What `opa run --bundle ecs-admission.tar.gz --bundle log-mask.tar.gz` loads, in one OPA evaluator.
    engine = opa_bindings.OpaEngine()
    try:
        for bundle in (policy_bundle, mask_bundle):
            manifest, modules, data = read_bundle(bundle)
            for path, source in modules.items():
                package = PACKAGE_RE.search(source).group(1).replace(".", "/")
                assert any(package == root or package.startswith(root + "/") for root in manifest["roots"])
                engine.add_policy(path, source)
            for data_path, value in data:
                engine.add_data(value, data_path)
        event = logged_event(planted_task_definition(True), {"violations": [], "warnings": []})
        masked = apply_mask(event, engine.eval_document("system.log.mask", event))
        assert not [name for name, value in PLANTED.items() if value in json.dumps(masked)]
        # The policies still decide beside it.
        decision = engine.eval_document("ecs.admission.decision", example_input())
        assert {v["rule"] for v in decision["violations"]} >= {"ECS-ISO-002"}
    finally:
        engine.close()


def test_mask_bundle_refuses_another_package_in_one_line(tmp_path):
    stderr = io.StringIO()
    code = cli.main(
        ["policy", "mask-bundle", str(REPO / "rego" / "admission.rego"), "-o", str(tmp_path / "m.tar.gz")],
        stdout=io.StringIO(),
        stderr=stderr,
    )
    assert code == 2 and stderr.getvalue().count("\n") == 1 and "is not system.log" in stderr.getvalue()
    assert not (tmp_path / "m.tar.gz").exists()


def test_the_sidecar_image_and_compose_load_both_bundles():
    dockerfile = (REPO / "deploy" / "opa" / "Dockerfile").read_text()
    assert "ecs-admission policy mask-bundle log-mask.rego -o /bundles/log-mask.tar.gz" in dockerfile
    command = json.loads(next(line for line in dockerfile.splitlines() if line.startswith("CMD "))[4:])
    assert command[command.index("--bundle") + 1 :].count("--bundle") == 1 and "/bundles/log-mask.tar.gz" in command
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text())["services"]["opa"]
    assert "/bundles/log-mask.tar.gz" in compose["command"]
    assert "./bundle/log-mask.tar.gz:/bundles/log-mask.tar.gz:ro" in compose["volumes"]
    assert (
        "policy mask-bundle deploy/opa/log-mask.rego -o deploy/bundle/log-mask.tar.gz"
        in (REPO / "Makefile").read_text()
    )
