"""Hostile input, continued: work and answers that grow with what the caller sends (issue 21) stay
bounded: supplied role facts, templates, wildcard patterns against many resources, volumes and
mounts, and the CloudFormation resolver. Against the same kind of server as test_hostile.py
(tests/web/hostile.py), with the same assertions on every request.
"""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.volumes import volumes_and_mounts
from tests.web.hostile import (
    BUDGET,
    CLEAN,
    STATS,
    TOKEN,
    TRUST,
    admit,
    send,
)

# --- bounded role and template facts -----------------------------------------------------------------


def statements(count: int) -> list[dict]:
    # Crafted to be slow to evaluate: globs against globs, Deny with NotAction and NotResource.
    return [
        {"Effect": "Deny", "NotAction": [f"s3:Get*{i}*a*b*c*d"], "NotResource": [f"arn:*:s3:::b{i}*a*b*c*/*"]}
        for i in range(count)
    ]


def test_supplied_role_facts_are_bounded(gate):
    role = CLEAN["taskRoleArn"]
    at_limit = {"taskDefinition": CLEAN, "roles": {role: {"policies": [{"Statement": statements(50)}]}}}
    status, answer = admit(gate, "role and template facts", at_limit)
    assert status in (200, 403), answer
    over = {"taskDefinition": CLEAN, "roles": {role: {"policies": [{"Statement": statements(51)}]}}}
    status, answer = admit(gate, "role and template facts", over)
    assert status == 400 and answer["error"] == "limit_exceeded", answer
    assert answer["field"] == f"/roles/{role.replace('/', '~1')}", answer
    many = {"taskDefinition": CLEAN, "roles": {f"arn:aws:iam::111122223333:role/r{i}": {} for i in range(11)}}
    status, answer = admit(gate, "role and template facts", many)
    assert status == 400 and answer["field"] == "/roles", answer


def template(task_definitions: int = 1, role_statements: int = 0, **extra: Any) -> dict:
    resources: dict[str, Any] = {
        f"TD{i}": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": f"f{i}",
                "ContainerDefinitions": [{"Name": "a", "Image": "nginx:1.27"}],
                **({"TaskRoleArn": {"Fn::GetAtt": ["Role", "Arn"]}} if role_statements else {}),
            },
        }
        for i in range(task_definitions)
    }
    if role_statements:
        resources["Role"] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": json.loads(TRUST),
                "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": statements(role_statements)}}],
            },
        }
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources, **extra}


def test_template_work_is_bounded(gate):
    status, answer = send(gate, "role and template facts", json.dumps(template(10)).encode())
    assert status == 200 and answer["template"]["task_definitions"] == 10, answer
    status, answer = send(gate, "role and template facts", json.dumps(template(11)).encode())
    assert status == 400 and answer["field"] == "/Resources", answer
    status, answer = send(gate, "role and template facts", json.dumps(template(1, 50)).encode())
    assert status in (200, 403), answer
    status, answer = send(gate, "role and template facts", json.dumps(template(2, 30)).encode())
    assert status == 400 and answer["field"] == "/Resources/TD1", answer


# --- issue 21: work and answers that grow with what the caller sends ----------------------------------


ACCOUNT = "111122223333"


def many_star_role_facts(patterns: int, secrets: int) -> dict:
    """One statement of many-star wildcard patterns against as many secrets: patterns x resources work."""
    role = "arn:aws:iam::111122223333:role/exec"
    resources = [
        "arn:aws:secretsmanager:*:*:secret:" + "*".join(f"saaa{chr(65 + (i + j) % 26)}" for j in range(8)) + f"*Q{i}*N*"
        for i in range(patterns)
    ]
    document = {
        "family": "many-stars",
        "executionRoleArn": role,
        "containerDefinitions": [
            {
                "name": "a",
                "image": "nginx:1.27",
                "secrets": [
                    {"name": f"S{i}", "valueFrom": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:saaaX{i}-AbCd"}
                    for i in range(secrets)
                ],
            }
        ],
    }
    policy = {"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": resources}]}
    return {"taskDefinition": document, "roles": {role: {"trustPolicy": json.loads(TRUST), "policies": [policy]}}}


def test_wildcard_patterns_times_resources_are_bounded(gate):
    """200 many-star patterns x 200 secret ARNs in one statement took 38 s; now a 400 well within the budget."""
    status, answer = admit(gate, "evaluator: patterns x resources", many_star_role_facts(200, 200))
    assert status == 400 and answer["error"] == "limit_exceeded" and answer["field"] == "/roles", answer
    assert "pattern-matching steps" in answer["detail"], answer
    status, answer = admit(gate, "evaluator: patterns x resources", many_star_role_facts(5, 5))
    assert status in (200, 403), answer
    STATS.memory["evaluator: patterns x resources"] = worker_peak_rss_mb(gate)
    assert STATS.memory["evaluator: patterns x resources"] < 300


def worker_peak_rss_mb(gate) -> float:
    """The peak resident size (VmHWM) of the server's worker processes, in MB."""
    children = Path(f"/proc/{gate.process.pid}/task/{gate.process.pid}/children").read_text().split()
    peaks = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks)


@pytest.mark.parametrize(("volumes", "mounts", "same_name"), [(600, 650, True), (700, 700, False)])
def test_volume_and_mount_answers_are_bounded(gate, volumes, mounts, same_name):
    """600 volumes all named `v` made a 104 MB answer and a 1 GB worker; 700 x 700 cost 1.5 s of engine time."""
    document = volumes_and_mounts(volumes, mounts, same_name)
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", gate.port, timeout=10)
    body = json.dumps(document).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    connection.request("POST", "/v1/admit", body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    elapsed = time.perf_counter() - started
    STATS.add("volumes x mounts (answer size, engine time)", elapsed, response.status)
    answer = json.loads(payload)
    assert response.status == 403 and answer["allowed"] is False, payload[:300]
    assert elapsed < BUDGET, elapsed
    assert len(payload) < 256 * 1024, len(payload)
    listed = [v for v in answer["violations"] if v["rule"] == "ECS-ISO-005"]
    assert 1 <= len(listed) <= 20 and listed[-1]["omitted"] == volumes - len(listed), listed[-1]
    assert all(v["message"].count("container a") == 1 for v in listed), listed[0]["message"][:300]
    STATS.memory["volumes x mounts (answer size, engine time)"] = worker_peak_rss_mb(gate)
    assert STATS.memory["volumes x mounts (answer size, engine time)"] < 300


# --- the CloudFormation resolver (last: the unfixed ones keep a thread busy) ----------------------------


def family_template(family: Any, **extra: Any) -> dict:
    document = template(1, **extra)
    document["Resources"]["TD0"]["Properties"]["Family"] = family
    return document


def find_in_map_chain(levels: int) -> dict:
    def join(level: int) -> dict:
        return {"Fn::Join": ["", [{"Fn::FindInMap": [f"M{level + 1}", "k", "v"]}] * 2]}

    mappings = {f"M{i}": {"k": {"v": join(i)}} for i in range(levels)}
    mappings[f"M{levels}"] = {"k": {"v": "x"}}
    return family_template({"Fn::FindInMap": ["M0", "k", "v"]}, Mappings=mappings)


RESOLVER_PASSING = {
    "condition refers to itself": family_template({"Fn::If": ["C", "a", "b"]}, Conditions={"C": {"Condition": "C"}}),
    "Sub variable refers to itself": family_template({"Fn::Sub": ["${X}", {"X": {"Fn::Sub": "${X}"}}]}),
    "parameter default refers to itself": family_template(
        {"Ref": "P"}, Parameters={"P": {"Type": "String", "Default": {"Ref": "P"}}}
    ),
    "FindInMap chain, 12 levels": find_in_map_chain(12),
}


def role_named_after_itself() -> dict:
    document = template(1)
    document["Resources"]["TD0"]["Properties"]["TaskRoleArn"] = {"Fn::GetAtt": ["Role", "Arn"]}
    document["Resources"]["Role"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {"RoleName": {"Ref": "Role"}, "AssumeRolePolicyDocument": {"Statement": []}},
    }
    return document


# The red team's resolver findings (issue 12), fixed with template conditions (issue 16).
RESOLVER_PASSING |= {
    "Fn::Not of nothing": family_template({"Fn::If": ["C", "a", "b"]}, Conditions={"C": {"Fn::Not": []}}),
    "Fn::Split on an empty delimiter": family_template({"Fn::Select": [0, {"Fn::Split": ["", "abc"]}]}),
    "FindInMap refers to itself": family_template(
        {"Fn::FindInMap": ["M", "k", "v"]}, Mappings={"M": {"k": {"v": {"Fn::FindInMap": ["M", "k", "v"]}}}}
    ),
    "FindInMap chain, 16 levels": find_in_map_chain(16),
    "FindInMap chain, 21 levels": find_in_map_chain(21),
    "role whose RoleName refers to itself": role_named_after_itself(),
}


@pytest.mark.parametrize("name", sorted(RESOLVER_PASSING))
def test_cloudformation_resolver_hostile_templates(gate, name):
    status, answer = send(gate, "cloudformation resolver", json.dumps(RESOLVER_PASSING[name]).encode())
    assert status in (200, 400, 403), answer
