"""PascalCase properties to the API's camelCase, typed as the API types them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ecs_admission.errors import InputError
from ecs_admission.inputs.cloudformation.intrinsics import NO_VALUE, Budget, Unresolved, _display, _scalar_text
from ecs_admission.inputs.schema import BOOL, INT, KEY_VALUE, NUM_OR_STR, OBJ, STR, STR_LIST, TASK_DEFINITION, escape

IRREGULAR_NAMES = {
    "EFSVolumeConfiguration": "efsVolumeConfiguration",
    "FSxWindowsFileServerVolumeConfiguration": "fsxWindowsFileServerVolumeConfiguration",
    "FilesystemId": "fileSystemId",
    "IAM": "iam",
    "ProxyConfigurationProperties": "properties",
}
PASCAL_NAMES = {camel: pascal for pascal, camel in IRREGULAR_NAMES.items() if pascal != "FilesystemId"}
# Values under these keys are maps whose keys are data (log options, Docker labels), not property names.
MAP_PROPERTIES = {"Options", "DockerLabels", "DriverOpts", "Labels"}

# Fields schema.py leaves as plain objects, typed here so CloudFormation's strings convert like the API.
_EXTRA_TYPES: Any = (
    "object",
    {
        "containerDefinitions": (
            "list",
            (
                "object",
                {
                    "portMappings": (
                        "list",
                        ("object", {"containerPort": INT, "hostPort": INT, "protocol": STR, "name": STR}),
                    ),
                    "healthCheck": (
                        "object",
                        {"command": STR_LIST, "interval": INT, "timeout": INT, "retries": INT, "startPeriod": INT},
                    ),
                    "startTimeout": INT,
                    "stopTimeout": INT,
                    "ulimits": ("list", ("object", {"name": STR, "softLimit": INT, "hardLimit": INT})),
                    "systemControls": ("list", ("object", {"namespace": STR, "value": STR})),
                    "extraHosts": ("list", ("object", {"hostname": STR, "ipAddress": STR})),
                    "resourceRequirements": ("list", ("object", {"type": STR, "value": STR})),
                    "dependsOn": ("list", ("object", {"containerName": STR, "condition": STR})),
                    "restartPolicy": (
                        "object",
                        {"enabled": BOOL, "ignoredExitCodes": ("list", INT), "restartAttemptPeriod": INT},
                    ),
                    "firelensConfiguration": ("object", {"type": STR, "options": ("map", STR)}),
                    "linuxParameters": (
                        "object",
                        {
                            "tmpfs": (
                                "list",
                                ("object", {"containerPath": STR, "size": INT, "mountOptions": STR_LIST}),
                            ),
                            "devices": (
                                "list",
                                ("object", {"hostPath": STR, "containerPath": STR, "permissions": STR_LIST}),
                            ),
                        },
                    ),
                },
            ),
        ),
        "volumes": (
            "list",
            (
                "object",
                {
                    "dockerVolumeConfiguration": (
                        "object",
                        {
                            "autoprovision": BOOL,
                            "driver": STR,
                            "scope": STR,
                            "driverOpts": ("map", STR),
                            "labels": ("map", STR),
                        },
                    ),
                    "efsVolumeConfiguration": (
                        "object",
                        {"authorizationConfig": ("object", {"accessPointId": STR, "iam": STR})},
                    ),
                },
            ),
        ),
        "ephemeralStorage": ("object", {"sizeInGiB": INT}),
        "proxyConfiguration": ("object", {"containerName": STR, "type": STR, "properties": ("list", KEY_VALUE)}),
        "placementConstraints": ("list", ("object", {"type": STR, "expression": STR})),
    },
)


def _merge(base: Any, extra: Any) -> Any:
    if base is None or base == OBJ:
        return extra
    if isinstance(base, tuple) and isinstance(extra, tuple) and base[0] == extra[0]:
        if base[0] == "object":
            fields = dict(base[1])
            for name, spec in extra[1].items():
                fields[name] = _merge(fields.get(name), spec)
            return ("object", fields)
        return (base[0], _merge(base[1], extra[1]))
    return base


TYPES = _merge(TASK_DEFINITION, _EXTRA_TYPES)
_DROP = object()


def camel(name: str) -> str:
    return IRREGULAR_NAMES.get(name) or name[:1].lower() + name[1:]


def pascal(token: str) -> str:
    return token if token.isdigit() else PASCAL_NAMES.get(token) or token[:1].upper() + token[1:]


@dataclass
class _Conversion:
    # Containers the resolver built, by id, with their template pointer (Resolver.origins).
    origins: dict[int, tuple[Any, str]] = field(default_factory=dict)
    budget: Budget = field(default_factory=lambda: Budget())
    pointers: dict[str, str] = field(default_factory=dict)
    map_pointers: set[str] = field(default_factory=set)
    unresolved: list[dict[str, str]] = field(default_factory=list)


def _kind(spec: Any) -> str | None:
    return spec if isinstance(spec, str) else (spec[0] if isinstance(spec, tuple) else None)


def _coerce(value: Any, kind: str | None) -> Any:
    """CloudFormation passes strings; the ECS API types some fields. Convert what is unambiguous."""
    if kind == BOOL and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind == INT and isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if kind == STR and isinstance(value, bool | int | float):
        return _scalar_text(value)
    return value


def _convert(value: Any, spec: Any, template_pointer: str, pointer: str, state: _Conversion, data_keys: bool) -> Any:
    origin = state.origins.get(id(value)) if isinstance(value, dict | list) else None
    if origin is not None and origin[0] is value:
        template_pointer = origin[1]  # written elsewhere: an Fn::If branch, a parameter default, a mapping
    state.pointers[pointer] = template_pointer
    if isinstance(value, dict | list):
        state.budget.step(template_pointer)  # converting costs more than resolving: it counts too
    if value is NO_VALUE:
        return _DROP
    if isinstance(value, Unresolved):
        kind = _kind(spec)
        state.unresolved.append(
            {
                "path": pointer,
                "template_path": template_pointer,
                "expression": _display(value.expression),
                "reason": _display(value.reason, 300),
            }
        )
        # A string field keeps a readable marker (so `executionRoleArn` is still "set"); any other
        # field is left out, since no value of its type would be honest. The marker has the
        # ${...} form the policies already treat as an unrendered placeholder, so no rule judges
        # it as if it were the deployed value (ECS-TPL-001 reports it instead).
        if kind in (STR, NUM_OR_STR, None):
            return "${" + value.expression.replace("{", "(").replace("}", ")") + "}"
        return _DROP
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        map_spec = spec[1] if _kind(spec) == "map" else None
        if map_spec is not None or data_keys:
            state.map_pointers.add(pointer)
        for key, item in value.items():
            name = key if (map_spec is not None or data_keys) else camel(key)
            if name in result:
                raise InputError(f"{key!r} repeats another property after case normalisation", field=template_pointer)
            if map_spec is not None:
                child_spec = map_spec
            elif _kind(spec) == "object" and isinstance(spec, tuple):
                child_spec = spec[1].get(name)
            else:
                child_spec = None
            converted = _convert(
                item,
                child_spec,
                f"{template_pointer}/{escape(key)}",
                f"{pointer}/{escape(name)}",
                state,
                data_keys=key in MAP_PROPERTIES and map_spec is None and not data_keys,
            )
            if converted is not _DROP:
                result[name] = converted
        return result
    if isinstance(value, list):
        item_spec = spec[1] if _kind(spec) == "list" else None
        items = []
        for index, item in enumerate(value):
            converted = _convert(
                item, item_spec, f"{template_pointer}/{index}", f"{pointer}/{len(items)}", state, False
            )
            if converted is not _DROP:
                items.append(converted)
        return items
    return _coerce(value, _kind(spec))


def to_template_pointer(pointer: str, pointers: dict[str, str], map_pointers: set[str] | None = None) -> str:
    """Translate a pointer into the normalised task definition to the template's own pointer."""
    if pointer in pointers:
        return pointers[pointer]
    tokens = pointer.split("/")[1:] if pointer.startswith("/") else []
    for cut in range(len(tokens), -1, -1):
        prefix = "".join("/" + token for token in tokens[:cut])
        if prefix in pointers:
            translated = pointers[prefix]
            for token in tokens[cut:]:
                verbatim = map_pointers is not None and prefix in map_pointers
                translated += "/" + (token if verbatim else pascal(token))
                prefix += "/" + token
            return translated
    return pointers.get("", "") + pointer
