"""Terraform plans as an input shape: detection, attributes, instances, references, role facts, unknowns."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from ecs_admission.cli.commands import main
from ecs_admission.config import Settings
from ecs_admission.errors import InputError
from ecs_admission.gate import build_gate
from ecs_admission.gate.terraform import decide_plan
from ecs_admission.inputs.cloudformation import is_template
from ecs_admission.inputs.terraform import is_plan, load_plan
from ecs_admission.inputs.terraform.addresses import key_value, parse_address, split_path
from ecs_admission.inputs.terraform.fields import attribute_path
from ecs_admission.web import create_app
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "terraform"
AWS = "registry.terraform.io/hashicorp/aws"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}},
            }
        ],
    }
)
CONTAINERS = [
    {
        "name": "api",
        "image": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/api:1.0.0",
        "essential": True,
        "readonlyRootFilesystem": True,
        "user": "1000",
    }
]


def change(address: str, after: dict | None, unknown: dict | None = None, actions=("create",), **extra) -> dict:
    parsed = parse_address(address)
    assert parsed is not None
    entry = {"address": address}
    if parsed.modules:
        entry["module_address"] = parsed.module
    entry.update(mode=parsed.mode, type=parsed.type, name=parsed.name)
    if parsed.key:
        entry["index"] = key_value(parsed.key)
    entry["provider_name"] = AWS
    entry["change"] = {
        "actions": list(actions),
        "before": None,
        "after": after,
        "after_unknown": unknown or {},
        "before_sensitive": False,
        "after_sensitive": {},
    }
    entry.update(extra)
    return entry


def task_definition(address: str = "aws_ecs_task_definition.api", unknown: dict | None = None, **attributes) -> dict:
    after = {"family": "api", "container_definitions": json.dumps(CONTAINERS), "network_mode": "awsvpc"}
    after.update(attributes)
    return change(address, after, {"arn": True, "id": True, "revision": True, **(unknown or {})})


def role(address: str, trust: str = TRUST, unknown: dict | None = None, **attributes) -> dict:
    after = {"assume_role_policy": trust, "name": parse_address(address).name, "path": "/", "tags": None}
    after.update(attributes)
    base = {"arn": True, "id": True, "unique_id": True, "inline_policy": True, "managed_policy_arns": True}
    return change(address, after, {**base, **(unknown or {})})


def resource(address: str, **expressions: Any) -> dict:
    parsed = parse_address(address)
    return {
        "address": parsed.resource,
        "mode": parsed.mode,
        "type": parsed.type,
        "name": parsed.name,
        "provider_config_key": "aws",
        "expressions": {k: ({"references": v} if isinstance(v, list) else v) for k, v in expressions.items()},
        "schema_version": 0,
    }


def plan(*changes: dict, resources: list | None = None, module_calls: dict | None = None, prior: list | None = None):
    document: dict[str, Any] = {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "planned_values": {"root_module": {}},
        "resource_changes": list(changes),
        "configuration": {"root_module": {"resources": resources or [], "module_calls": module_calls or {}}},
    }
    if prior is not None:
        document["prior_state"] = {"format_version": "1.0", "values": {"root_module": {"resources": prior}}}
    return document


@pytest.fixture(scope="module")
def gate():
    return build_gate(Settings(iam_lookup="off", default_account="111122223333", default_region="eu-west-1"))


def decide(gate, document):
    return {address: decision for address, decision in decide_plan(gate, load_plan(document)).results}


def rules(decision, kind="violations") -> set[tuple[str, str]]:
    return {(f.rule, f.path) for f in getattr(decision, kind)}


# -- detection and the real corpus ---------------------------------------------------------------------


def test_a_plan_is_detected_by_its_keys():
    for path in FIXTURES.glob("*.json"):
        document = json.loads(path.read_text())
        assert is_plan(document) and not is_template(document), path.name
    assert not is_plan({"family": "x", "containerDefinitions": []})
    assert not is_plan({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}})
    # `terraform show -json` of a state file is not a plan: nothing in it is about to change.
    assert not is_plan({"format_version": "1.0", "terraform_version": "1.11.4", "values": {"root_module": {}}})


def test_real_plans_from_public_repositories_are_judged(gate):
    provenance = (FIXTURES / "PROVENANCE.tsv").read_text().splitlines()
    real = [line.split("\t")[0] for line in provenance[1:] if "\thand-written" not in line]
    assert real, "at least one plan committed by someone else"
    for name in real:
        document = json.loads((FIXTURES / name).read_text())
        judged = load_plan(document)
        assert judged.task_definitions, name
        for task_definition in judged.task_definitions:
            assert task_definition.request.task_definition["containerDefinitions"]
        decide_plan(gate, judged)


def test_checkov_plan_becomes_its_task_definition():
    (judged,) = load_plan(json.loads((FIXTURES / "checkov-ecs-tfplan.json").read_text())).task_definitions
    assert judged.logical_id == "aws_ecs_task_definition.service"
    task = judged.request.task_definition
    assert task["family"] == "service" and [c["name"] for c in task["containerDefinitions"]] == ["first", "second"]
    # network_mode is unknown in that plan only because it is Computed and not configured: absent, not unresolved.
    assert "networkMode" not in task and judged.request.template["unresolved"] == []


# -- attributes ----------------------------------------------------------------------------------------


def test_attributes_map_to_the_task_definitions_fields():
    document = plan(
        task_definition(
            cpu="256",
            memory="512",
            requires_compatibilities=["FARGATE"],
            ipc_mode=None,
            pid_mode="task",
            tags={"team": "payments"},
            volume=[
                {
                    "name": "data",
                    "host_path": None,
                    "configure_at_launch": False,
                    "docker_volume_configuration": [],
                    "efs_volume_configuration": [
                        {
                            "file_system_id": "fs-1",
                            "root_directory": "/",
                            "transit_encryption": "ENABLED",
                            "transit_encryption_port": None,
                            "authorization_config": [{"access_point_id": "fsap-1", "iam": "ENABLED"}],
                        }
                    ],
                    "fsx_windows_file_server_volume_configuration": [],
                },
                {"name": "scratch", "host_path": "/tmp/scratch", "efs_volume_configuration": []},
            ],
            placement_constraints=[{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}],
            proxy_configuration=[
                {"container_name": "envoy", "type": "APPMESH", "properties": {"ProxyIngressPort": "15000"}}
            ],
            runtime_platform=[{"operating_system_family": "LINUX", "cpu_architecture": "ARM64"}],
            ephemeral_storage=[{"size_in_gib": 30}],
            inference_accelerator=[],
        )
    )
    (judged,) = load_plan(document).task_definitions
    task = judged.request.task_definition
    assert task["volumes"] == [
        {
            "name": "data",
            "configuredAtLaunch": False,
            "efsVolumeConfiguration": {
                "fileSystemId": "fs-1",
                "rootDirectory": "/",
                "transitEncryption": "ENABLED",
                "authorizationConfig": {"accessPointId": "fsap-1", "iam": "ENABLED"},
            },
        },
        {"name": "scratch", "host": {"sourcePath": "/tmp/scratch"}},
    ]
    assert task["placementConstraints"] == [{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}]
    assert task["proxyConfiguration"] == {
        "containerName": "envoy",
        "type": "APPMESH",
        "properties": [{"name": "ProxyIngressPort", "value": "15000"}],
    }
    assert task["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}
    assert task["ephemeralStorage"] == {"sizeInGiB": 30}
    assert task["tags"] == [{"key": "team", "value": "payments"}]
    assert task["pidMode"] == "task" and "ipcMode" not in task and "inferenceAccelerators" not in task
    pointers = judged.attribute_pointers
    assert attribute_path("/volumes/0/efsVolumeConfiguration/transitEncryption", pointers) == (
        "volume[0].efs_volume_configuration[0].transit_encryption"
    )
    assert attribute_path("/volumes/1/host/sourcePath", pointers) == "volume[1].host_path"
    assert attribute_path("/containerDefinitions/0/linuxParameters/capabilities/add/1", pointers) == (
        "container_definitions[0].linuxParameters.capabilities.add[1]"
    )
    assert judged.template_pointer("/pidMode") == "aws_ecs_task_definition.api.pid_mode"
    assert judged.template_pointer("/") == "aws_ecs_task_definition.api"


def test_container_definitions_are_parsed_with_the_same_limits():
    duplicate = '[{"name": "a", "image": "x:1", "privileged": false, "privileged": true}]'
    with pytest.raises(InputError) as caught:
        load_plan(plan(task_definition(container_definitions=duplicate)))
    assert caught.value.field == "/resource_changes/0/change/after/container_definitions"
    deep = "[" * 100 + "]" * 100
    with pytest.raises(InputError) as caught:
        load_plan(plan(task_definition(container_definitions=deep)))
    assert caught.value.error == "too_deep"
    with pytest.raises(InputError) as caught:
        load_plan(plan(task_definition(container_definitions=json.dumps([{"name": "a", "image": 7}]))))
    assert caught.value.field.startswith("aws_ecs_task_definition.api.container_definitions[0]")


def test_container_definitions_unknown_until_apply_cannot_be_judged(gate):
    document = plan(task_definition(container_definitions=None, unknown={"container_definitions": True}))
    with pytest.raises(InputError) as caught:
        load_plan(document)
    assert caught.value.error == "unknown_until_apply" and "known only after apply" in caught.value.problem
    response = (
        create_app(Settings(auth="none", iam_lookup="off"))
        .test_client()
        .post("/v1/admit", data=json.dumps(document), content_type="application/json")
    )
    assert response.status_code == 400
    assert response.get_json()["field"] == "/resource_changes/0/change/after/container_definitions"


def test_values_unknown_until_apply_are_reported_never_assumed(gate):
    td = task_definition(memory=None, pid_mode=None, unknown={"memory": True, "pid_mode": True, "network_mode": True})
    td["change"]["after"].pop("network_mode")
    document = plan(
        td,
        resources=[resource("aws_ecs_task_definition.api", memory=["var.memory"], pid_mode=["var.pid"], family={})],
    )
    decision = decide(gate, document)["aws_ecs_task_definition.api"]
    unresolved = {(f.rule, f.path) for f in decision.warnings if f.rule == "ECS-TPL-001"}
    assert unresolved == {
        ("ECS-TPL-001", "aws_ecs_task_definition.api.memory"),
        ("ECS-TPL-001", "aws_ecs_task_definition.api.pid_mode"),
    }
    message = next(f.message for f in decision.warnings if f.path.endswith(".pid_mode"))
    assert "aws_ecs_task_definition.api.pid_mode" in message and "known only after apply" in message


# -- instances and actions -----------------------------------------------------------------------------


def test_only_creates_and_updates_are_judged(gate):
    document = plan(
        task_definition("aws_ecs_task_definition.new"),
        {
            **task_definition("aws_ecs_task_definition.changed"),
            "change": {**task_definition()["change"], "actions": ["update"]},
        },
        {
            **task_definition("aws_ecs_task_definition.replaced"),
            "change": {**task_definition()["change"], "actions": ["delete", "create"]},
        },
        {
            **task_definition("aws_ecs_task_definition.kept"),
            "change": {**task_definition()["change"], "actions": ["no-op"]},
        },
        change("aws_ecs_task_definition.gone", None, actions=("delete",)),
        change("data.aws_ecs_task_definition.current", {"task_definition": "api"}, actions=("read",)),
    )
    judged = load_plan(document)
    assert [t.logical_id for t in judged.task_definitions] == [
        "aws_ecs_task_definition.new",
        "aws_ecs_task_definition.changed",
        "aws_ecs_task_definition.replaced",
    ]
    assert judged.skipped == [
        {"logical_id": "aws_ecs_task_definition.kept", "reason": "no-op action: not changed by this plan"},
        {"logical_id": "aws_ecs_task_definition.gone", "reason": "deleted by this plan"},
    ]


def test_a_plan_without_task_definitions_is_an_answer(gate, tmp_path):
    document = plan(change("aws_s3_bucket.logs", {"bucket": "logs"}))
    judged = decide_plan(gate, load_plan(document))
    assert judged.allowed and judged.to_dict()["plan"]["task_definitions"] == 0
    response = (
        create_app(Settings(auth="none", iam_lookup="off"))
        .test_client()
        .post("/v1/admit", data=json.dumps(document), content_type="application/json")
    )
    assert response.status_code == 200 and response.get_json()["results"] == []
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    err = io.StringIO()
    assert main(["check", str(path)], stdout=io.StringIO(), stderr=err) == 0
    assert "no aws_ecs_task_definition is created or updated by this plan" in err.getvalue()


def test_too_many_task_definitions_is_a_limit():
    document = plan(*(task_definition(f"aws_ecs_task_definition.api[{i}]") for i in range(11)))
    with pytest.raises(InputError) as caught:
        load_plan(document)
    assert caught.value.error == "limit_exceeded" and caught.value.field == "/resource_changes"


def test_unsupported_format_version():
    document = plan(task_definition())
    document["format_version"] = "2.0"
    with pytest.raises(InputError) as caught:
        load_plan(document)
    assert caught.value.field == "/format_version"


def test_addresses():
    address = parse_address('module.a["x.y"].module.b[0].aws_ecs_task_definition.this["k]"]')
    assert address is not None
    assert address.modules == (("a", '["x.y"]'), ("b", "[0]")) and address.config_path == ("a", "b")
    assert address.resource == "aws_ecs_task_definition.this" and key_value(address.key) == "k]"
    assert str(address) == 'module.a["x.y"].module.b[0].aws_ecs_task_definition.this["k]"]'
    assert parse_address("data.aws_iam_policy_document.x").mode == "data"
    assert parse_address("aws_x.y.z") is None and parse_address("module.a") is None
    assert split_path("aws_iam_role.task.inline_policy[0].policy") == ("aws_iam_role.task", "inline_policy[0].policy")
    assert split_path('module.a["b.c"].aws_iam_policy.p.policy') == ('module.a["b.c"].aws_iam_policy.p', "policy")


# -- role facts from the plan ------------------------------------------------------------------------------


def test_count_instances_follow_their_own_role(gate):
    document = plan(
        task_definition("aws_ecs_task_definition.api[0]", task_role_arn=None, unknown={"task_role_arn": True}),
        task_definition("aws_ecs_task_definition.api[1]", task_role_arn=None, unknown={"task_role_arn": True}),
        role("aws_iam_role.task[0]"),
        role("aws_iam_role.task[1]", trust=TRUST.replace("ecs-tasks.amazonaws.com", "ec2.amazonaws.com")),
        resources=[resource("aws_ecs_task_definition.api", task_role_arn=["aws_iam_role.task", "count.index"])],
    )
    decided = decide(gate, document)
    assert "ECS-TRUST-002" not in {f.rule for f in decided["aws_ecs_task_definition.api[0]"].violations}
    assert ("ECS-TRUST-002", "aws_ecs_task_definition.api[1].task_role_arn") in rules(
        decided["aws_ecs_task_definition.api[1]"]
    )


def test_a_role_from_a_child_modules_output(gate):
    admin = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    document = plan(
        task_definition(task_role_arn=None, unknown={"task_role_arn": True}),
        role("module.iam.aws_iam_role.this"),
        change("module.iam.aws_iam_policy.admin", {"name": "admin", "policy": admin}, {"arn": True, "id": True}),
        change(
            "module.iam.aws_iam_role_policy_attachment.admin",
            {"role": "this"},
            {"id": True, "policy_arn": True},
        ),
        resources=[resource("aws_ecs_task_definition.api", task_role_arn=["module.iam.task_role_arn", "module.iam"])],
        module_calls={
            "iam": {
                "source": "./iam",
                "module": {
                    "outputs": {
                        "task_role_arn": {"expression": {"references": ["aws_iam_role.this.arn", "aws_iam_role.this"]}}
                    },
                    "resources": [
                        resource("aws_iam_role.this"),
                        resource("aws_iam_policy.admin"),
                        resource(
                            "aws_iam_role_policy_attachment.admin",
                            role=["aws_iam_role.this.name", "aws_iam_role.this"],
                            policy_arn=["aws_iam_policy.admin.arn", "aws_iam_policy.admin"],
                        ),
                    ],
                },
            }
        },
    )
    decision = decide(gate, document)["aws_ecs_task_definition.api"]
    admin_finding = next(f for f in decision.violations if f.rule == "ECS-PERM-001")
    # The finding points at the policy that grants it, and still names the task definition.
    assert admin_finding.path == "module.iam.aws_iam_policy.admin.policy"
    assert admin_finding.extra["terraform_address"] == "module.iam.aws_iam_policy.admin"
    assert admin_finding.extra["task_definition_address"] == "aws_ecs_task_definition.api"
    assert admin_finding.extra["role_path"] == "aws_ecs_task_definition.api.task_role_arn"


def test_a_role_module_argument_and_inline_policies(gate):
    document = plan(
        task_definition("module.svc.aws_ecs_task_definition.this", task_role_arn=None, unknown={"task_role_arn": True}),
        role(
            "aws_iam_role.task",
            unknown={"inline_policy": False},
            inline_policy=[
                {
                    "name": "all",
                    "policy": json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}],
                        }
                    ),
                }
            ],
        ),
        resources=[resource("aws_iam_role.task", inline_policy=[{"name": {"constant_value": "all"}}])],
        module_calls={
            "svc": {
                "expressions": {"role": {"references": ["aws_iam_role.task.arn", "aws_iam_role.task"]}},
                "module": {"resources": [resource("aws_ecs_task_definition.this", task_role_arn=["var.role"])]},
            }
        },
    )
    decision = decide(gate, document)["module.svc.aws_ecs_task_definition.this"]
    paths = {f.path for f in decision.violations}
    assert "aws_iam_role.task.inline_policy[0].policy" in paths


def test_a_policy_document_known_only_after_apply_makes_the_role_undecided(gate):
    deferred = change(
        "data.aws_iam_policy_document.assume",
        {"statement": [{"actions": ["sts:AssumeRole"]}]},
        {"id": True, "json": True, "minified_json": True},
        actions=("read",),
    )
    document = plan(
        task_definition(task_role_arn=None, unknown={"task_role_arn": True}),
        role("aws_iam_role.task", trust=None, unknown={"assume_role_policy": True}),
        deferred,
        resources=[
            resource("aws_ecs_task_definition.api", task_role_arn=["aws_iam_role.task.arn", "aws_iam_role.task"]),
            resource(
                "aws_iam_role.task",
                assume_role_policy=["data.aws_iam_policy_document.assume.json", "data.aws_iam_policy_document.assume"],
            ),
        ],
    )
    (judged,) = load_plan(document).task_definitions
    facts = judged.request.template_roles["taskRoleArn"]
    assert facts["status"] == "unknown" and facts["trust_policy"] is None
    assert "data.aws_iam_policy_document.assume.json is known only after apply" in facts["reason"]
    decision = decide(gate, document)["aws_ecs_task_definition.api"]
    assert ("ECS-ROLE-007", "aws_ecs_task_definition.api.task_role_arn") in rules(decision, "warnings")


def test_a_policy_document_read_while_planning_is_the_trust_policy(gate):
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}}
            ],
        },
        indent=2,
    )
    document = plan(
        task_definition(task_role_arn=None, unknown={"task_role_arn": True}),
        role("aws_iam_role.task", trust=None, unknown={"assume_role_policy": True}),
        resources=[
            resource("aws_ecs_task_definition.api", task_role_arn=["aws_iam_role.task.arn", "aws_iam_role.task"]),
            resource("aws_iam_role.task", assume_role_policy=["data.aws_iam_policy_document.assume.json"]),
        ],
        prior=[
            {
                "address": "data.aws_iam_policy_document.assume",
                "mode": "data",
                "type": "aws_iam_policy_document",
                "name": "assume",
                "provider_name": AWS,
                "schema_version": 0,
                "values": {"json": trust, "id": "1"},
                "sensitive_values": {},
            }
        ],
    )
    decision = decide(gate, document)["aws_ecs_task_definition.api"]
    assert any(
        f.rule.startswith("ECS-TRUST") and f.path == "aws_ecs_task_definition.api.task_role_arn"
        for f in decision.violations
    )


def test_a_role_the_plan_does_not_decide_is_undecided(gate):
    document = plan(
        task_definition(task_role_arn=None, unknown={"task_role_arn": True}),
        resources=[resource("aws_ecs_task_definition.api", task_role_arn=["local.role_arn"])],
    )
    (judged,) = load_plan(document).task_definitions
    facts = judged.request.template_roles["taskRoleArn"]
    assert facts["status"] == "unknown" and "known only after apply" in facts["reason"]
    decision = decide(gate, document)["aws_ecs_task_definition.api"]
    warned = rules(decision, "warnings")
    assert ("ECS-ROLE-007", "aws_ecs_task_definition.api.task_role_arn") in warned
    assert ("ECS-TPL-001", "aws_ecs_task_definition.api.task_role_arn") in warned
    assert decision.allowed is not None


def test_a_known_role_arn_outside_the_plan_is_left_to_iam_lookups(gate):
    arn = "arn:aws:iam::111122223333:role/existing"
    (judged,) = load_plan(plan(task_definition(task_role_arn=arn))).task_definitions
    assert judged.request.task_definition["taskRoleArn"] == arn and judged.request.template_roles == {}


def test_the_deploy_account_and_region_come_from_the_plan():
    document = plan(
        task_definition(),
        prior=[
            {
                "address": "data.aws_caller_identity.current",
                "mode": "data",
                "type": "aws_caller_identity",
                "name": "current",
                "provider_name": AWS,
                "schema_version": 0,
                "values": {"account_id": "444455556666", "id": "444455556666"},
                "sensitive_values": {},
            }
        ],
    )
    document["configuration"]["provider_config"] = {
        "aws": {"name": "aws", "expressions": {"region": {"constant_value": "ap-southeast-2"}}}
    }
    (judged,) = load_plan(document).task_definitions
    assert judged.request.context == {"account": "444455556666", "region": "ap-southeast-2"}


def test_a_shared_policy_attachment_gives_the_role_its_policy(gate):
    document = plan(
        task_definition(task_role_arn=None, unknown={"task_role_arn": True}),
        role("aws_iam_role.task"),
        role("aws_iam_role.other"),
        change(
            "aws_iam_policy_attachment.admins",
            {"name": "admins", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess", "users": None},
            {"id": True, "roles": True},
        ),
        resources=[
            resource("aws_ecs_task_definition.api", task_role_arn=["aws_iam_role.task.arn", "aws_iam_role.task"]),
            resource("aws_iam_role.task"),
            resource("aws_iam_role.other"),
            resource(
                "aws_iam_policy_attachment.admins",
                roles=["aws_iam_role.other.name", "aws_iam_role.other", "aws_iam_role.task.name", "aws_iam_role.task"],
            ),
        ],
    )
    decision = decide(gate, document)["aws_ecs_task_definition.api"]
    admin = next(f for f in decision.violations if f.rule == "ECS-PERM-001")
    assert admin.path == "aws_iam_policy_attachment.admins.policy_arn"


def test_an_existing_role_read_by_a_data_source_is_not_a_plan_role():
    arn = "arn:aws:iam::111122223333:role/existing"
    existing = {
        "address": "data.aws_iam_role.existing",
        "mode": "data",
        "type": "aws_iam_role",
        "name": "existing",
        "provider_name": AWS,
        "schema_version": 0,
        "sensitive_values": {},
        "values": {"arn": arn, "assume_role_policy": TRUST, "name": "existing"},
    }
    document = plan(
        task_definition(task_role_arn=arn),
        resources=[resource("aws_ecs_task_definition.api", task_role_arn=["data.aws_iam_role.existing.arn"])],
        prior=[existing],
    )
    (judged,) = load_plan(document).task_definitions
    # Its attached policies are not in the plan: IAM lookups read the role, the plan does not speak for it.
    assert judged.request.template_roles == {} and judged.request.task_definition["taskRoleArn"] == arn


def test_without_the_configuration_an_unknown_value_is_reported_not_read_as_absent():
    # A plan stripped of `configuration` cannot say whether an unknown attribute was set.
    td = task_definition(unknown={"network_mode": True})
    td["change"]["after"].pop("network_mode")
    document = plan(td, role("aws_iam_role.task"))
    del document["configuration"]
    (judged,) = load_plan(document).task_definitions
    unresolved = [u["expression"] for u in judged.request.template["unresolved"]]
    assert unresolved == ["aws_ecs_task_definition.api.network_mode"]
