"""Role references, policy-document normalisation, and `input.task_roles` from caller facts."""

from __future__ import annotations

import json

import pytest

from ecs_admission.config import Settings
from ecs_admission.facts.roles import build_task_roles, parse_role_reference
from ecs_admission.gate import build_gate
from ecs_admission.iam.documents import normalise_policy_document
from ecs_admission.inputs import normalise

ACCOUNT = "111122223333"
TRUST = {
    "Version": "2012-10-17",
    "Statement": {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"},
}


@pytest.mark.parametrize(
    ("reference", "account", "arn", "name", "valid"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/app", None, f"arn:aws:iam::{ACCOUNT}:role/app", "app", True),
        (
            f"arn:aws:iam::{ACCOUNT}:role/service/team/app",
            None,
            f"arn:aws:iam::{ACCOUNT}:role/service/team/app",
            "app",
            True,
        ),
        ("app-task", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:role/app-task", "app-task", True),
        ("app-task", None, None, "app-task", True),
        (f"arn:aws:iam::{ACCOUNT}:user/bob", None, None, None, False),
        ("arn:aws:iam::12:role/app", None, None, None, False),
        ("has space", None, None, None, False),
    ],
)
def test_parse_role_reference(reference, account, arn, name, valid):
    parsed = parse_role_reference("taskRoleArn", reference, account)
    assert (parsed.arn, parsed.name, parsed.valid) == (arn, name, valid)


def test_placeholder_reference_is_flagged():
    assert parse_role_reference("taskRoleArn", "<TASK_ROLE_ARN>", None).placeholder


def test_normalise_policy_document_lists_everything():
    doc = normalise_policy_document(
        {
            "Statement": {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        }
    )
    statement = doc["Statement"][0]
    assert statement["Principal"] == {"AWS": ["*"]}
    assert statement["Action"] == ["sts:AssumeRole"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": [ACCOUNT]}}


def test_normalise_accepts_json_and_url_encoded_text():
    text = json.dumps(TRUST)
    assert normalise_policy_document(text) == normalise_policy_document(TRUST)
    encoded = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A%2A%22%7D%5D%7D"
    assert normalise_policy_document(encoded)["Statement"][0]["Action"] == ["s3:*"]


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({}, "/Statement: missing"),
        ({"Statement": [{"Effect": "Maybe"}]}, "/Statement/0/Effect"),
        ({"Statement": [{"Effect": "Allow", "Action": 5}]}, "/Statement/0/Action"),
        ("not json", "not valid JSON"),
    ],
)
def test_normalise_rejects_malformed_documents(document, fragment):
    with pytest.raises(ValueError, match=fragment):
        normalise_policy_document(document)


def test_task_roles_from_caller_facts_by_arn_and_by_name():
    request = normalise(
        {
            "taskDefinition": {
                "taskRoleArn": "app-task",
                "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/exec",
                "family": "f", "containerDefinitions": [{"name": "a", "image": "i"}],
            },
            "roles": {f"arn:aws:iam::{ACCOUNT}:role/app-task": {"trustPolicy": TRUST, "policies": []}},
            "context": {"account": ACCOUNT},
        }
    )
    roles = build_task_roles(request.task_definition, request.roles, ACCOUNT)
    task = roles["taskRoleArn"]
    assert task["status"] == "known" and task["source"] == "caller"
    assert task["arn"] == f"arn:aws:iam::{ACCOUNT}:role/app-task"
    assert task["trust_policy"]["Statement"][0]["Principal"] == {"Service": ["ecs-tasks.amazonaws.com"]}
    assert task["policies"] == []
    execution = roles["executionRoleArn"]
    assert execution["status"] == "unknown" and execution["source"] == "none" and execution["reason"]


def test_unset_role_fields_are_absent():
    assert build_task_roles({"containerDefinitions": []}, {}, None) == {}


def test_gate_hands_task_roles_to_the_policies():
    gate = build_gate(Settings(default_account=ACCOUNT))
    request = normalise({"taskRoleArn": "app", "family": "f", "containerDefinitions": [{"name": "a", "image": "i"}]})
    document = gate.input_document(request, now=__import__("datetime").datetime(2026, 1, 1))
    assert document["task_roles"]["taskRoleArn"]["arn"] == f"arn:aws:iam::{ACCOUNT}:role/app"
    assert document["context"] == {"account": ACCOUNT, "account_source": "configured"}


def test_malformed_caller_trust_policy_is_400(client):
    body = {
        "taskDefinition": {"family": "f", "containerDefinitions": [{"name": "a", "image": "i"}]},
        "roles": {"arn:aws:iam::111122223333:role/a": {"trustPolicy": {"Statement": [{"Effect": "Allowed"}]}}},
    }
    response = client.post("/v1/admit", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["field"] == "/roles/arn:aws:iam::111122223333:role~1a/trustPolicy/Statement/0/Effect"
