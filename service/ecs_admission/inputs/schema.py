"""Type checks for the task-definition fields the gate reads, mirroring the ECS API model.

A field of the wrong type is a 400 naming it, because a rule written for a boolean does not fire
on the string "true": letting it through would be a silent allow. Unknown fields pass (AWS adds
fields), but a key that differs from a known one only by case is refused: AWS ignores nothing,
it rejects it, and a gate that read past it would judge a different document.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ecs_admission.errors import InputError

STR = "string"
INT = "integer"
BOOL = "boolean"
NUM_OR_STR = "number or string"
OBJ = "object"

# Field -> expected kind; a tuple ("list", item_spec) or ("object", {...fields}) nests.
Spec = Any

KEY_VALUE = ("object", {"name": STR, "value": STR})
SECRET = ("object", {"name": STR, "valueFrom": STR})
STR_LIST = ("list", STR)

LOG_CONFIGURATION = (
    "object",
    {"logDriver": STR, "options": ("map", STR), "secretOptions": ("list", SECRET)},
)

CONTAINER = (
    "object",
    {
        "name": STR,
        "image": STR,
        "cpu": INT,
        "memory": INT,
        "memoryReservation": INT,
        "essential": BOOL,
        "privileged": BOOL,
        "readonlyRootFilesystem": BOOL,
        "disableNetworking": BOOL,
        "interactive": BOOL,
        "pseudoTerminal": BOOL,
        "user": STR,
        "hostname": STR,
        "workingDirectory": STR,
        "command": STR_LIST,
        "entryPoint": STR_LIST,
        "links": STR_LIST,
        "dnsServers": STR_LIST,
        "dnsSearchDomains": STR_LIST,
        "dockerSecurityOptions": STR_LIST,
        "environment": ("list", KEY_VALUE),
        "secrets": ("list", SECRET),
        "environmentFiles": ("list", ("object", {"value": STR, "type": STR})),
        "repositoryCredentials": ("object", {"credentialsParameter": STR}),
        "logConfiguration": LOG_CONFIGURATION,
        "mountPoints": ("list", ("object", {"sourceVolume": STR, "containerPath": STR, "readOnly": BOOL})),
        "volumesFrom": ("list", ("object", {"sourceContainer": STR, "readOnly": BOOL})),
        "portMappings": ("list", OBJ),
        "healthCheck": ("object", {"command": STR_LIST}),
        "dockerLabels": ("map", STR),
        "dependsOn": ("list", OBJ),
        "ulimits": ("list", OBJ),
        "systemControls": ("list", OBJ),
        "extraHosts": ("list", OBJ),
        "resourceRequirements": ("list", OBJ),
        "firelensConfiguration": OBJ,
        "linuxParameters": (
            "object",
            {
                "capabilities": ("object", {"add": STR_LIST, "drop": STR_LIST}),
                "initProcessEnabled": BOOL,
                "devices": ("list", OBJ),
                "tmpfs": ("list", OBJ),
                "sharedMemorySize": INT,
                "maxSwap": INT,
                "swappiness": INT,
            },
        ),
    },
)

VOLUME = (
    "object",
    {
        "name": STR,
        "host": ("object", {"sourcePath": STR}),
        "efsVolumeConfiguration": (
            "object",
            {"fileSystemId": STR, "rootDirectory": STR, "transitEncryption": STR, "transitEncryptionPort": INT},
        ),
        "dockerVolumeConfiguration": OBJ,
        "fsxWindowsFileServerVolumeConfiguration": OBJ,
        "configuredAtLaunch": BOOL,
    },
)

TASK_DEFINITION = (
    "object",
    {
        "family": STR,
        "taskRoleArn": STR,
        "executionRoleArn": STR,
        "networkMode": STR,
        "pidMode": STR,
        "ipcMode": STR,
        "cpu": NUM_OR_STR,
        "memory": NUM_OR_STR,
        "requiresCompatibilities": STR_LIST,
        "containerDefinitions": ("list", CONTAINER),
        "volumes": ("list", VOLUME),
        "placementConstraints": ("list", OBJ),
        "tags": ("list", ("object", {"key": STR, "value": STR})),
        "runtimePlatform": ("object", {"cpuArchitecture": STR, "operatingSystemFamily": STR}),
        "proxyConfiguration": OBJ,
        "ephemeralStorage": OBJ,
        "inferenceAccelerators": ("list", OBJ),
        "enableFaultInjection": BOOL,
    },
)


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return STR
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return OBJ
    return "null" if value is None else type(value).__name__


def _matches(value: Any, kind: str) -> bool:
    if kind == STR:
        return isinstance(value, str)
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == NUM_OR_STR:
        return isinstance(value, str | int | float) and not isinstance(value, bool)
    if kind == OBJ:
        return isinstance(value, dict)
    raise AssertionError(f"unknown kind {kind}")


def _check_case(obj: dict[str, Any], known: dict[str, Spec], where: Where) -> None:
    lowered = {name.lower(): name for name in known}
    for key in obj:
        if key not in known and key.lower() in lowered:
            expected = lowered[key.lower()]
            raise InputError(
                f"unknown field {key!r}: field names are case-sensitive, did you mean {expected!r}?",
                field=_pointer((where, key)),
            )


# Fields whose text is free-form (commands, environment values, labels, log options): control
# characters are legitimate there. Everywhere else ECS expects names, ARNs, paths and modes.
FREE_TEXT_RE = re.compile(r"/(environment/\d+/value|command/\d+|entryPoint/\d+|dockerLabels/[^/]+|options/[^/]+)$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


# A JSON pointer as the tokens that lead to it, (parent, token) pairs from the root's (None, base),
# written out only when a message names it: a valid task definition (nearly all) never needs one.
Where = tuple[Any, Any]


def _pointer(where: Where) -> str:
    tokens = []
    while where[0] is not None:
        where, token = where
        tokens.append(escape(token))
    return where[1] + "".join(f"/{token}" for token in reversed(tokens))


def check(value: Any, spec: Spec, pointer: str) -> None:
    # A valid task definition (nearly every request) passes the fast walk; anything it does not
    # accept at once is walked again by _check, which finds the first problem in the model's order
    # and names it (or, for a control character in a free-text field, lets it pass).
    if not _valid(value, _compiled(spec)):
        _check(value, spec, (None, pointer))


# The spec in the form the fast walk reads: ("leaf", exact types), ("list" | "map", inner), or
# ("object", {field: inner}, the fields' lower-case names). Exact types only: a bool is not an
# integer here, and a subclass (or anything else the fast walk does not know) goes to _check.
_LEAF_TYPES: dict[str, frozenset[type]] = {
    STR: frozenset({str}),
    INT: frozenset({int}),
    BOOL: frozenset({bool}),
    NUM_OR_STR: frozenset({str, int, float}),
    OBJ: frozenset({dict}),
}
_COMPILED: dict[int, tuple[Spec, tuple[Any, ...]]] = {}


def _compiled(spec: Spec) -> tuple[Any, ...]:
    entry = _COMPILED.get(id(spec))
    if entry is None or entry[0] is not spec:
        entry = (spec, _compile(spec))  # the spec is kept, so its id is not reused while cached
        _COMPILED[id(spec)] = entry
    return entry[1]


def _compile(spec: Spec) -> tuple[Any, ...]:
    if isinstance(spec, str):
        return ("leaf", _LEAF_TYPES[spec])
    shape, inner = spec
    if shape in ("list", "map"):
        return (shape, _compile(inner))
    if shape == "object":
        return ("object", {key: _compile(item) for key, item in inner.items()}, frozenset(k.lower() for k in inner))
    raise AssertionError(f"unknown shape {shape}")


def _valid(value: Any, node: tuple[Any, ...]) -> bool:
    """True if _check would accept `value` without a word; False if it might not (then it decides).

    Leaves are checked in the loops, not by a call each: most of a task definition is leaves.
    """
    shape = node[0]
    if shape == "object":
        if type(value) is not dict:
            return False
        fields, lowered = node[1], node[2]
        items: Any = value.items()
    elif shape == "list" or shape == "map":
        if type(value) is not (list if shape == "list" else dict):
            return False
        inner = node[1]
        fields, lowered = None, None
        items = value if shape == "list" else value.values()
    else:
        kind = type(value)
        return kind in node[1] and not (kind is str and CONTROL_RE.search(value))
    for entry in items:
        if fields is None:
            item, child = entry, inner
        else:
            key, item = entry
            child = fields.get(key)
            if child is None:
                # Not a field of the model: fine, unless it differs from one only by case.
                if type(key) is not str or key.lower() in lowered:
                    return False
                continue
        if child[0] == "leaf":
            kind = type(item)
            if kind not in child[1] or (kind is str and CONTROL_RE.search(item)):
                return False
        elif not _valid(item, child):
            return False
    return True


def _check(value: Any, spec: Spec, where: Where) -> None:
    if isinstance(spec, str):
        if not _matches(value, spec):
            raise InputError(f"expected {_article(spec)}, got {_kind_of(value)}", field=_pointer(where) or "/")
        # A control character in a name, ARN, user or path is never meant, and the two engines
        # compare such strings differently: refuse it.
        if isinstance(value, str) and CONTROL_RE.search(value):
            pointer = _pointer(where)
            if not FREE_TEXT_RE.search(pointer):
                raise InputError(
                    "contains a control character (newline, tab, NUL...), which ECS does not expect here",
                    field=pointer,
                )
        return
    shape, inner = spec
    if shape == "list":
        if not isinstance(value, list):
            raise InputError(f"expected a list, got {_kind_of(value)}", field=_pointer(where))
        for index, item in enumerate(value):
            _check(item, inner, (where, index))
    elif shape == "map":
        if not isinstance(value, dict):
            raise InputError(f"expected an object, got {_kind_of(value)}", field=_pointer(where))
        for key, item in value.items():
            _check(item, inner, (where, key))
    elif shape == "object":
        if not isinstance(value, dict):
            raise InputError(f"expected an object, got {_kind_of(value)}", field=_pointer(where) or "/")
        _check_case(value, inner, where)
        for key, item_spec in inner.items():
            if key in value:
                _check(value[key], item_spec, (where, key))
    else:
        raise AssertionError(f"unknown shape {shape}")


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def escape(token: str) -> str:
    """RFC 6901 escaping of one reference token."""
    return str(token).replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class Quota:
    """One of ECS's own limits on RegisterTaskDefinition, mirrored so a request never costs more than ECS allows.

    docs/hardening.md lists them with their sources; past one the answer is a 400 naming it.
    """

    name: str
    limit: int
    source: str


ECS_QUOTAS = "Amazon ECS service quotas (docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html)"
ECS_MODEL = "ECS API model (botocore data/ecs/2014-11-13/service-2.json)"
MAX_TASK_DEFINITION_BYTES = Quota("task definition size in bytes (compact JSON)", 65_536, ECS_QUOTAS)
MAX_CONTAINERS = Quota("containers per task definition", 10, ECS_QUOTAS)
MAX_TAGS = Quota("tags per task definition", 50, ECS_MODEL + ": Tags max 50")
MAX_ENVIRONMENT_FILES = Quota("environment files per container", 10, f"{ECS_MODEL}: Container.environmentFiles")
MAX_NAME_CHARS = Quota("characters in a family or container name", 255, f"{ECS_MODEL}: family, Container.name")
# For image@digest the 255 apply before the @; a sha256 digest adds 71 ("@sha256:" and 64 hex digits).
MAX_IMAGE_CHARS = Quota("characters in an image reference", 255 + 71, ECS_MODEL + ": ContainerDefinition.image")
QUOTAS = (MAX_TASK_DEFINITION_BYTES, MAX_CONTAINERS, MAX_TAGS, MAX_ENVIRONMENT_FILES, MAX_NAME_CHARS, MAX_IMAGE_CHARS)


def _over(quota: Quota, count: int, field: str) -> None:
    if count > quota.limit:
        raise InputError(
            f"{count} is more than ECS allows: at most {quota.limit} {quota.name} ({quota.source})",
            field=field,
            error="limit_exceeded",
        )


def _required_string(container: dict[str, Any], key: str, pointer: str) -> None:
    # ECS refuses these with ClientException "Container.<key> should not be null or empty".
    if not container.get(key):
        raise InputError(f"missing: ECS requires every container to have {_article(key)}", field=f"{pointer}/{key}")


def canonical_json(task_definition: Any) -> str | None:
    """The canonical JSON text of a task definition (keys sorted, no whitespace, non-ASCII as is),
    or None if it has none: keys that do not sort (a YAML number beside a string) or a value JSON
    cannot write. The decision record's digest (report/records.py input_digest) is of this text."""
    try:
        return json.dumps(task_definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return None


def _compact_size(task_definition: dict[str, Any], canonical: str | None) -> int:
    """The task definition's size as compact UTF-8 JSON, as ECS counts it toward its 64 KiB.

    Sorting the keys moves members, not characters, so the canonical text has the compact text's
    size. A lone surrogate (which the "replace" handler counts as one byte) sends it to the
    compact text itself.
    """
    if canonical is not None:
        try:
            return len(canonical.encode("utf-8"))
        except UnicodeEncodeError:
            pass
    return len(json.dumps(task_definition, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "replace"))


def check_quotas(task_definition: dict[str, Any]) -> str | None:
    """ECS's own limits, cheapest first, so a request past them costs no policy evaluation.

    Returns the canonical JSON text (canonical_json) it measured the size by, for the placeholder
    scan and the decision record's digest, so the document is written out once per request.
    """
    containers = task_definition["containerDefinitions"]
    _over(MAX_CONTAINERS, len(containers), "/containerDefinitions")
    _over(MAX_TAGS, len(task_definition.get("tags") or ()), "/tags")
    if isinstance(task_definition.get("family"), str):
        _over(MAX_NAME_CHARS, len(task_definition["family"]), "/family")
    for index, container in enumerate(containers):
        pointer = f"/containerDefinitions/{index}"
        for key in ("name", "image"):
            _required_string(container, key, pointer)
        _over(MAX_NAME_CHARS, len(container["name"]), f"{pointer}/name")
        _over(MAX_IMAGE_CHARS, len(container["image"]), f"{pointer}/image")
        _over(MAX_ENVIRONMENT_FILES, len(container.get("environmentFiles") or ()), f"{pointer}/environmentFiles")
    canonical = canonical_json(task_definition)
    _over(MAX_TASK_DEFINITION_BYTES, _compact_size(task_definition, canonical), "/")
    return canonical


def validate_task_definition(task_definition: Any) -> str | None:
    """Raise InputError naming the first field that is not what ECS accepts.

    Returns the task definition's canonical JSON text (None if it has none): see check_quotas.
    """
    if not isinstance(task_definition, dict):
        raise InputError(f"task definition must be an object, got {_kind_of(task_definition)}", field="/")
    if "containerDefinitions" not in task_definition:
        raise InputError("missing: not an ECS task definition (no containerDefinitions)", field="/containerDefinitions")
    containers = task_definition["containerDefinitions"]
    # Before the type walk: a list of 100,000 containers is refused for its length, not walked.
    if isinstance(containers, list):
        _over(MAX_CONTAINERS, len(containers), "/containerDefinitions")
    check(task_definition, TASK_DEFINITION, "")
    if not containers:
        raise InputError("must hold at least one container definition", field="/containerDefinitions")
    return check_quotas(task_definition)


def require_family(task_definition: dict[str, Any]) -> None:
    """RegisterTaskDefinition requires a family (botocore's model: required family, containerDefinitions).

    Not for CloudFormation, which names the family itself when the template does not.
    """
    if not task_definition.get("family"):
        raise InputError("missing: ECS requires a family to register a task definition", field="/family")
