"""aws_ecs_task_definition's attributes (snake_case, blocks as lists) to the task definition's fields.

The AWS provider's schema mirrors RegisterTaskDefinition: `network_mode` is `networkMode`, a
`volume` block is one of `volumes`, a single-item block (`runtime_platform`) is an object, and
`container_definitions` is the containers as a JSON string, parsed with the same limits as a
request body. What the plan does not know until apply is listed (`unresolved`) rather than
guessed; the pointers let a finding about `/volumes/0/efsVolumeConfiguration/transitEncryption`
be reported as `volume[0].efs_volume_configuration[0].transit_encryption`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ecs_admission.errors import InputError
from ecs_admission.parsing.bounded_json import parse_json

# (API name, how to convert): "value" as is, "one" a single-item block to an object, "many" a block
# per list item, "tags" a map to [{key, value}], "properties" a map to [{name, value}].
Spec = tuple[str, str, dict[str, Any] | None]

AUTHORIZATION = {
    "access_point_id": ("accessPointId", "value", None),
    "iam": ("iam", "value", None),
}
FSX_AUTHORIZATION = {
    "credentials_parameter": ("credentialsParameter", "value", None),
    "domain": ("domain", "value", None),
}
VOLUME: dict[str, Spec] = {
    "name": ("name", "value", None),
    "host_path": ("host", "host", None),
    "configure_at_launch": ("configuredAtLaunch", "value", None),
    "docker_volume_configuration": (
        "dockerVolumeConfiguration",
        "one",
        {
            "scope": ("scope", "value", None),
            "autoprovision": ("autoprovision", "value", None),
            "driver": ("driver", "value", None),
            "driver_opts": ("driverOpts", "value", None),
            "labels": ("labels", "value", None),
        },
    ),
    "efs_volume_configuration": (
        "efsVolumeConfiguration",
        "one",
        {
            "file_system_id": ("fileSystemId", "value", None),
            "root_directory": ("rootDirectory", "value", None),
            "transit_encryption": ("transitEncryption", "value", None),
            "transit_encryption_port": ("transitEncryptionPort", "value", None),
            "authorization_config": ("authorizationConfig", "one", AUTHORIZATION),
        },
    ),
    "fsx_windows_file_server_volume_configuration": (
        "fsxWindowsFileServerVolumeConfiguration",
        "one",
        {
            "file_system_id": ("fileSystemId", "value", None),
            "root_directory": ("rootDirectory", "value", None),
            "authorization_config": ("authorizationConfig", "one", FSX_AUTHORIZATION),
        },
    ),
}
TASK_DEFINITION: dict[str, Spec] = {
    "family": ("family", "value", None),
    "task_role_arn": ("taskRoleArn", "value", None),
    "execution_role_arn": ("executionRoleArn", "value", None),
    "network_mode": ("networkMode", "value", None),
    "ipc_mode": ("ipcMode", "value", None),
    "pid_mode": ("pidMode", "value", None),
    "cpu": ("cpu", "value", None),
    "memory": ("memory", "value", None),
    "requires_compatibilities": ("requiresCompatibilities", "value", None),
    "enable_fault_injection": ("enableFaultInjection", "value", None),
    "volume": ("volumes", "many", VOLUME),
    "placement_constraints": (
        "placementConstraints",
        "many",
        {"type": ("type", "value", None), "expression": ("expression", "value", None)},
    ),
    "proxy_configuration": (
        "proxyConfiguration",
        "one",
        {
            "container_name": ("containerName", "value", None),
            "type": ("type", "value", None),
            "properties": ("properties", "properties", None),
        },
    ),
    "runtime_platform": (
        "runtimePlatform",
        "one",
        {
            "operating_system_family": ("operatingSystemFamily", "value", None),
            "cpu_architecture": ("cpuArchitecture", "value", None),
        },
    ),
    "ephemeral_storage": ("ephemeralStorage", "one", {"size_in_gib": ("sizeInGiB", "value", None)}),
    "inference_accelerator": (
        "inferenceAccelerators",
        "many",
        {"device_name": ("deviceName", "value", None), "device_type": ("deviceType", "value", None)},
    ),
    "tags": ("tags", "tags", None),
}
# Provider bookkeeping with no task definition field: read-only results, and what Terraform does on destroy.
IGNORED = frozenset(
    {"arn", "arn_without_revision", "id", "revision", "tags_all", "skip_destroy", "track_latest", "region"}
)
CONTAINERS = "container_definitions"


@dataclass
class Converted:
    task_definition: dict[str, Any]
    # pointer into the task definition -> Terraform attribute path
    pointers: dict[str, str] = field(default_factory=dict)
    # values unknown until apply: {"path", "attribute", "expression", "reason"}
    unresolved: list[dict[str, str]] = field(default_factory=list)
    unknown_roles: set[str] = field(default_factory=set)
    # Whether the configuration sets a top-level attribute: an unset Computed one (network_mode) is
    # unknown in the plan only because AWS picks its default, which is what an absent field means.
    configured: Callable[[str], bool] = lambda attribute: True


def _unknown(marks: Any) -> bool:
    return marks is True


def _child(marks: Any, key: str | int) -> Any:
    if isinstance(marks, dict) and isinstance(key, str):
        return marks.get(key)
    if isinstance(marks, list) and isinstance(key, int) and key < len(marks):
        return marks[key]
    return None


def _convert(value: Any, marks: Any, spec: dict[str, Spec], pointer: str, path: str, out: Converted) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for attribute, (name, kind, inner) in spec.items():
        item_marks = _child(marks, attribute)
        item_pointer, item_path = f"{pointer}/{name}", f"{path}.{attribute}" if path else attribute
        if _unknown(item_marks):
            if not path and not out.configured(attribute):
                continue
            out.pointers[item_pointer] = item_path
            out.unresolved.append({"path": item_pointer, "attribute": item_path, "reason": "known only after apply"})
            continue
        raw = value.get(attribute) if isinstance(value, dict) else None
        if raw is None or raw == [] or raw == {}:
            continue
        out.pointers[item_pointer] = item_path
        if kind == "value":
            result[name] = raw
        elif kind == "host":
            result[name] = {"sourcePath": raw}
            out.pointers[f"{item_pointer}/sourcePath"] = item_path
        elif kind == "tags" and isinstance(raw, dict):
            result[name] = [{"key": k, "value": v} for k, v in raw.items()]
        elif kind == "properties" and isinstance(raw, dict):
            result[name] = [{"name": k, "value": v} for k, v in sorted(raw.items())]
        elif kind == "one" and isinstance(raw, list) and inner is not None:
            # A block Terraform allows once: a one-item list in the plan, an object in the API.
            out.pointers[item_pointer] = f"{item_path}[0]"
            result[name] = _convert(raw[0], _child(item_marks, 0), inner, item_pointer, f"{item_path}[0]", out)
        elif kind == "many" and isinstance(raw, list) and inner is not None:
            result[name] = [
                _convert(
                    entry, _child(item_marks, index), inner, f"{item_pointer}/{index}", f"{item_path}[{index}]", out
                )
                for index, entry in enumerate(raw)
            ]
        else:
            raise InputError(f"{item_path} has an unexpected shape for aws_ecs_task_definition", field=item_pointer)
    return result


def to_task_definition(
    after: dict[str, Any], after_unknown: dict[str, Any], where: str, configured: Callable[[str], bool]
) -> Converted:
    """The task definition an aws_ecs_task_definition instance will register. InputError when it cannot be read.

    `where` is the plan pointer of the instance's `after`, so an error names the field in the plan.
    """
    out = Converted({}, configured=configured)
    if _unknown(after_unknown.get(CONTAINERS)):
        raise InputError(
            "container_definitions is known only after apply, so there is nothing to judge before it: "
            "make the values it is built from known at plan time (docs/terraform.md)",
            field=f"{where}/{CONTAINERS}",
            error="unknown_until_apply",
        )
    raw = after.get(CONTAINERS)
    if not isinstance(raw, str):
        raise InputError("must be the containers as a JSON string", field=f"{where}/{CONTAINERS}")
    containers = parse_json(raw, where=f"{where}/{CONTAINERS}")
    for role in ("task_role_arn", "execution_role_arn"):
        if _unknown(after_unknown.get(role)):
            out.unknown_roles.add(role)
    task_definition = _convert(after, after_unknown, TASK_DEFINITION, "", "", out)
    task_definition["containerDefinitions"] = containers
    out.pointers["/containerDefinitions"] = CONTAINERS
    # Unknown role ARNs are followed to the plan's roles (roles.py), not reported as unchecked fields.
    out.unresolved = [u for u in out.unresolved if u["attribute"] not in out.unknown_roles]
    out.task_definition = task_definition
    return out


def attribute_path(pointer: str, pointers: dict[str, str]) -> str:
    """`/containerDefinitions/0/privileged` as `container_definitions[0].privileged`: longest known prefix, then
    the rest of the pointer (the keys inside container_definitions are the JSON's own)."""
    tokens = pointer.split("/")[1:] if pointer.startswith("/") else []
    for cut in range(len(tokens), -1, -1):
        prefix = "".join("/" + token for token in tokens[:cut])
        if prefix in pointers:
            path = pointers[prefix]
            for token in tokens[cut:]:
                token = token.replace("~1", "/").replace("~0", "~")
                path += f"[{token}]" if token.isdigit() else f".{token}"
            return path
    return ""
