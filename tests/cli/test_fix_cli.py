"""`ecs-admission fix`: the fixed task definition, the fixes listed, exit codes, a fixed point (docs/fixes.md)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from ecs_admission.cli.commands import main
from ecs_admission.inputs import parse_file_bytes
from tests.conftest import EXAMPLES

# Privileged containers, SYS_ADMIN among harmless capabilities, host PID and IPC modes: every
# isolation problem a fix is proposed for, with fields the fix must leave alone around them.
DANGEROUS = {
    "family": "metrics-agent",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["EC2"],
    "pidMode": "host",
    "ipcMode": "host",
    "containerDefinitions": [
        {
            "name": "agent",
            "image": "public.ecr.aws/datadog/agent:7.50.0",
            "memory": 256,
            "privileged": True,
            "linuxParameters": {"capabilities": {"add": ["NET_BIND_SERVICE", "SYS_ADMIN", "CHOWN"], "drop": ["MKNOD"]}},
        },
        {
            "name": "shipper",
            "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0",
            "memory": 128,
            "privileged": True,
            "linuxParameters": {"capabilities": {"add": ["NET_ADMIN", "SYS_ADMIN"]}},
        },
    ],
}
FIXED_RULES = {"ECS-ISO-002", "ECS-ISO-003", "ECS-ISO-004", "ECS-ISO-006"}


def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


def rules_found(path: Path) -> set[str]:
    _, out, _ = run("check", "--format", "json", str(path))
    decision = json.loads(out)
    return {f["rule"] for f in decision["violations"] + decision["warnings"]}


@pytest.fixture()
def dangerous(tmp_path: Path) -> Path:
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(DANGEROUS, indent=2) + "\n")
    return path


def test_fixing_privileged_sys_admin_host_pid_and_ipc_passes_and_keeps_the_rest(dangerous, tmp_path):
    assert rules_found(dangerous) >= FIXED_RULES
    code, out, err = run("fix", str(dangerous))
    assert code == 0, err
    fixed = json.loads(out)
    assert fixed["pidMode"] == "task" and fixed["ipcMode"] == "task"
    first, second = fixed["containerDefinitions"]
    assert [first["name"], second["name"]] == ["agent", "shipper"]
    assert first["image"] == DANGEROUS["containerDefinitions"][0]["image"]
    assert second["image"] == DANGEROUS["containerDefinitions"][1]["image"]
    assert "privileged" not in first and "privileged" not in second
    assert first["linuxParameters"]["capabilities"] == {"add": ["NET_BIND_SERVICE", "CHOWN"], "drop": ["MKNOD"]}
    assert second["linuxParameters"]["capabilities"] == {"add": []}
    assert list(fixed) == list(DANGEROUS)  # key order kept
    # Every fix is listed on stderr, one line per finding.
    listed = [line for line in err.splitlines() if line.startswith("ecs-admission: fixed ")]
    assert len(listed) == 7 and {line.split()[2] for line in listed} == FIXED_RULES
    out_path = tmp_path / "fixed.json"
    out_path.write_text(out)
    assert not FIXED_RULES & rules_found(out_path)


def test_the_fixed_document_is_a_fixed_point(dangerous, tmp_path):
    target = tmp_path / "fixed.json"
    assert run("fix", str(dangerous), "-o", str(target))[0] == 0
    first = target.read_bytes()
    code, out, err = run("fix", str(target))
    assert code == 0 and out.encode() == first
    assert "nothing to fix" in err and "fixed " not in err


def test_static_aws_keys_are_not_fixed_and_exit_1_naming_the_rule(tmp_path):
    document = json.loads(json.dumps(DANGEROUS))
    document["containerDefinitions"][0]["environment"] = [
        {"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"}
    ]
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(document, indent=2))
    code, out, err = run("fix", str(path))
    assert code == 1
    remaining = [line for line in err.splitlines() if "not fixed" in line]
    assert remaining and all("ECS-ISO-007" in line for line in remaining)
    assert "1 denial(s) remain" in err
    fixed = json.loads(out)
    # The key stays (nothing is invented, nothing the application reads is dropped); the rest is fixed.
    assert fixed["containerDefinitions"][0]["environment"] == document["containerDefinitions"][0]["environment"]
    assert "privileged" not in fixed["containerDefinitions"][0]


def test_a_json_file_keeps_its_layout_and_only_the_fixed_line_changes(tmp_path):
    source = (EXAMPLES / "taskdef.json").read_text()
    code, out, err = run("fix", str(EXAMPLES / "taskdef.json"))
    assert code == 1 and "not fixed (no fix proposed): ECS-EXEC-001" in err  # secrets need an execution role
    removed = [line for line in source.splitlines() if line not in out.splitlines()]
    assert removed == ['      "privileged": true,']
    assert len(out.splitlines()) == len(source.splitlines()) - 1


def test_yaml_stays_yaml_with_its_comments(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text(
        "# the metrics agent\n"
        "family: metrics-agent   # family comment\n"
        "networkMode: awsvpc\n"
        "pidMode: host\n"
        "containerDefinitions:\n"
        "  - name: agent  # the one container\n"
        "    image: public.ecr.aws/datadog/agent:7.50.0\n"
        "    memory: 256\n"
        "    privileged: true\n"
        "    linuxParameters:\n"
        "      capabilities: {add: [SYS_ADMIN, CHOWN]}\n"
    )
    code, out, err = run("fix", str(path))
    assert code == 0, err
    assert out == (
        "# the metrics agent\n"
        "family: metrics-agent   # family comment\n"
        "networkMode: awsvpc\n"
        "pidMode: task\n"
        "containerDefinitions:\n"
        "  - name: agent  # the one container\n"
        "    image: public.ecr.aws/datadog/agent:7.50.0\n"
        "    memory: 256\n"
        "    linuxParameters:\n"
        "      capabilities: {add: [CHOWN]}\n"
    )
    assert "note:" not in err


def test_a_cloudformation_template_is_patched_in_place(tmp_path):
    code, out, err = run("fix", str(EXAMPLES / "template.yaml"))
    # The agent's host network mode has no fix (awsvpc needs subnets the template does not name).
    assert code == 1 and "ECS-ISO-001 Agent: /Resources/Agent/Properties/NetworkMode" in err
    assert "fixed ECS-ISO-002 Agent: /Resources/Agent/Properties/ContainerDefinitions/0/Privileged" in err
    source = (EXAMPLES / "template.yaml").read_text()
    assert [line for line in source.splitlines() if line not in out.splitlines()] == ['          Privileged: "true"']
    assert "!GetAtt ExecutionRole.Arn" in out and "RoleName: !Sub ${ServiceName}-execution" in out
    template = parse_file_bytes(out.encode(), "template.yaml")
    assert "Privileged" not in template["Resources"]["Agent"]["Properties"]["ContainerDefinitions"][0]


def test_envelope_describe_and_review_shapes_are_patched_where_the_task_definition_sits(tmp_path):
    task = json.loads(json.dumps(DANGEROUS))
    shapes = {
        "envelope": ({"taskDefinition": task, "context": {"region": "us-east-1"}}, ["taskDefinition"]),
        "describe": ({"taskDefinition": {**task, "revision": 3, "status": "ACTIVE"}}, ["taskDefinition"]),
        "review": (
            {"apiVersion": "ecs-admission/v1", "kind": "AdmissionReview", "request": {"uid": "u1", "object": task}},
            ["request", "object"],
        ),
    }
    for name, (document, where) in shapes.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document, indent=2))
        code, out, err = run("fix", str(path))
        assert code == 0, (name, err)
        fixed = json.loads(out)
        inner = fixed
        for key in where:
            inner = inner[key]
        assert inner["pidMode"] == "task" and "privileged" not in inner["containerDefinitions"][0], name
        assert set(fixed) == set(document), name


def test_output_file_and_stdin(dangerous, tmp_path):
    target = tmp_path / "out" / "fixed.json"
    target.parent.mkdir()
    code, out, _ = run("fix", str(dangerous), "-o", str(target))
    assert code == 0 and out == "" and json.loads(target.read_text())["pidMode"] == "task"
    code, out, _ = run("fix", "-", stdin=dangerous.read_text())
    assert code == 0 and json.loads(out) == json.loads(target.read_text())


def test_bad_input_exits_2_with_one_line(tmp_path):
    missing = tmp_path / "missing.json"
    code, out, err = run("fix", str(missing))
    assert code == 2 and out == "" and err.count("\n") == 1 and "no such file" in err
    broken = tmp_path / "broken.json"
    broken.write_text('{"family": ')
    code, out, err = run("fix", str(broken))
    assert code == 2 and out == "" and "Traceback" not in err
    not_a_task = tmp_path / "list.yaml"
    not_a_task.write_text(yaml.safe_dump([1, 2]))
    assert run("fix", str(not_a_task))[0] == 2


def test_a_patched_yaml_anchor_is_written_plainly_and_said_so(tmp_path):
    # Both containers alias one capabilities node: patching it in place would change both twice over.
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "family: anchors   # a comment the plain writer loses\n"
        "x-caps: &caps\n"
        "  add: [SYS_ADMIN, CHOWN]\n"
        "containerDefinitions:\n"
        "  - {name: a, image: 'nginx:1.27', linuxParameters: {capabilities: *caps}}\n"
        "  - {name: b, image: 'nginx:1.27', linuxParameters: {capabilities: *caps}}\n"
    )
    code, out, err = run("fix", str(path))
    assert code == 0 and "note: written without its comments: a patched field sits under a YAML anchor" in err
    fixed = yaml.safe_load(out)
    assert [c["linuxParameters"]["capabilities"]["add"] for c in fixed["containerDefinitions"]] == [["CHOWN"]] * 2
    assert fixed["x-caps"] == {"add": ["SYS_ADMIN", "CHOWN"]}
