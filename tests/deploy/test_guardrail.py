"""deploy/guardrail/: the preventive layer. The SCP, the IAM deny policy and the CloudFormation template
say the same thing, pass cfn-lint and parliament (an IAM policy linter), and do what they claim when
the project's own IAM evaluator (facts/evaluator.py) judges them: the pipeline roles and the
break-glass role may register task definitions and point services at them, nobody else may, and
scaling a service stays allowed.

The evaluator treats every Condition as unknown ("conditional"), so each test request carries its
context (the principal's ARN, whether the call names a task definition) and the two condition
operators the guardrail uses are resolved for it first (`resolve_conditions`); any other operator
fails the test rather than being guessed.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ecs_admission.facts.evaluator import ALLOWED, DENIED, Request, evaluate
from ecs_admission.facts.wildcards import resource_matches
from ecs_admission.iam.documents import normalise_policy_document
from tests.conftest import REPO
from tests.support import cfn_yaml

GUARDRAIL = REPO / "deploy" / "guardrail"
SCP, IAM_POLICY, TEMPLATE = GUARDRAIL / "scp.json", GUARDRAIL / "iam-deny-policy.json", GUARDRAIL / "guardrail.yaml"
PLACEHOLDERS = ["arn:aws:iam::*:role/ecs-admission-pipeline-*", "arn:aws:iam::*:role/ecs-admission-break-glass"]
ACCOUNT = "111122223333"
PIPELINE = f"arn:aws:iam::{ACCOUNT}:role/ecs-admission-pipeline-web"
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/ecs-admission-break-glass"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
DEVELOPER = f"arn:aws:iam::{ACCOUNT}:user/dev"
LOOKALIKE = f"arn:aws:iam::{ACCOUNT}:role/ecs-admission-pipeline"  # no suffix: not one of the pipeline roles
TASK_DEFINITION = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:7"
SERVICE = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/web"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
ALLOW_ALL_NORMALISED = normalise_policy_document(ALLOW_ALL)


def _arn_like(patterns: Any, value: str | None) -> bool:
    patterns = patterns if isinstance(patterns, list) else [patterns]
    return value is not None and any(resource_matches(p, value) for p in patterns)


def _holds(operator: str, key: str, expected: Any, context: dict[str, str]) -> bool:
    value = context.get(key)
    if operator == "ArnLike":
        return _arn_like(expected, value)
    if operator == "ArnNotLike":  # a negated operator holds when the key is absent
        return not _arn_like(expected, value)
    if operator == "Null":
        return (value is None) == (str(expected).lower() == "true")
    raise AssertionError(f"resolve_conditions does not model {operator}: extend it before using it in the guardrail")


def resolve_conditions(document: dict[str, Any], context: dict[str, str]) -> dict[str, Any]:
    """The statements whose conditions hold in `context`, without their Condition; the others dropped."""
    statements = []
    for statement in document["Statement"]:
        conditions = statement.get("Condition", {})
        if all(_holds(op, key, value, context) for op, keys in conditions.items() for key, value in keys.items()):
            statements.append({k: v for k, v in copy.deepcopy(statement).items() if k != "Condition"})
    # The evaluator reads documents in the canonical form the IAM lookups hand it.
    return normalise_policy_document({**document, "Statement": statements})


def template_policies(pipeline: list[str], break_glass: str) -> dict[str, dict[str, Any]]:
    parameters = {"PipelineRoleArns": pipeline, "BreakGlassRoleArn": break_glass, "AWS::StackName": "guardrail"}
    resources = cfn_yaml.load(TEMPLATE)["Resources"]
    return {
        name: cfn_yaml.resolve(resources[name]["Properties"]["PolicyDocument"], parameters)
        for name in ("DenyPolicy", "PermissionsBoundary")
    }


def documents() -> dict[str, dict[str, Any]]:
    rendered = template_policies([PLACEHOLDERS[0]], PLACEHOLDERS[1])
    return {
        "scp.json": json.loads(SCP.read_text()),
        "iam-deny-policy.json": json.loads(IAM_POLICY.read_text()),
        "guardrail.yaml DenyPolicy": rendered["DenyPolicy"],
        "guardrail.yaml PermissionsBoundary": rendered["PermissionsBoundary"],
    }


def denies(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in document["Statement"] if s["Effect"] == "Deny"]


def test_the_scp_the_iam_policy_and_the_template_deny_the_same_things():
    found = documents()
    reference = denies(found["scp.json"])
    assert {s["Sid"] for s in reference} == {
        "RegisterTaskDefinitionsOnlyThroughTheGate",
        "PointServicesAtTaskDefinitionsOnlyThroughTheGate",
    }
    for name, document in found.items():
        assert denies(document) == reference, name
    boundary = found["guardrail.yaml PermissionsBoundary"]["Statement"]
    assert [s for s in boundary if s["Effect"] == "Allow"] == [{**ALLOW_ALL["Statement"][0], "Sid": boundary[0]["Sid"]}]
    assert all(s["Effect"] == "Deny" for s in found["scp.json"]["Statement"])  # an SCP never grants


def test_the_policies_pass_parliament():
    from parliament import analyze_policy_string

    for name, document in documents().items():
        # The boundary's Allow of everything is what a boundary is (it caps, it grants nothing) and
        # parliament rightly flags it as a grant; the test above pins it to exactly that statement.
        document = {**document, "Statement": [s for s in document["Statement"] if s["Effect"] == "Deny"]}
        policy = analyze_policy_string(json.dumps(document), include_community_auditors=True)
        assert [(f.issue, f.detail) for f in policy.findings] == [], name
    # parliament does read what it is given: a misspelt action is caught.
    broken = {"Version": "2012-10-17", "Statement": [{**denies(documents()["scp.json"])[0], "Action": "ecs:Register"}]}
    assert [f.issue for f in analyze_policy_string(json.dumps(broken)).findings] == ["UNKNOWN_ACTION"]


def test_template_passes_cfn_lint():
    from cfnlint.api import lint_file

    problems = [str(m) for m in lint_file(TEMPLATE) if m.rule.id[0] in "EW"]
    assert problems == []


CASES = [
    # principal, action, resource, names a task definition, expected
    (PIPELINE, "ecs:RegisterTaskDefinition", TASK_DEFINITION, False, ALLOWED),
    (BREAK_GLASS, "ecs:RegisterTaskDefinition", TASK_DEFINITION, False, ALLOWED),
    (ADMIN, "ecs:RegisterTaskDefinition", TASK_DEFINITION, False, DENIED),
    (DEVELOPER, "ecs:RegisterTaskDefinition", TASK_DEFINITION, False, DENIED),
    (LOOKALIKE, "ecs:RegisterTaskDefinition", TASK_DEFINITION, False, DENIED),
    (PIPELINE, "ecs:UpdateService", SERVICE, True, ALLOWED),
    (BREAK_GLASS, "ecs:CreateService", SERVICE, True, ALLOWED),
    (ADMIN, "ecs:UpdateService", SERVICE, True, DENIED),
    (ADMIN, "ecs:CreateService", SERVICE, True, DENIED),
    (ADMIN, "ecs:CreateTaskSet", SERVICE, True, DENIED),
    (ADMIN, "ecs:UpdateService", SERVICE, False, ALLOWED),  # scaling, no task definition named
    (ADMIN, "ecs:DeregisterTaskDefinition", TASK_DEFINITION, False, ALLOWED),  # removing is not a bypass
    (ADMIN, "ecs:RunTask", TASK_DEFINITION, False, ALLOWED),  # runs only what was registered through the gate
]


@pytest.mark.parametrize(("principal", "action", "resource", "names_task_definition", "expected"), CASES)
def test_only_the_pipeline_and_break_glass_roles_get_around_it(
    principal, action, resource, names_task_definition, expected
):
    context = {"aws:PrincipalArn": principal}
    if names_task_definition:
        context["ecs:task-definition"] = TASK_DEFINITION
    request = Request(action, resource)
    found = documents()
    # An SCP filters what the account's policies allow (FullAWSAccess stands in for them).
    scp = evaluate([ALLOW_ALL_NORMALISED, resolve_conditions(found["scp.json"], context)], request)
    # The managed policy sits beside an administrator's own policies: its Deny still wins.
    managed = evaluate([ALLOW_ALL_NORMALISED, resolve_conditions(found["iam-deny-policy.json"], context)], request)
    # The boundary caps an administrator's policies.
    boundary = resolve_conditions(found["guardrail.yaml PermissionsBoundary"], context)
    bounded = evaluate([ALLOW_ALL_NORMALISED], request, boundary)
    assert (scp.decision, managed.decision, bounded.decision) == (expected, expected, expected)


def test_the_template_names_the_given_pipeline_roles_and_break_glass_role():
    pipeline = [f"arn:aws:iam::{ACCOUNT}:role/deploy-a", f"arn:aws:iam::{ACCOUNT}:role/deploy-b"]
    policy = template_policies(pipeline, BREAK_GLASS)["DenyPolicy"]
    for statement in policy["Statement"]:
        assert statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [*pipeline, BREAK_GLASS]
    context = {"aws:PrincipalArn": pipeline[1]}
    request = Request("ecs:RegisterTaskDefinition", "*")
    assert evaluate([ALLOW_ALL_NORMALISED, resolve_conditions(policy, context)], request).decision == ALLOWED
    context = {"aws:PrincipalArn": ADMIN}
    assert evaluate([ALLOW_ALL_NORMALISED, resolve_conditions(policy, context)], request).decision == DENIED
