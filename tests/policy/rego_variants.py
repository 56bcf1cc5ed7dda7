"""Policy inputs for the Rego differential test (test_rego_differential.py): the shipped examples, the
benchmark's hardened Fargate task and the rule cases, each also mutated a few ways at once (network and
PID modes, privileged, users, images, secrets and credentials in the environment, host volumes,
capabilities, roles and their trust policies, permissions and access verdicts), deterministically.

Each variant is the engine's `input` as the gate builds it (normalised, with the caller's role facts),
so a rewrite of the Rego for speed can be held to the decisions the policies made before it.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.policy.rego_role_facts import ACCOUNT, FACT_OVERLAYS, OTHER, POLICIES, TRUST_STATEMENTS

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
TASK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/payments-api-task"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/payments-api-execution"
VARIANTS_PER_SEED = 12

Envelope = dict[str, Any]


def seeds() -> list[tuple[str, Envelope]]:
    """The unmutated inputs: (name, request body as the webhook accepts it)."""
    found: list[tuple[str, Envelope]] = [
        ("bench/hardened-fargate.json", _load(REPO / "bench" / "hardened-fargate.json"))
    ]
    for path in sorted((REPO / "examples").glob("*.json")):
        found.append((f"examples/{path.name}", _load(path)))
    for path in sorted((REPO / "tests" / "cases").glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        for index, case in enumerate(document["cases"]):
            # Cases with their own config or facts need a policy set or gate of their own: the
            # differential keeps to the shipped settings and the caller's facts.
            if "config" in case or "facts" in case or not isinstance(case.get("input"), dict):
                continue
            found.append((f"cases/{path.stem}[{index}]", case["input"]))
    return found


def _load(path: Path) -> Envelope:
    return json.loads(path.read_text())


def _task(envelope: Envelope) -> dict[str, Any] | None:
    for key in ("taskDefinition", "task_definition"):
        if isinstance(envelope.get(key), dict):
            return envelope[key]
    if isinstance(envelope.get("containerDefinitions"), list):
        return envelope
    return None


def _containers(task: dict[str, Any]) -> list[dict[str, Any]]:
    containers = task.get("containerDefinitions")
    return [c for c in containers if isinstance(c, dict)] if isinstance(containers, list) else []


def _wrap(envelope: Envelope) -> Envelope:
    """An envelope {taskDefinition, roles, context} whatever shape the seed had."""
    task = _task(envelope)
    if task is None:
        return envelope
    if task is envelope:
        return {"taskDefinition": envelope}
    return envelope


def _roles(envelope: Envelope) -> dict[str, Any]:
    roles = envelope.setdefault("roles", {})
    return roles if isinstance(roles, dict) else envelope.setdefault("roles", {})


def _trust(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _pick_container(rng: random.Random, task: dict[str, Any]) -> dict[str, Any] | None:
    containers = _containers(task)
    return rng.choice(containers) if containers else None


def _task_mutation(
    change: Callable[[random.Random, dict[str, Any]], None],
) -> Callable[[random.Random, Envelope], None]:
    def apply(rng: random.Random, envelope: Envelope) -> None:
        task = _task(envelope)
        if task is not None:
            change(rng, task)

    return apply


def _container_mutation(
    change: Callable[[random.Random, dict[str, Any]], None],
) -> Callable[[random.Random, Envelope], None]:
    def apply(rng: random.Random, envelope: Envelope) -> None:
        task = _task(envelope)
        container = _pick_container(rng, task) if task is not None else None
        if container is not None:
            change(rng, container)

    return apply


def _set_or_drop(mapping: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value


@_task_mutation
def network_mode(rng: random.Random, task: dict[str, Any]) -> None:
    _set_or_drop(task, "networkMode", rng.choice(["host", "bridge", "awsvpc", "none", None]))


@_task_mutation
def host_namespaces(rng: random.Random, task: dict[str, Any]) -> None:
    task[rng.choice(["pidMode", "ipcMode"])] = rng.choice(["host", "task"])


@_task_mutation
def launch_types(rng: random.Random, task: dict[str, Any]) -> None:
    _set_or_drop(
        task, "requiresCompatibilities", rng.choice([["FARGATE"], ["EC2"], [], ["EC2", "FARGATE"], ["EXTERNAL"], None])
    )


@_task_mutation
def platform(rng: random.Random, task: dict[str, Any]) -> None:
    family = rng.choice(["WINDOWS_SERVER_2019_FULL", "LINUX", "windows_server_2022_core", None])
    if family is None:
        task.pop("runtimePlatform", None)
    else:
        task["runtimePlatform"] = {"operatingSystemFamily": family}


@_task_mutation
def task_memory(rng: random.Random, task: dict[str, Any]) -> None:
    _set_or_drop(task, "memory", rng.choice(["2048", None]))


@_task_mutation
def role_fields(rng: random.Random, task: dict[str, Any]) -> None:
    field = rng.choice(["taskRoleArn", "executionRoleArn"])
    other = "executionRoleArn" if field == "taskRoleArn" else "taskRoleArn"
    value = rng.choice(
        [
            None,
            "",
            "${TASK_ROLE_ARN}",
            "<TASK_ROLE_ARN>",
            f"arn:aws:iam::12:role/{field}",
            f"arn:aws:iam::{OTHER}:role/x",
            "payments-api-task",
            task.get(other),
            f"arn:aws:iam::{ACCOUNT}:role/payments-api-task",
        ]
    )
    _set_or_drop(task, field, value)


@_task_mutation
def volumes(rng: random.Random, task: dict[str, Any]) -> None:
    source = rng.choice(
        ["/var/run/docker.sock", "/", "relative/dir", "/etc/../tmp", "/var/lib/docker/x", "/var", "//proc//", "/data"]
    )
    volume: dict[str, Any] = {"name": rng.choice(["tmp", "host", "data"]), "host": {"sourcePath": source}}
    if rng.random() < 0.3:
        volume = {
            "name": "efs",
            "efsVolumeConfiguration": {
                "fileSystemId": "fs-1",
                **rng.choice([{}, {"transitEncryption": "DISABLED"}, {"transitEncryption": "enabled"}]),
            },
        }
    task.setdefault("volumes", []).append(volume)


@_container_mutation
def privileged(rng: random.Random, container: dict[str, Any]) -> None:
    container["privileged"] = rng.choice([True, False])


@_container_mutation
def user(rng: random.Random, container: dict[str, Any]) -> None:
    _set_or_drop(container, "user", rng.choice(["root", "", "0:0", " 0 ", "1000", "ContainerAdministrator", None]))


@_container_mutation
def readonly(rng: random.Random, container: dict[str, Any]) -> None:
    _set_or_drop(container, "readonlyRootFilesystem", rng.choice([False, True, None]))


@_container_mutation
def image(rng: random.Random, container: dict[str, Any]) -> None:
    container["image"] = rng.choice(
        [
            "nginx",
            "nginx:latest",
            "library/nginx:1.25",
            f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app",
            "${IMAGE}",
            "ghcr.io/acme/app@sha256:" + "a" * 64,
            "localhost:5000/app:1",
            "quay.io/acme/app:2.0",
        ]
    )


@_container_mutation
def environment(rng: random.Random, container: dict[str, Any]) -> None:
    name, value = rng.choice(
        [
            ("AWS_ACCESS_KEY_ID", "AKIAABCDEFGHIJKLMNOP"),
            ("aws_secret_access_key", "x"),
            ("KEY", "id=AKIAABCDEFGHIJKLMNOP;"),
            ("DB_PASSWORD", "hunter2hunter2"),
            ("DB_PASSWORD_FILE", "/run/secrets/db"),
            ("API_TOKEN", "true"),
            ("DATABASE_URL", "postgres://app:s3cret@db:5432/app"),
            ("DATABASE_URL", "postgres://app:****@db/app"),
            ("SESSION", "eyJhbGciOiJIUzI1.eyJzdWIiOiIx.abcdefghijklmnopqrstuvwxyz"),
            ("GH", "ghp_" + "a" * 36),
            ("SECRET_ARN", "arn:aws:secretsmanager:us-east-1:1:secret:x"),
            ("CLIENT_SECRET", "${SECRET}"),
            ("SIGNING_KEY", "8080"),
            ("PRIVATE_KEY", "keys/app/private"),
            ("TOKEN", "https://auth.example.com/"),
        ]
    )
    container.setdefault("environment", []).append({"name": name, "value": value})


@_container_mutation
def secrets(rng: random.Random, container: dict[str, Any]) -> None:
    name = rng.choice(["DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "aws_session_token"])
    container.setdefault("secrets", []).append(
        {"name": name, "valueFrom": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/{name}"}
    )


@_container_mutation
def logging(rng: random.Random, container: dict[str, Any]) -> None:
    container["logConfiguration"] = rng.choice(
        [
            {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/x"}},
            {
                "logDriver": "splunk",
                "secretOptions": [{"name": "splunk-token", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/t"}],
            },
            {},
            {"logDriver": ""},
        ]
    )


@_container_mutation
def registry_credentials(rng: random.Random, container: dict[str, Any]) -> None:
    container["repositoryCredentials"] = {
        "credentialsParameter": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:reg"
    }
    if rng.random() < 0.5:
        container["environmentFiles"] = [{"type": "s3", "value": "arn:aws:s3:::bucket/app.env"}]


@_container_mutation
def capabilities(rng: random.Random, container: dict[str, Any]) -> None:
    added = rng.sample(["SYS_ADMIN", "CAP_SYS_PTRACE", "NET_RAW", "all", "net_admin", "BPF", "CHOWN"], 2)
    container["linuxParameters"] = {"capabilities": {"add": added}}


@_container_mutation
def health_and_limits(rng: random.Random, container: dict[str, Any]) -> None:
    choice = rng.choice(["no-health", "not-essential", "memory", "no-memory", "mount"])
    if choice == "no-health":
        container.pop("healthCheck", None)
    elif choice == "not-essential":
        container["essential"] = False
    elif choice == "memory":
        container["memory"] = 256
    elif choice == "no-memory":
        container.pop("memory", None)
    else:
        container.setdefault("mountPoints", []).append({"sourceVolume": "host", "containerPath": "/host"})


def add_container(rng: random.Random, envelope: Envelope) -> None:
    task = _task(envelope)
    if task is not None and isinstance(task.get("containerDefinitions"), list):
        task["containerDefinitions"].append(
            {"image": rng.choice(["busybox", "alpine:3.19"]), "essential": rng.random() < 0.5}
        )


def trust_policy(rng: random.Random, envelope: Envelope) -> None:
    task = _task(envelope) or {}
    field = rng.choice(["taskRoleArn", "executionRoleArn"])
    reference = (
        task.get(field)
        if isinstance(task.get(field), str) and task.get(field)
        else (TASK_ROLE if field == "taskRoleArn" else EXECUTION_ROLE)
    )
    if not (isinstance(task.get(field), str) and task.get(field)):
        task[field] = reference
    statements = copy.deepcopy(rng.choice(TRUST_STATEMENTS))
    if rng.random() < 0.3:
        statements = statements + copy.deepcopy(rng.choice(TRUST_STATEMENTS))
    roles = _roles(envelope)
    entry = roles.setdefault(reference, {}) if isinstance(roles.get(reference, {}), dict) else {}
    entry["trustPolicy"] = _trust(statements)
    roles[reference] = entry


def permissions(rng: random.Random, envelope: Envelope) -> None:
    task = _task(envelope) or {}
    field = rng.choice(["taskRoleArn", "executionRoleArn"])
    reference = task.get(field)
    if not isinstance(reference, str) or not reference:
        return
    roles = _roles(envelope)
    entry = roles.setdefault(reference, {})
    entry["policies"] = copy.deepcopy(rng.choice(POLICIES))


def context(rng: random.Random, envelope: Envelope) -> None:
    choice = rng.choice([None, OTHER, ACCOUNT])
    if choice is None:
        envelope.pop("context", None)
    else:
        envelope["context"] = {"account": choice, "region": "us-east-1"}


MUTATIONS: list[Callable[[random.Random, Envelope], None]] = [
    network_mode,
    host_namespaces,
    launch_types,
    platform,
    task_memory,
    role_fields,
    volumes,
    privileged,
    user,
    readonly,
    image,
    environment,
    secrets,
    logging,
    registry_credentials,
    capabilities,
    health_and_limits,
    add_container,
    trust_policy,
    trust_policy,
    permissions,
    context,
]

def variants(
    seed_envelopes: list[tuple[str, Envelope]] | None = None, per_seed: int = VARIANTS_PER_SEED
) -> Iterator[tuple[str, Envelope, dict[str, Any] | None]]:
    """(name, request body, facts overlay or None): each seed as it is, then `per_seed` mutants of it."""
    for name, seed in seed_envelopes if seed_envelopes is not None else seeds():
        yield name, seed, None
        rng = random.Random(name)
        for index in range(per_seed):
            envelope = _wrap(copy.deepcopy(seed))
            for mutate in rng.sample(MUTATIONS, rng.randint(1, 4)):
                mutate(rng, envelope)
            overlay = None
            if rng.random() < 0.25:
                overlay = {rng.choice(["taskRoleArn", "executionRoleArn"]): copy.deepcopy(rng.choice(FACT_OVERLAYS))}
            yield f"{name}~{index}", envelope, overlay


def input_documents(gate: Any, per_seed: int = VARIANTS_PER_SEED) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, the engine's input) for every variant the gate accepts; bad ones are skipped (the
    webhook answers them 400 before any policy runs)."""
    from ecs_admission.errors import InputError
    from ecs_admission.inputs import normalise

    for name, envelope, overlay in variants(per_seed=per_seed):
        try:
            request = normalise(copy.deepcopy(envelope))
            document = gate.input_document(request, NOW)
        except InputError:
            continue
        if overlay:
            for field, extra in overlay.items():
                if field in document["task_roles"]:
                    document["task_roles"][field] = {**document["task_roles"][field], **extra}
        yield name, json.loads(json.dumps(document))


FROZEN = Path(__file__).with_name("rego_decisions.json")
BUCKETS = ("violations", "warnings", "exempted")


def digest(document: Any) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def summary(document: dict[str, Any], decision: Any) -> dict[str, Any]:
    """What is kept of a decision: a digest of the input it was made on (so a variant whose input
    changed for other reasons, a new example or a new role fact, is told apart from a decision
    that changed), a digest of the whole decision document (every field of every finding), and
    `bucket rule path` per finding so a difference can be read."""
    kept: dict[str, Any] = {"input": digest(document)[:16]}
    if isinstance(decision, str):  # the evaluation failed: the gate answers that fail-closed
        return {**kept, "error": decision}
    findings = sorted(f"{bucket} {f['rule']} {f['path']}" for bucket in BUCKETS for f in decision.get(bucket, []))
    return {**kept, "sha256": digest(decision), "findings": findings}


def decisions(policy_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """{variant: summary(decision)} with the policies in `policy_dir` (the shipped ones by default)."""
    from ecs_admission.config import Settings
    from ecs_admission.engines import serving_engine
    from ecs_admission.errors import EngineError
    from ecs_admission.gate import build_gate

    gate = build_gate(Settings(auth="none", iam_lookup="off", policy_dir=policy_dir))
    engine = serving_engine(gate.engine)
    found: dict[str, dict[str, Any]] = {}
    for name, document in input_documents(gate):
        try:
            decision: Any = engine.query(document)
        except EngineError:
            decision = "evaluation error"
        found[name] = summary(document, decision)
    return found


if __name__ == "__main__":
    # python -m tests.policy.rego_variants [POLICY_DIR]: freeze the decisions of POLICY_DIR (the
    # shipped policies by default) as the expectation test_rego_differential.py holds the policies to.
    import sys

    frozen = decisions(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    lines = [f"{json.dumps(name)}: {json.dumps(kept)}" for name, kept in sorted(frozen.items())]
    FROZEN.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"{len(frozen)} decisions frozen in {FROZEN}")
