"""deploy/cloudformation-hook/hook.yaml: cfn-lint clean, the Lambda Hook the issue asks for, least privilege."""

from __future__ import annotations

import importlib
from typing import Any

from ecs_admission.facts.iam import READ_ACTIONS
from ecs_admission.integrations.cloudformation_hook import handler
from tests.conftest import REPO
from tests.support import cfn_yaml

TEMPLATE = REPO / "deploy" / "cloudformation-hook" / "hook.yaml"


def template() -> dict[str, Any]:
    return cfn_yaml.load(TEMPLATE)


def resources() -> dict[str, Any]:
    return template()["Resources"]


def statements(role: str) -> list[dict[str, Any]]:
    policies = resources()[role]["Properties"]["Policies"]
    return [s for policy in policies for s in policy["PolicyDocument"]["Statement"]]


def actions(role: str) -> set[str]:
    found = set()
    for statement in statements(role):
        assert statement["Effect"] == "Allow"
        found |= {statement["Action"]} if isinstance(statement["Action"], str) else set(statement["Action"])
    return found


def test_template_passes_cfn_lint():
    import cfnlint.api  # here, not at import: it costs ~2 s and only this test needs it

    text = TEMPLATE.read_text()
    assert [str(match) for match in cfnlint.api.lint(text)] == []
    broken = text.replace("FailureMode: FAIL", "FailureMode: STOP").replace("TargetOperations: [RESOURCE]", "")
    assert cfnlint.api.lint(broken), "cfn-lint accepted a broken hook: the check above proves nothing"


def test_the_hook_targets_task_definitions_on_create_and_update_and_fails_the_operation():
    [hook] = [r for r in resources().values() if r["Type"] == "AWS::CloudFormation::LambdaHook"]
    properties = hook["Properties"]
    assert properties["FailureMode"] == "FAIL" and properties["HookStatus"] == "ENABLED"
    assert properties["TargetOperations"] == ["RESOURCE"]
    assert properties["TargetFilters"] == {
        "Actions": ["CREATE", "UPDATE"],
        "InvocationPoints": ["PRE_PROVISION"],
        "TargetNames": ["AWS::ECS::TaskDefinition"],
    }
    assert properties["LambdaFunction"] == {"Fn::GetAtt": ["Function", "Arn"]}
    assert properties["ExecutionRole"] == {"Fn::GetAtt": ["HookExecutionRole", "Arn"]}


def test_the_function_runs_the_hook_handler_within_cloudformations_30_seconds():
    function = resources()["Function"]["Properties"]
    module, _, attribute = function["Handler"].rpartition(".")
    assert getattr(importlib.import_module(module), attribute) is handler
    assert function["Runtime"] == "python3.14" and function["Architectures"] == ["x86_64"]
    assert function["Timeout"] < 30
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": "LogGroup"}}  # decision records to CloudWatch
    assert function["Environment"]["Variables"] == {
        "ECS_ADMISSION_MODE": {"Ref": "GateMode"},
        "ECS_ADMISSION_IAM_LOOKUP": {"Ref": "IamLookup"},
    }
    parameters = template()["Parameters"]
    assert (parameters["GateMode"]["Default"], parameters["GateMode"]["AllowedValues"]) == (
        "enforce",
        ["enforce", "dry-run"],
    )


def test_the_function_role_has_only_the_iam_reads_and_its_logs():
    # Its logs, and its key: the environment is encrypted with it.
    assert actions("Role") == set(READ_ACTIONS) | {"logs:CreateLogStream", "logs:PutLogEvents", "kms:Decrypt"}
    for statement in statements("Role"):
        if statement["Action"] != "sts:GetCallerIdentity":  # no resource-level permissions
            assert statement["Resource"] != "*", statement
    trust = resources()["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    assert "ManagedPolicyArns" not in resources()["Role"]["Properties"]


def test_cloudformation_assumes_the_hook_role_only_to_invoke_the_function():
    assert actions("HookExecutionRole") == {"lambda:InvokeFunction"}
    [invoke] = statements("HookExecutionRole")
    assert invoke["Resource"] == {"Fn::GetAtt": ["Function", "Arn"]}
    [trust] = resources()["HookExecutionRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "hooks.cloudformation.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert ":type/hook/" in trust["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
