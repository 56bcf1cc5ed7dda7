"""CloudFormation templates as an input shape: intrinsics, normalisation, role facts, responses."""

from __future__ import annotations

import datetime
import io
import json

import pytest

from ecs_admission.cli.commands import main
from ecs_admission.config import Settings
from ecs_admission.errors import InputError
from ecs_admission.gate import build_gate
from ecs_admission.inputs.cloudformation import (
    Resolver,
    Unresolved,
    is_template,
    load_template,
    to_template_pointer,
)
from ecs_admission.inputs.parse import parse_file_bytes, parse_yaml
from ecs_admission.web import create_app
from tests.conftest import corpus_dir, external_corpus

ACCOUNT = "111122223333"
CONTEXT = {"account": ACCOUNT, "region": "eu-west-1"}

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  ServiceName:
    Type: String
    Default: payments
  ImageTag:
    Type: String
  Privileged:
    Type: String
    Default: "false"
  Env:
    Type: String
    Default: prod
    AllowedValues: [prod, dev]
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
Mappings:
  Sizes:
    prod: {Cpu: "512"}
Resources:
  LogGroup:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /ecs/${ServiceName}
  ExecutionRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub ${ServiceName}-exec
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: ecs-tasks.amazonaws.com}
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy
  TaskRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: ecs-tasks.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: everything
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: "*", Resource: "*"}
  TaskPolicy:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: extra
      Roles: [!Ref TaskRole]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: s3:GetObject
            Resource: !Sub arn:aws:s3:::${Bucket}/*
  Bucket:
    Type: AWS::S3::Bucket
  Api:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: !Join ["-", [!Ref ServiceName, api]]
      Cpu: !FindInMap [Sizes, !Ref Env, Cpu]
      Memory: "1024"
      NetworkMode: awsvpc
      TaskRoleArn: !GetAtt TaskRole.Arn
      ExecutionRoleArn: !Ref ExecutionRole
      Volumes:
        - Name: data
          EFSVolumeConfiguration:
            FilesystemId: fs-123
            TransitEncryption: ENABLED
            AuthorizationConfig: {IAM: ENABLED}
      ContainerDefinitions:
        - Name: api
          Image: !Sub "${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com/${ServiceName}:${ImageTag}"
          Cpu: "256"
          Essential: "true"
          Privileged: !Ref Privileged
          ReadonlyRootFilesystem: !If [IsDev, false, true]
          Environment:
            - {Name: VERBOSE, Value: 0}
            - !If [IsDev, {Name: DEBUG, Value: "1"}, !Ref AWS::NoValue]
            - {Name: STACK, Value: !Ref AWS::StackName}
          DockerLabels: {Team.Name: payments}
          LogConfiguration:
            LogDriver: awslogs
            Options:
              awslogs-group: !Ref LogGroup
              awslogs-region: !Ref AWS::Region
              awslogs-stream-prefix: ecs
  Worker:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: worker
      NetworkMode: host
      ContainerDefinitions:
        - Name: worker
          Image: public.ecr.aws/nginx/nginx:1.27
          Privileged: true
  DevOnly:
    Type: AWS::ECS::TaskDefinition
    Condition: IsDev
    Properties:
      ContainerDefinitions: [{Name: dev, Image: nginx}]
"""


@pytest.fixture(scope="module")
def template():
    return load_template(parse_yaml(TEMPLATE), CONTEXT)


@pytest.fixture(scope="module")
def gate():
    return build_gate(Settings(iam_lookup="off", default_account=ACCOUNT, default_region="eu-west-1"))


def by_id(template, logical_id):
    return next(t for t in template.task_definitions if t.logical_id == logical_id)


# -- YAML -----------------------------------------------------------------------------------------


def test_short_form_intrinsics_become_the_long_form():
    document = parse_yaml(
        "A: !Ref X\nB: !GetAtt R.Arn\nC: !Sub ['x-${Y}', {Y: !Ref Z}]\nD: !Join ['', [a, !Ref B]]\n"
        "E: !If [Cond, !ImportValue shared, !Base64 text]\nF: !Select [0, !GetAZs '']\n"
        "G: !Split [',', 'a,b']\nH: !FindInMap [M, !Ref AWS::Region, k]\nI: !And [!Equals [a, a], !Or [!Condition C]]\n"
        "J: !Not [!Condition C]\nK: !Cidr [10.0.0.0/16, 2, 8]\nL: !GetAtt [R, Arn]\n"
    )
    assert document == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["R", "Arn"]},
        "C": {"Fn::Sub": ["x-${Y}", {"Y": {"Ref": "Z"}}]},
        "D": {"Fn::Join": ["", ["a", {"Ref": "B"}]]},
        "E": {"Fn::If": ["Cond", {"Fn::ImportValue": "shared"}, {"Fn::Base64": "text"}]},
        "F": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        "G": {"Fn::Split": [",", "a,b"]},
        "H": {"Fn::FindInMap": ["M", {"Ref": "AWS::Region"}, "k"]},
        "I": {"Fn::And": [{"Fn::Equals": ["a", "a"]}, {"Fn::Or": [{"Condition": "C"}]}]},
        "J": {"Fn::Not": [{"Condition": "C"}]},
        "K": {"Fn::Cidr": ["10.0.0.0/16", 2, 8]},
        "L": {"Fn::GetAtt": ["R", "Arn"]},
    }


def test_yaml_safety_still_holds_with_intrinsics():
    with pytest.raises(InputError, match="duplicate key"):
        parse_yaml("Resources:\n  A: !Ref X\n  A: !Ref Y\n")
    with pytest.raises(InputError, match="duplicate key"):
        parse_yaml("A: !Sub [x, {Y: 1, Y: 2}]\n")
    bomb = "a: &a [x]\n" + "".join(f"b{i}: &b{i} [*a, *a]\n" for i in range(101))
    with pytest.raises(InputError, match="aliases"):
        parse_yaml(bomb)
    with pytest.raises(InputError, match="not valid YAML"):
        parse_yaml("A: !python/object:os.system x\n")


def test_template_detection():
    assert is_template({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}})
    assert is_template({"Resources": {"T": {"Type": "AWS::ECS::TaskDefinition"}}})
    assert not is_template({"containerDefinitions": [], "Resources": {}})
    assert not is_template({"family": "x"})


# -- intrinsics -----------------------------------------------------------------------------------


def test_resolver_evaluates_what_the_template_decides():
    resolver = Resolver(parse_yaml(TEMPLATE), CONTEXT)
    assert resolver.resolve({"Ref": "ServiceName"}) == "payments"
    assert resolver.resolve({"Fn::Sub": ["${A}-${AWS::Region}", {"A": "x"}]}) == "x-eu-west-1"
    assert resolver.resolve({"Fn::Sub": "${!Literal}"}) == "${Literal}"
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert resolver.resolve({"Fn::GetAtt": ["ExecutionRole", "Arn"]}) == f"arn:aws:iam::{ACCOUNT}:role/payments-exec"
    assert (
        resolver.resolve({"Fn::GetAtt": ["LogGroup", "Arn"]})
        == f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/ecs/payments:*"
    )
    assert resolver.resolve({"Ref": "AWS::Partition"}) == "aws"
    assert resolver.condition("IsProd") is True and resolver.condition("IsDev") is False
    assert resolver.resolve({"Fn::Base64": "hi"}) == "aGk="


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"Ref": "ImageTag"}, "parameter ImageTag has no default"),
        ({"Fn::ImportValue": "shared-role"}, "exported by another stack"),
        ({"Ref": "AWS::StackName"}, "known only when the stack is deployed"),
        ({"Ref": "TaskRole"}, "generated when the stack is created"),
        ({"Fn::GetAtt": ["Bucket", "Arn"]}, "known only after the stack creates it"),
        ({"Ref": "Nope"}, "not a parameter or resource"),
        ({"Fn::GetAZs": ""}, "not evaluated"),
    ],
)
def test_resolver_never_guesses(value, reason):
    resolved = Resolver(parse_yaml(TEMPLATE), CONTEXT).resolve(value)
    assert isinstance(resolved, Unresolved) and reason in resolved.reason


def test_pseudo_parameters_need_the_context():
    resolved = Resolver(parse_yaml(TEMPLATE), {}).resolve({"Ref": "AWS::AccountId"})
    assert isinstance(resolved, Unresolved) and "ECS_ADMISSION_ACCOUNT" in resolved.reason


def test_partial_sub_keeps_what_resolved():
    resolved = Resolver(parse_yaml(TEMPLATE), CONTEXT).resolve({"Fn::Sub": "arn:aws:s3:::${Bucket}/${ServiceName}/*"})
    assert isinstance(resolved, Unresolved) and resolved.as_string() == "arn:aws:s3:::${Bucket}/payments/*"


# -- the normalised task definition -----------------------------------------------------------------


def test_properties_become_the_api_shape(template):
    api = by_id(template, "Api").request.task_definition
    assert api["family"] == "payments-api" and api["cpu"] == "512" and api["memory"] == "1024"
    efs = api["volumes"][0]["efsVolumeConfiguration"]
    assert efs == {"fileSystemId": "fs-123", "transitEncryption": "ENABLED", "authorizationConfig": {"iam": "ENABLED"}}
    container = api["containerDefinitions"][0]
    # The image tag is a parameter without a default: the field keeps the expression, never a guess.
    # It is marked as an unrendered ${...} placeholder, which no rule judges as a real value.
    assert container["image"].startswith("${!Sub $(AWS::AccountId).dkr.ecr.")
    # CloudFormation's strings take the ECS API's types; numbers become strings where the API wants strings.
    assert container["cpu"] == 256 and container["essential"] is True and container["privileged"] is False
    assert container["readonlyRootFilesystem"] is True
    assert container["environment"][0] == {"name": "VERBOSE", "value": "0"}
    assert [e["name"] for e in container["environment"]] == ["VERBOSE", "STACK"]
    # Map keys are data: they keep their case.
    assert container["dockerLabels"] == {"Team.Name": "payments"}
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/ecs/payments"
    assert by_id(template, "Api").request.source == "cloudformation"


def test_unresolved_values_are_listed_with_both_pointers(template):
    unresolved = {u["path"]: u for u in by_id(template, "Api").request.template["unresolved"]}
    image = unresolved["/containerDefinitions/0/image"]
    assert image["template_path"] == "/Resources/Api/Properties/ContainerDefinitions/0/Image"
    assert "parameter ImageTag has no default" in image["reason"]
    # NoValue shifted the list: the normalised index is 1, the template's is 2.
    stack = unresolved["/containerDefinitions/0/environment/1/value"]
    assert stack["template_path"] == "/Resources/Api/Properties/ContainerDefinitions/0/Environment/2/Value"


def test_pointers_translate_into_the_template(template):
    api = by_id(template, "Api")
    assert api.template_pointer("/containerDefinitions/0/privileged") == (
        "/Resources/Api/Properties/ContainerDefinitions/0/Privileged"
    )
    assert api.template_pointer("/volumes/0/efsVolumeConfiguration/fileSystemId") == (
        "/Resources/Api/Properties/Volumes/0/EFSVolumeConfiguration/FilesystemId"
    )
    # A field the template does not set is named as the template would name it.
    assert (
        api.template_pointer("/containerDefinitions/0/user") == "/Resources/Api/Properties/ContainerDefinitions/0/User"
    )
    assert api.template_pointer("/pidMode") == "/Resources/Api/Properties/PidMode"
    assert api.template_pointer("/containerDefinitions/0/dockerLabels/x") == (
        "/Resources/Api/Properties/ContainerDefinitions/0/DockerLabels/x"
    )
    assert to_template_pointer("/a/b", {"": "/Resources/X/Properties"}) == "/Resources/X/Properties/A/B"


def test_conditional_task_definition_is_skipped(template):
    assert [t.logical_id for t in template.task_definitions] == ["Api", "Worker"]
    assert template.skipped == [{"logical_id": "DevOnly", "reason": "condition IsDev is false"}]


# -- role facts -------------------------------------------------------------------------------------


def test_roles_of_the_template_are_facts(template, gate):
    roles = gate.input_document(by_id(template, "Api").request, datetime.datetime(2026, 1, 1))["task_roles"]
    task, execution = roles["taskRoleArn"], roles["executionRoleArn"]
    assert task["source"] == "template" and task["status"] == "known"
    assert task["trust_policy"]["Statement"][0]["Principal"] == {"Service": ["ecs-tasks.amazonaws.com"]}
    assert [(p["name"], p["kind"]) for p in task["policies"]] == [
        ("everything", "template"),
        ("TaskPolicy", "template"),
    ]
    assert task["permissions"]["admin_equivalent"] is True
    assert task["details"]["logical_id"] == "TaskRole"
    # The TaskRole has no RoleName: its ARN is generated, so the field keeps the expression.
    assert task["reference"] == "!GetAtt TaskRole.Arn" and task["valid"] is True
    assert execution["arn"] == f"arn:aws:iam::{ACCOUNT}:role/payments-exec"
    assert execution["policies"][0]["kind"] == "aws-managed" and execution["policies"][0]["document"]
    access = {(a["action"], a["path"]): a["decision"] for a in execution["access"]}
    # The unresolved image is not judged; the log group the template names is.
    assert not any(path == "/containerDefinitions/0/image" for _, path in access)
    assert access[("logs:PutLogEvents", "/containerDefinitions/0/logConfiguration/options/awslogs-group")] == "allowed"


def test_unresolved_resource_in_a_template_policy_is_conditional(template, gate):
    roles = gate.input_document(by_id(template, "Api").request, datetime.datetime(2026, 1, 1))["task_roles"]
    extra = roles["taskRoleArn"]["policies"][1]["document"]["Statement"][0]
    assert extra["Resource"] == ["arn:aws:s3:::${Bucket}/*"]


def test_managed_policy_arns_need_iam_lookups(gate):
    # An AWS managed policy the gate does not ship (facts/aws_managed_policies.json) needs IAM.
    document = parse_yaml(
        TEMPLATE.replace("service-role/AmazonECSTaskExecutionRolePolicy", "AmazonKinesisReadOnlyAccess")
    )
    request = by_id(load_template(document, CONTEXT), "Api").request
    execution = gate.input_document(request, datetime.datetime(2026, 1, 1))["task_roles"]["executionRoleArn"]
    assert execution["status"] == "unknown" and execution["source"] == "template"
    assert "arn:aws:iam::aws:policy/AmazonKinesisReadOnlyAccess is not defined in the template" in execution["reason"]
    assert execution["policies"] is None and execution["permissions"] is None
    assert execution["trust_policy"] is not None


def test_unresolved_role_parameter_is_unknown_not_invalid(gate):
    path = corpus_dir() / "cloudformation" / "newrelic__nri-ecs__deploy_cloudformation_task_task.yaml"
    template = load_template(parse_file_bytes(path.read_bytes(), path.name), CONTEXT)
    request = template.task_definitions[0].request
    role = gate.input_document(request, datetime.datetime(2026, 1, 1))["task_roles"]["executionRoleArn"]
    assert (role["status"], role["source"], role["valid"]) == ("unknown", "none", True)
    assert "!Ref ExecutionRoleARN" in role["reason"] and "no default" in role["reason"]


def test_shipped_aws_managed_policy_is_known_without_iam(gate):
    document = parse_yaml(TEMPLATE.replace("service-role/AmazonECSTaskExecutionRolePolicy", "ReadOnlyAccess"))
    request = by_id(load_template(document, CONTEXT), "Api").request
    execution = gate.input_document(request, datetime.datetime(2026, 1, 1))["task_roles"]["executionRoleArn"]
    assert execution["status"] == "known" and execution["permissions"] is not None
    (policy,) = execution["policies"]
    assert (policy["name"], policy["source"], policy["version_id"]) == ("ReadOnlyAccess", "shipped", "v190")
    assert policy["template_path"] == "/Resources/ExecutionRole/Properties/ManagedPolicyArns/0"


# -- invalid templates ------------------------------------------------------------------------------


def test_invalid_task_definition_names_the_template_field():
    document = parse_yaml(
        "Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n"
        "      ContainerDefinitions:\n        - Name: a\n          Privileged: maybe\n"
    )
    with pytest.raises(InputError) as raised:
        load_template(document, CONTEXT)
    assert raised.value.field == "/Resources/T/Properties/ContainerDefinitions/0/Privileged"


def test_template_without_task_definitions_is_refused():
    with pytest.raises(InputError, match="no AWS::ECS::TaskDefinition"):
        load_template({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}, CONTEXT)


# -- the faces --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    app = create_app(Settings(auth="none", iam_lookup="off", default_account=ACCOUNT, default_region="eu-west-1"))
    return app.test_client()


def test_http_template_response(client):
    response = client.post("/v1/admit", data=TEMPLATE, content_type="application/yaml")
    assert response.status_code == 403
    body = response.get_json()
    assert body["allowed"] is False and body["enforced"] is True
    assert body["template"]["task_definitions"] == 2 and body["template"]["skipped"][0]["logical_id"] == "DevOnly"
    results = {r["logical_id"]: r for r in body["results"]}
    # Api's task role comes from the same template with "*" on "*": the evaluator judges it.
    assert results["Api"]["allowed"] is False and results["Worker"]["allowed"] is False
    api_paths = {(v["rule"], v["path"]) for v in results["Api"]["violations"]}
    # It points at the policy that grants it; role_path keeps the task definition's field.
    assert ("ECS-PERM-001", "/Resources/TaskRole/Properties/Policies/0/PolicyDocument") in api_paths
    admin = next(v for v in results["Api"]["violations"] if v["rule"] == "ECS-PERM-001")
    assert admin["role_path"] == "/Resources/Api/Properties/TaskRoleArn"
    assert results["Worker"]["task_definition"]["logical_id"] == "Worker"
    paths = {(v["rule"], v["path"]) for v in results["Worker"]["violations"]}
    assert ("ECS-ISO-002", "/Resources/Worker/Properties/ContainerDefinitions/0/Privileged") in paths
    assert ("ECS-ISO-001", "/Resources/Worker/Properties/NetworkMode") in paths
    privileged = next(v for v in results["Worker"]["violations"] if v["rule"] == "ECS-ISO-002")
    assert privileged["task_definition_path"] == "/containerDefinitions/0/privileged"
    warnings = {(w["rule"], w["path"]) for w in results["Api"]["warnings"]}
    assert ("ECS-TPL-001", "/Resources/Api/Properties/ContainerDefinitions/0/Image") in warnings


def test_http_template_dry_run_and_json(client):
    response = client.post("/v1/admit?dry_run=true", data=TEMPLATE, content_type="application/yaml")
    assert response.status_code == 200 and response.get_json()["allowed"] is False
    allowed = TEMPLATE.split("  Worker:")[0].replace(
        '{Effect: Allow, Action: "*", Resource: "*"}', '{Effect: Allow, Action: "sqs:SendMessage", Resource: "*"}'
    )
    response = client.post("/v1/admit", data=json.dumps(parse_yaml(allowed)), content_type="application/json")
    assert response.status_code == 200 and response.get_json()["allowed"] is True


def test_http_template_errors_are_400(client):
    response = client.post(
        "/v1/admit", data='{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}', content_type="application/json"
    )
    assert response.status_code == 400 and response.get_json()["field"] == "/Resources"
    wrapped = {"taskDefinition": {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}, "dryRun": True}
    response = client.post("/v1/admit", data=json.dumps(wrapped), content_type="application/json")
    assert response.status_code == 400


def test_cli_checks_templates(tmp_path, monkeypatch):
    monkeypatch.setenv("ECS_ADMISSION_ACCOUNT", ACCOUNT)
    path = tmp_path / "stack.yaml"
    path.write_text(TEMPLATE)
    out, err = io.StringIO(), io.StringIO()
    assert main(["check", str(path)], stdout=out, stderr=err) == 1
    text = out.getvalue()
    assert f"{path}#Worker: DENIED" in text and f"{path}#Api: DENIED" in text
    assert f"note: {path}#DevOnly skipped: condition" in err.getvalue()
    assert "/Resources/Worker/Properties/ContainerDefinitions/0/Privileged" in text
    out = io.StringIO()
    assert main(["check", "--format", "json", "--dry-run", str(path)], stdout=out, stderr=err) == 0
    assert [d["task_definition"]["logical_id"] for d in json.loads(out.getvalue())] == ["Api", "Worker"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("Resources:\n  B:\n    Type: AWS::S3::Bucket\n")
    err = io.StringIO()
    assert main(["check", str(bad)], stdout=io.StringIO(), stderr=err) == 2
    assert "/Resources" in err.getvalue()


# -- the shared corpus ----------------------------------------------------------------------------

CORPUS = sorted((corpus_dir() / "cloudformation").glob("*"))


def test_corpus_has_templates():
    assert len(CORPUS) >= (10 if external_corpus() else 3)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name[:60])
def test_corpus_template_evaluates(client, path):
    content_type = "application/yaml" if path.suffix in (".yaml", ".yml") else "application/json"
    response = client.post("/v1/admit?dry_run=true", data=path.read_bytes(), content_type=content_type)
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["results"] and all(r["task_definition"]["source"] == "cloudformation" for r in body["results"])
    for result in body["results"]:
        for finding in result["violations"] + result["warnings"]:
            assert finding["path"].startswith(f"/Resources/{result['logical_id']}")


def test_corpus_known_verdicts(client):
    path = corpus_dir() / "cloudformation" / "newrelic__nri-ecs__deploy_cloudformation_task_task.yaml"
    body = client.post("/v1/admit?dry_run=true", data=path.read_bytes(), content_type="application/yaml").get_json()
    violations = {(v["rule"], v["path"]) for v in body["results"][0]["violations"]}
    assert ("ECS-ISO-002", "/Resources/NewRelicInfraTask/Properties/ContainerDefinitions/0/Privileged") in violations
    assert ("ECS-ISO-001", "/Resources/NewRelicInfraTask/Properties/NetworkMode") in violations
    warnings = {(w["rule"], w["path"]) for w in body["results"][0]["warnings"]}
    assert ("ECS-TPL-001", "/Resources/NewRelicInfraTask/Properties/ExecutionRoleArn") in warnings


def test_reasons_with_quotes_and_backslashes_do_not_break_the_engine(client):
    # Reasons quote the template's own text: quotes and backslashes must survive JSON both ways.
    template = {
        "Resources": {
            "T": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": {"Fn::Sub": 'say "hi" \\ ${Missing}'},
                    "ContainerDefinitions": [{"Name": "a", "Image": "nginx"}],
                },
            }
        }
    }
    response = client.post("/v1/admit", data=json.dumps(template), content_type="application/json")
    assert response.status_code == 200, response.get_json()
    (warning,) = [w for w in response.get_json()["results"][0]["warnings"] if w["rule"] == "ECS-TPL-001"]
    assert warning["rule"] == "ECS-TPL-001" and warning["path"] == "/Resources/T/Properties/Family"
    assert '"' not in warning["message"] and "\\" not in warning["message"]
