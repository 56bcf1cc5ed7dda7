"""Through the hook, the corpus's task definitions get the verdict the other doors give them.

- Every CloudFormation template in the corpus (tests/fixtures/corpus, and the full corpus when
  ECS_ADMISSION_CORPUS is set): each AWS::ECS::TaskDefinition is handed to the hook as
  CloudFormation would hand it (intrinsics resolved, PascalCase, every scalar a string) and the
  hook's rule ids are compared with the template path's (what the webhook answers for the template).
  A condition the template does not decide gives one deploy per variant, each compared; a value it
  does not decide (a parameter without a default) keeps its ${...} marker on both sides. A role the
  template defines is known to the template path and only an ARN to the hook, so for those task
  definitions the rules that judge role facts are left out of the comparison.
- Every register-shaped task definition in the corpus, written as CloudFormation properties, against
  the webhook's verdict for the JSON itself: every rule compared.

IAM lookups are off on both sides, so both judge from the same facts.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from ecs_admission.config import Settings
from ecs_admission.gate import build_gate
from ecs_admission.gate.templates import decide_template
from ecs_admission.inputs import normalise, parse_file_bytes
from ecs_admission.inputs.cloudformation import Template, load_template
from ecs_admission.inputs.cloudformation.properties import pascal
from ecs_admission.integrations import cloudformation_hook
from ecs_admission.integrations.cloudformation_hook import handler
from tests.conftest import corpus_dir
from tests.integrations.test_cloudformation_hook import ACCOUNT, REGION, cfn_strings, hook_event

CONTEXT = {"account": ACCOUNT, "region": REGION}
TEMPLATES = sorted(p for p in (corpus_dir() / "cloudformation").glob("*") if p.suffix in (".json", ".yaml", ".yml"))
REGISTER = sorted((corpus_dir() / "register").glob("*.json"))
ROLE_FIELDS = ("taskRoleArn", "executionRoleArn")
ROLE_RULES = re.compile(r"^ECS-(ROLE|PERM|TRUST|EXEC)-")
# The API's fields whose keys are data (log options, Docker labels), written verbatim in CloudFormation too.
DATA_MAPS = {"options", "dockerLabels", "driverOpts", "labels"}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    for key in ("ECS_ADMISSION_MODE", "ECS_ADMISSION_HOOK_PAYLOAD_TEST_HOST"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ECS_ADMISSION_IAM_LOOKUP", "off")


@pytest.fixture(scope="module", autouse=True)
def one_hook_gate():
    """The hook's gate (cached per Settings, as in a Lambda container) built once for the module, not
    per test: every test here runs with the same settings (offline above), and with IAM lookups off
    the gate caches no role facts, so no test sees another's state. Cleared on the way in and out so
    no other module shares it."""
    cloudformation_hook._gate.cache_clear()
    yield
    cloudformation_hook._gate.cache_clear()


@pytest.fixture(scope="module")
def gate():
    return build_gate(Settings(iam_lookup="off"))


def as_properties(value: Any, data: bool = False) -> Any:
    """A task definition in the API's form written as CloudFormation properties, scalars as strings."""
    if isinstance(value, dict):
        return {
            (key if data else pascal(key)): as_properties(item, data=not data and key in DATA_MAPS)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [as_properties(item) for item in value]
    return cfn_strings(value)


def through_the_hook(properties: dict[str, Any], logical_id: str) -> tuple[set[str], set[str]]:
    event = hook_event(None, logical_id=logical_id)
    event["requestData"]["targetModel"]["resourceProperties"] = properties
    answer = handler(event, None)
    assert answer.get("errorCode") != "InternalFailure", answer["message"]
    denied, warned = set(), set()
    for entry in answer.get("annotations", []):
        if entry["status"] == "FAILED":
            (warned if "warning: not enforced" in entry["statusMessage"] else denied).add(entry["annotationName"])
    assert answer["hookStatus"] == ("FAILED" if denied else "SUCCESS"), answer["message"]
    return denied, warned


def rules_of(decision) -> tuple[set[str], set[str]]:
    return {f.rule for f in decision.violations}, {f.rule for f in decision.warnings}


def without_role_rules(rules: set[str]) -> set[str]:
    return {rule for rule in rules if not ROLE_RULES.match(rule)}


def test_the_corpus_is_there():
    assert len(TEMPLATES) >= 3 and len(REGISTER) >= 8


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name[:70])
def test_each_template_task_definition_gets_the_template_paths_verdict(gate, monkeypatch, path):
    monkeypatch.setenv("ECS_ADMISSION_ACCOUNT", ACCOUNT)
    document = parse_file_bytes(path.read_bytes(), path.name)
    template = load_template(document, CONTEXT)
    for task_definition in template.task_definitions:
        task_definition.request.context = dict(CONTEXT)
    for task_definition in template.task_definitions:
        # Conditions the template does not decide give one task definition per combination; a deploy
        # decides them, so each variant is one deploy: the hook sees it, the template path judges it.
        for variant in task_definition.variants or [task_definition]:
            single = Template([dataclasses.replace(variant, variants=[])], [], [])
            [(_, decision)] = decide_template(gate, single).results
            compare(variant, decision)


def compare(task_definition, decision) -> None:
    request = task_definition.request
    unresolved = {u["path"] for u in (request.template or {}).get("unresolved", [])}
    deployed = dict(request.task_definition)
    template_roles = set(request.template_roles) | {f for f in ROLE_FIELDS if f"/{f}" in unresolved}
    for field in template_roles & set(deployed):
        # CloudFormation hands the hook the ARN of the role it created.
        deployed[field] = f"arn:aws:iam::{ACCOUNT}:role/{task_definition.logical_id}-{field}-1A2B3C4D"
    # Any other value the template does not decide (a parameter without a default) keeps the template
    # path's ${...} marker, so the rules read the same text on both sides; only ECS-TPL-001, which lists
    # those values, is the template path's own.
    denied, warned = through_the_hook(as_properties(deployed), task_definition.logical_id)
    expected_denied, expected_warned = rules_of(decision)
    expected_warned.discard("ECS-TPL-001")
    if template_roles:
        denied, warned = without_role_rules(denied), without_role_rules(warned)
        expected_denied, expected_warned = without_role_rules(expected_denied), without_role_rules(expected_warned)
    assert (denied, warned) == (expected_denied, expected_warned), (
        task_definition.logical_id,
        task_definition.assignments,
    )


@pytest.mark.parametrize("path", REGISTER, ids=lambda p: p.name[:70])
def test_each_register_task_definition_gets_the_webhooks_verdict(gate, monkeypatch, path):
    monkeypatch.setenv("ECS_ADMISSION_ACCOUNT", ACCOUNT)
    document = parse_file_bytes(path.read_bytes(), path.name)
    request = normalise(document)
    request.context = dict(CONTEXT)
    expected = rules_of(gate.decide(request))
    assert through_the_hook(as_properties(request.task_definition), "TaskDefinition") == expected
