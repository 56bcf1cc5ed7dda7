"""CloudFormation conditions wherever they appear, undecided ones judged in every combination (issue 16)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecs_admission.config import Settings
from ecs_admission.errors import InputError
from ecs_admission.gate import build_gate
from ecs_admission.gate.templates import decide_template
from ecs_admission.inputs.cloudformation import MAX_CONDITION_VARIANTS, Resolver, load_template
from ecs_admission.inputs.parse import parse_yaml

TRUST = (
    "{Statement: [{Effect: Allow, Principal: {Service: ecs-tasks.amazonaws.com}, Action: sts:AssumeRole,"
    " Condition: {StringEquals: {aws:SourceAccount: '111122223333'}}}]}"
)

# Checkov's own fixture (a task role that is an administrator behind an Fn::If), which the gate
# used to read as a role without policies.
ADMIN_BEHIND_IF = f"""\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Exec:
    Type: String
Conditions:
  CreateExecPolicy: !Equals [a, a]
  WantExec: !Equals [!Ref Exec, "yes"]
Resources:
  TaskRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {TRUST}
      Policies: !If
        - CreateExecPolicy
        - - PolicyName: exec
            PolicyDocument: {{Statement: [{{Effect: Allow, Action: "*", Resource: "*"}}]}}
        - !Ref AWS::NoValue
  TaskDef:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: app
      TaskRoleArn: !GetAtt TaskRole.Arn
      ContainerDefinitions:
        - {{Name: app, Image: public.ecr.aws/nginx/nginx:1.27, Essential: true}}
"""


@pytest.fixture(scope="module")
def gate():
    return build_gate(Settings(iam_lookup="off", default_account="111122223333", default_region="eu-west-1"))


def judge(gate, text: str):
    template = load_template(parse_yaml(text), {"account": "111122223333", "region": "eu-west-1"})
    return decide_template(gate, template, dry_run=False)


def findings(decision, rule: str, kind: str = "violations"):
    (_, result), *_ = decision.results
    return [f for f in getattr(result, kind) if f.rule == rule]


def test_fn_if_administrator_policy_denies_at_the_policy(gate):
    decision = judge(gate, ADMIN_BEHIND_IF)
    (admin,) = findings(decision, "ECS-PERM-001")
    assert admin.path == "/Resources/TaskRole/Properties/Policies/Fn::If/1/0/PolicyDocument"
    assert admin.extra["role_path"] == "/Resources/TaskDef/Properties/TaskRoleArn"
    assert admin.extra["task_definition_path"] == "/taskRoleArn"
    assert not decision.allowed


def test_no_value_branch_removes_the_policies(gate):
    decision = judge(
        gate, ADMIN_BEHIND_IF.replace("CreateExecPolicy: !Equals [a, a]", "CreateExecPolicy: !Equals [a, b]")
    )
    assert findings(decision, "ECS-PERM-001") == []
    assert findings(decision, "ECS-ROLE-007", "warnings") == []  # the role is known: it has no policies


def test_undecided_condition_judges_both_branches_and_names_the_condition(gate):
    decision = judge(gate, ADMIN_BEHIND_IF.replace("- CreateExecPolicy\n", "- WantExec\n"))
    (admin,) = findings(decision, "ECS-PERM-001")
    assert admin.message.endswith("(when WantExec is true)")
    assert admin.extra["conditions"] == [{"WantExec": True}]
    assert not decision.allowed
    body = decision.to_dict()
    assert body["results"][0]["condition_variants"] == [[{"WantExec": True}], [{"WantExec": False}]]


def test_managed_policy_arns_behind_if_are_not_a_policy_named_fn_if(gate):
    text = ADMIN_BEHIND_IF.replace(
        """      Policies: !If
        - CreateExecPolicy
        - - PolicyName: exec
            PolicyDocument: {Statement: [{Effect: Allow, Action: "*", Resource: "*"}]}
        - !Ref AWS::NoValue""",
        """      ManagedPolicyArns: !If
        - CreateExecPolicy
        - [!Sub "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess"]
        - !Ref AWS::NoValue""",
    )
    template = load_template(parse_yaml(text), {"account": "111122223333", "region": "eu-west-1"})
    (policy,) = template.task_definitions[0].request.template_roles["taskRoleArn"]["policies"]
    assert policy["name"] == "AdministratorAccess" and policy["document"] is not None
    (admin,) = findings(decide_template(gate, template, dry_run=False), "ECS-PERM-001")
    assert admin.path == "/Resources/TaskRole/Properties/ManagedPolicyArns/Fn::If/1/0"


def test_conditions_in_trust_boundary_and_containers(gate):
    text = """\
Parameters:
  Mode: {Type: String}
Conditions:
  Loose: !Equals [!Ref Mode, loose]
Resources:
  TaskRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - !If [Loose, {Effect: Allow, Principal: {AWS: "*"}, Action: sts:AssumeRole}, !Ref AWS::NoValue]
          - {Effect: Allow, Principal: {Service: ecs-tasks.amazonaws.com}, Action: sts:AssumeRole}
      PermissionsBoundary: !If [Loose, !Ref AWS::NoValue, arn:aws:iam::111122223333:policy/boundary]
  TaskDef:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: app
      TaskRoleArn: !GetAtt TaskRole.Arn
      ContainerDefinitions:
        - Name: app
          Image: public.ecr.aws/nginx/nginx:1.27
          Privileged: !If [Loose, true, !Ref AWS::NoValue]
"""
    decision = judge(gate, text)
    (privileged,) = [f for f in findings(decision, "ECS-ISO-002")]
    assert privileged.path == "/Resources/TaskDef/Properties/ContainerDefinitions/0/Privileged"
    assert privileged.message.endswith("(when Loose is true)")
    (trust,) = findings(decision, "ECS-TRUST-002")
    assert trust.message.endswith("(when Loose is true)")


def test_allowed_values_bound_the_combinations():
    text = """\
Parameters:
  Env: {Type: String, AllowedValues: [prod, dev]}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Equals [!Ref Env, dev]
  IsTest: !Equals [!Ref Env, test]
Resources:
  TaskDef:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: !If [IsProd, p, !If [IsDev, d, !If [IsTest, t, other]]]
      ContainerDefinitions: [{Name: app, Image: nginx}]
"""
    (judged,) = load_template(parse_yaml(text)).task_definitions
    families = sorted(v.request.task_definition["family"] for v in judged.variants)
    assert families == ["d", "p"]  # test is not an allowed value, and neither is any other


def test_too_many_variants_is_a_clear_input_error():
    names = [f"P{i}" for i in range(MAX_CONDITION_VARIANTS)]
    text = "Parameters:\n" + "".join(f"  {n}: {{Type: String}}\n" for n in names)
    text += "Conditions:\n" + "".join(f"  C{n}: !Equals [!Ref {n}, x]\n" for n in names)
    text += "Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      Family: app\n"
    text += "      ContainerDefinitions:\n        - Name: app\n          Image: nginx\n          Environment:\n"
    text += "".join(f"            - {{Name: {n}, Value: !If [C{n}, a, b]}}\n" for n in names)
    with pytest.raises(InputError) as caught:
        load_template(parse_yaml(text))
    assert "MAX_CONDITION_ASSIGNMENTS" in caught.value.problem or "MAX_CONDITION_VARIANTS" in caught.value.problem
    assert caught.value.field == "/Resources/T"


def test_undecided_task_definition_condition_is_judged_not_skipped(gate):
    text = ADMIN_BEHIND_IF.replace(
        "  TaskDef:\n    Type: AWS::ECS::TaskDefinition\n",
        "  TaskDef:\n    Type: AWS::ECS::TaskDefinition\n    Condition: WantExec\n",
    )
    decision = judge(gate, text)
    assert decision.template.skipped == [] and len(decision.results) == 1
    assert findings(decision, "ECS-PERM-001")  # created in one combination: judged there


# -- the combinations against cfn-lint's own scenario builder ------------------------------------------

PARAMETERS = ("Env", "Tier")
LITERALS = ("a", "b", "c")


def _condition(depth: int) -> st.SearchStrategy:
    equals = st.builds(
        lambda p, v: {"Fn::Equals": [{"Ref": p}, v]}, st.sampled_from(PARAMETERS), st.sampled_from(LITERALS)
    )
    if depth == 0:
        return equals
    inner = _condition(depth - 1)
    return st.one_of(
        equals,
        st.builds(lambda c: {"Fn::Not": [c]}, inner),
        st.builds(lambda cs: {"Fn::And": cs}, st.lists(inner, min_size=2, max_size=3)),
        st.builds(lambda cs: {"Fn::Or": cs}, st.lists(inner, min_size=2, max_size=3)),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_condition(2), min_size=1, max_size=4))
def test_combinations_match_cfn_lint_scenarios(expressions):
    from cfnlint.template import Template as LintTemplate

    conditions = {f"C{i}": expression for i, expression in enumerate(expressions)}
    # A condition may also name an earlier one, as templates do.
    if len(expressions) > 1:
        conditions[f"C{len(expressions)}"] = {"Fn::Not": [{"Condition": "C0"}]}
    template = {
        "Parameters": {p: {"Type": "String"} for p in PARAMETERS},
        "Conditions": conditions,
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    }
    discovery = Resolver(template, {})
    for name in conditions:
        discovery.condition(name)
    ours = set()
    for assumed in discovery.unknowns.assignments("/") if discovery.unknowns.compared else [{}]:
        resolver = Resolver(template, {}, assumed=assumed)
        ours.add(json.dumps({name: resolver.condition(name) for name in conditions}, sort_keys=True))
    lint = LintTemplate("t.json", json.loads(json.dumps(template)), ["us-east-1"])
    theirs = {
        json.dumps(scenario, sort_keys=True)
        for scenario in lint.conditions.build_scenarios({name: set() for name in conditions})
    }
    assert ours == theirs


def test_short_form_paths_have_lines():
    from ecs_admission.formats.locate import SourceLocator

    locator = SourceLocator(ADMIN_BEHIND_IF.encode(), "template.yaml")
    line = locator.line("/Resources/TaskRole/Properties/Policies/Fn::If/1/0/PolicyDocument")
    assert ADMIN_BEHIND_IF.splitlines()[line - 1].strip().startswith("PolicyDocument:")


def test_unknown_pseudo_parameter_in_a_condition_judges_both_regions(gate):
    text = ADMIN_BEHIND_IF.replace(
        "CreateExecPolicy: !Equals [a, a]", "CreateExecPolicy: !Equals [!Ref AWS::Region, us-east-1]"
    )
    template = load_template(parse_yaml(text), {})  # no deploy Region configured
    (judged,) = template.task_definitions
    assert [v.assignments for v in judged.variants] == [[{"CreateExecPolicy": True}], [{"CreateExecPolicy": False}]]
    (admin,) = findings(decide_template(gate, template, dry_run=False), "ECS-PERM-001")
    assert admin.message.endswith("(when CreateExecPolicy is true)")
    # With the Region known the condition is decided and nothing is annotated.
    known = load_template(parse_yaml(text), {"region": "eu-west-1"})
    assert known.task_definitions[0].variants == []
