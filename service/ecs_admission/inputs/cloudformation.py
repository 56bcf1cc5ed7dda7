"""CloudFormation templates as an input shape: every AWS::ECS::TaskDefinition, judged on its own.

A template (JSON, or YAML with the short-form intrinsics `!Ref`, `!Sub`, ...) becomes one
AdmissionRequest per task definition:

- intrinsics are evaluated where the template alone decides them (parameter defaults, mappings,
  conditions, `!Join`/`!Sub`/`!Select`/`!Split`, pseudo parameters from the deploy context);
  anything else (a parameter without a default, `!ImportValue`, the generated name of a resource)
  is *unresolved*: listed in `input.template.unresolved` for the policies, never guessed;
- PascalCase properties become the API's camelCase (with the irregular ones mapped), and values
  CloudFormation would convert (`"true"`, `"256"`) take the type the ECS API gives the field;
- `TaskRoleArn`/`ExecutionRoleArn` that `!Ref`/`!GetAtt` an AWS::IAM::Role of the same template
  carry that role's trust policy and policies as facts (`source: template`);
- every normalised JSON pointer maps back to the template, so reasons point at
  `/Resources/<LogicalId>/Properties/ContainerDefinitions/0/Privileged`.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import InputError
from ..facts.documents import normalise_policy_document
from ..facts.evaluator import EXECUTION_BASELINE
from ..facts.needs import partition_of_region
from ..facts.text import safe_text
from .parse import _construct_mapping, _SafeLoader
from .schema import (
    BOOL,
    INT,
    KEY_VALUE,
    NUM_OR_STR,
    OBJ,
    STR,
    STR_LIST,
    TASK_DEFINITION,
    escape,
    validate_task_definition,
)
from .shapes import AdmissionRequest, drop_nulls, find_placeholders

TASK_DEFINITION_TYPE = "AWS::ECS::TaskDefinition"
ROLE_TYPE = "AWS::IAM::Role"
ROLE_FIELDS = {"TaskRoleArn": "taskRoleArn", "ExecutionRoleArn": "executionRoleArn"}

# ---------------------------------------------------------------------------------------------
# YAML: short-form intrinsics become the long form, on the same safe, duplicate-refusing loader.
# ---------------------------------------------------------------------------------------------

SHORT_FORMS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "GetAtt",
            "Sub",
            "Join",
            "If",
            "Select",
            "Split",
            "FindInMap",
            "ImportValue",
            "Base64",
            "Equals",
            "Not",
            "And",
            "Or",
            "GetAZs",
            "Cidr",
            "Transform",
            "Length",
            "ToJsonString",
        )
    },
}


class TemplateLoader(_SafeLoader):
    """SafeLoader that refuses duplicate keys (inputs/parse.py) and reads `!Ref x` as `{"Ref": "x"}`."""


def _short_form(long_name: str) -> Any:
    def construct(loader: TemplateLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if long_name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = _construct_mapping(loader, node, deep=True)
        return {long_name: value}

    return construct


for _tag, _long in SHORT_FORMS.items():
    TemplateLoader.add_constructor(f"!{_tag}", _short_form(_long))


def is_template(document: Any) -> bool:
    """A CloudFormation (or SAM / CDK-synthesised) template rather than a task definition."""
    if not isinstance(document, dict) or "containerDefinitions" in document:
        return False
    if "AWSTemplateFormatVersion" in document:
        return True
    resources = document.get("Resources")
    return isinstance(resources, dict) and any(isinstance(r, dict) and "Type" in r for r in resources.values())


# ---------------------------------------------------------------------------------------------
# Evaluating intrinsics
# ---------------------------------------------------------------------------------------------


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


@dataclass(frozen=True)
class Unresolved:
    """A value the template alone does not decide. `partial` keeps the resolved parts of a string."""

    expression: str
    reason: str
    partial: str | None = None

    def as_string(self) -> str:
        """For policy documents: unresolved parts read as ${...}, which the evaluator treats as conditional."""
        return self.partial if self.partial is not None else "${" + self.expression + "}"


def _display(text: str, limit: int = 160) -> str:
    return safe_text(text, limit)


def _flow(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1 and (("Ref" in value) or next(iter(value)).startswith("Fn::")):
        return render(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return "''" if value == "" else str(value)


def render(value: Any) -> str:
    """An intrinsic as a person writes it in YAML (short form), for reasons."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        name = key[4:] if key.startswith("Fn::") else key
        if key == "Fn::GetAtt" and isinstance(arg, list):
            return _display("!GetAtt " + ".".join(str(a) for a in arg))
        return _display(f"!{name} {arg if isinstance(arg, str) else _flow(arg)}")
    return _display(_flow(value))


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value if isinstance(value, str) else None


def _contains_unresolved(value: Any) -> Unresolved | None:
    if isinstance(value, Unresolved):
        return value
    if isinstance(value, dict):
        return next((u for u in map(_contains_unresolved, value.values()) if u), None)
    if isinstance(value, list):
        return next((u for u in map(_contains_unresolved, value) if u), None)
    return None


# What `Ref` and `Fn::GetAtt` return for resources whose names the template may fix.
REF_NAME_PROPERTY = {
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SSM::Parameter": "Name",
    "AWS::ECS::Cluster": "ClusterName",
}


class Resolver:
    """Evaluates intrinsics against the template's parameters (defaults), mappings, conditions and context."""

    def __init__(self, template: dict[str, Any], context: dict[str, str]):
        self.parameters = template.get("Parameters") if isinstance(template.get("Parameters"), dict) else {}
        self.mappings = template.get("Mappings") if isinstance(template.get("Mappings"), dict) else {}
        self.conditions = template.get("Conditions") if isinstance(template.get("Conditions"), dict) else {}
        self.resources = template.get("Resources") if isinstance(template.get("Resources"), dict) else {}
        self.region = context.get("region")
        self.account = context.get("account")
        self.defaulted: set[str] = set()
        self._condition_values: dict[str, Any] = {}
        self._evaluating: set[str] = set()

    @property
    def partition(self) -> str | None:
        return partition_of_region(self.region) if self.region else None

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic evaluated; NO_VALUE and Unresolved stay in place as markers."""
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref":
                    return self.ref(arg)
                if key.startswith("Fn::"):
                    return self.function(key, arg, value)
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    # -- Ref and GetAtt ------------------------------------------------------------------------

    def ref(self, name: Any) -> Any:
        expression = f"!Ref {name}"
        if not isinstance(name, str):
            return Unresolved(expression, "Ref takes the name of a parameter or resource")
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.parameters:
            return self._parameter(name)
        if name in self.resources:
            resource = self.resources[name] if isinstance(self.resources[name], dict) else {}
            kind = resource.get("Type")
            prop = REF_NAME_PROPERTY.get(kind)
            properties = resource.get("Properties") or {}
            if prop and prop in properties:
                return self.resolve(properties[prop])
            return Unresolved(expression, f"the name of {kind} {name} is generated when the stack is created")
        return Unresolved(expression, f"{name} is not a parameter or resource of this template")

    def _pseudo(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name == "AWS::Region":
            return self.region or Unresolved(
                "!Ref AWS::Region", "the deploy Region is not known (set ECS_ADMISSION_REGION)"
            )
        if name == "AWS::AccountId":
            return self.account or Unresolved(
                "!Ref AWS::AccountId", "the deploy account is not known (set ECS_ADMISSION_ACCOUNT)"
            )
        if name == "AWS::Partition":
            return self.partition or Unresolved("!Ref AWS::Partition", "the deploy Region is not known")
        if name == "AWS::URLSuffix":
            if not self.region:
                return Unresolved("!Ref AWS::URLSuffix", "the deploy Region is not known")
            return "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"
        if name.startswith("AWS::"):
            return Unresolved(f"!Ref {name}", f"{name} is known only when the stack is deployed")
        return None

    def _parameter(self, name: str) -> Any:
        spec = self.parameters[name] if isinstance(self.parameters[name], dict) else {}
        kind = str(spec.get("Type", "String"))
        if kind.startswith("AWS::SSM::Parameter::Value"):
            return Unresolved(f"!Ref {name}", f"parameter {name} is read from SSM Parameter Store at deploy time")
        if "Default" not in spec:
            return Unresolved(f"!Ref {name}", f"parameter {name} has no default: its value is chosen at deploy time")
        self.defaulted.add(name)
        default = spec["Default"]
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            return default if isinstance(default, list) else [part.strip() for part in str(default).split(",")]
        if kind == "Number":
            return default if isinstance(default, int | float) and not isinstance(default, bool) else str(default)
        return _scalar_text(default) if _scalar_text(default) is not None else default

    def get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        expression = render({"Fn::GetAtt": arg})
        if not (isinstance(arg, list) and len(arg) == 2 and all(isinstance(a, str) for a in arg)):
            return Unresolved(expression, "GetAtt takes a resource and an attribute name")
        logical_id, attribute = arg
        resource = self.resources.get(logical_id)
        if not isinstance(resource, dict):
            return Unresolved(expression, f"{logical_id} is not a resource of this template")
        kind = resource.get("Type")
        name = self.ref(logical_id) if kind in REF_NAME_PROPERTY else None
        generated = Unresolved(expression, f"{kind} {logical_id}.{attribute} is known only after the stack creates it")
        if isinstance(name, Unresolved) or name is None:
            return generated
        partition, region, account = self.partition or "aws", self.region, self.account
        if kind == ROLE_TYPE and attribute == "Arn" and account:
            path = self.resolve((resource.get("Properties") or {}).get("Path", "/"))
            if isinstance(path, str):
                return f"arn:{partition}:iam::{account}:role{path}{name}"
        if kind == "AWS::Logs::LogGroup" and attribute == "Arn" and region and account:
            return f"arn:{partition}:logs:{region}:{account}:log-group:{name}:*"
        if kind == "AWS::ECR::Repository" and region and account:
            if attribute == "Arn":
                return f"arn:{partition}:ecr:{region}:{account}:repository/{name}"
            if attribute == "RepositoryUri":
                return f"{account}.dkr.ecr.{region}.amazonaws.com{'.cn' if partition == 'aws-cn' else ''}/{name}"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:{partition}:s3:::{name}"
        return generated

    # -- functions -------------------------------------------------------------------------------

    def function(self, key: str, arg: Any, whole: dict[str, Any]) -> Any:
        expression = render(whole)
        handler = {
            "Fn::GetAtt": lambda: self.get_att(arg),
            "Fn::Sub": lambda: self._sub(arg, expression),
            "Fn::Join": lambda: self._join(arg, expression),
            "Fn::Select": lambda: self._select(arg, expression),
            "Fn::Split": lambda: self._split(arg, expression),
            "Fn::FindInMap": lambda: self._find_in_map(arg, expression),
            "Fn::If": lambda: self._if(arg, expression),
            "Fn::Base64": lambda: self._base64(arg, expression),
        }.get(key)
        if handler is not None:
            return handler()
        if key == "Fn::ImportValue":
            return Unresolved(expression, "the value is exported by another stack")
        if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self.condition_value(whole)
        return Unresolved(expression, f"{key} is not evaluated by the gate")

    def _sub(self, arg: Any, expression: str) -> Any:
        if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
            text, variables = arg
        else:
            text, variables = arg, {}
        if not isinstance(text, str):
            return Unresolved(expression, "Sub takes a string")
        problems: list[Unresolved] = []

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = self.resolve(variables[name])
            elif "." in name and not name.startswith("AWS::"):
                value = self.get_att(name)
            else:
                value = self.ref(name)
            if isinstance(value, Unresolved):
                problems.append(value)
                return "${" + name + "}"
            text_value = _scalar_text(value)
            if text_value is None:
                problems.append(Unresolved(expression, f"${{{name}}} is not a string"))
                return "${" + name + "}"
            return text_value

        result = re.sub(r"\$\{([^}]*)\}", replace, text)
        if problems:
            return Unresolved(expression, problems[0].reason, partial=result)
        return result

    def _join(self, arg: Any, expression: str) -> Any:
        if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
            return Unresolved(expression, "Join takes a delimiter and a list")
        items = self.resolve(arg[1])
        if isinstance(items, Unresolved):
            return Unresolved(expression, items.reason)
        if not isinstance(items, list):
            return Unresolved(expression, "Join needs a list")
        parts, problem = [], None
        for item in items:
            if item is NO_VALUE:
                continue
            if isinstance(item, Unresolved):
                problem = problem or item
                parts.append(item.as_string())
            elif _scalar_text(item) is not None:
                parts.append(_scalar_text(item))
            else:
                return Unresolved(expression, "Join can only join strings")
        joined = arg[0].join(parts)
        return Unresolved(expression, problem.reason, partial=joined) if problem else joined

    def _select(self, arg: Any, expression: str) -> Any:
        if not (isinstance(arg, list) and len(arg) == 2):
            return Unresolved(expression, "Select takes an index and a list")
        index, items = self.resolve(arg[0]), self.resolve(arg[1])
        problem = _contains_unresolved(index) or (items if isinstance(items, Unresolved) else None)
        if problem:
            return Unresolved(expression, problem.reason)
        try:
            return items[int(index)]
        except (TypeError, ValueError, IndexError, KeyError):
            return Unresolved(expression, "Select's index is outside the list")

    def _split(self, arg: Any, expression: str) -> Any:
        if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
            return Unresolved(expression, "Split takes a delimiter and a string")
        text = self.resolve(arg[1])
        if isinstance(text, Unresolved):
            return Unresolved(expression, text.reason)
        if not isinstance(text, str):
            return Unresolved(expression, "Split needs a string")
        return text.split(arg[0])

    def _find_in_map(self, arg: Any, expression: str) -> Any:
        if not (isinstance(arg, list) and len(arg) in (3, 4)):
            return Unresolved(expression, "FindInMap takes a map name and two keys")
        keys = [self.resolve(part) for part in arg[:3]]
        problem = _contains_unresolved(keys)
        if problem:
            return Unresolved(expression, problem.reason)
        try:
            return self.resolve(self.mappings[_scalar_text(keys[0])][_scalar_text(keys[1])][_scalar_text(keys[2])])
        except (KeyError, TypeError):
            if len(arg) == 4 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self.resolve(arg[3]["DefaultValue"])
            return Unresolved(expression, "the mapping has no such entry")

    def _if(self, arg: Any, expression: str) -> Any:
        if not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
            return Unresolved(expression, "If takes a condition name and two values")
        chosen = self.condition(arg[0])
        if isinstance(chosen, Unresolved):
            return Unresolved(expression, chosen.reason)
        return self.resolve(arg[1] if chosen else arg[2])

    def _base64(self, arg: Any, expression: str) -> Any:
        value = self.resolve(arg)
        if isinstance(value, Unresolved):
            return Unresolved(expression, value.reason)
        if not isinstance(value, str):
            return Unresolved(expression, "Base64 takes a string")
        return base64.b64encode(value.encode()).decode()

    # -- conditions --------------------------------------------------------------------------------

    def condition(self, name: str) -> bool | Unresolved:
        if name in self._condition_values:
            return self._condition_values[name]
        if name not in self.conditions:
            return Unresolved(f"!Condition {name}", f"condition {name} is not defined in the template")
        if name in self._evaluating:
            return Unresolved(f"!Condition {name}", f"condition {name} refers to itself")
        self._evaluating.add(name)
        value = self.condition_value(self.conditions[name])
        self._evaluating.discard(name)
        self._condition_values[name] = value
        return value

    def condition_value(self, expression: Any) -> bool | Unresolved:
        text = render(expression)
        if not (isinstance(expression, dict) and len(expression) == 1):
            return Unresolved(text, "not a condition")
        ((key, arg),) = expression.items()
        if key == "Condition" and isinstance(arg, str):
            return self.condition(arg)
        if key == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
            left, right = self.resolve(arg[0]), self.resolve(arg[1])
            problem = _contains_unresolved([left, right])
            if problem:
                return Unresolved(text, problem.reason)
            return (_scalar_text(left) or left) == (_scalar_text(right) or right)
        if key in ("Fn::Not", "Fn::And", "Fn::Or") and isinstance(arg, list):
            values = [self.condition_value(item) for item in arg]
            known = [v for v in values if not isinstance(v, Unresolved)]
            unknown = [v for v in values if isinstance(v, Unresolved)]
            if key == "Fn::Not":
                return unknown[0] if unknown else not known[0]
            if key == "Fn::And":
                return False if False in known else (Unresolved(text, unknown[0].reason) if unknown else True)
            return True if True in known else (Unresolved(text, unknown[0].reason) if unknown else False)
        return Unresolved(text, f"{key} is not a condition function")


# ---------------------------------------------------------------------------------------------
# PascalCase properties to the API's camelCase, typed as the API types them
# ---------------------------------------------------------------------------------------------

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
    state.pointers[pointer] = template_pointer
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


# ---------------------------------------------------------------------------------------------
# Roles defined in the template
# ---------------------------------------------------------------------------------------------

ECS_TASK_EXECUTION_POLICY_RE = re.compile(
    r"^arn:aws[\w-]*:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy$"
)
# AmazonECSTaskExecutionRolePolicy v1 (its only version; AWS managed-policy dump, see docs/iam-facts.md): the one
# AWS-managed policy resolved without IAM, because nearly every execution role in a template names it.
ECS_TASK_EXECUTION_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": list(EXECUTION_BASELINE),
            "Resource": "*",
        }
    ],
}


def _policy_strings(value: Any) -> Any:
    """Unresolved parts of a policy document become ${...}: the evaluator treats them as conditional."""
    if isinstance(value, Unresolved):
        return value.as_string()
    if isinstance(value, dict):
        return {k: _policy_strings(v) for k, v in value.items() if v is not NO_VALUE}
    if isinstance(value, list):
        return [_policy_strings(v) for v in value if v is not NO_VALUE]
    return _scalar_text(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _refers_to(raw: Any, logical_id: str) -> bool:
    return raw == {"Ref": logical_id}


class RoleFacts:
    """The facts of the AWS::IAM::Role resources a task definition names."""

    def __init__(self, template: dict[str, Any], resolver: Resolver):
        self.resources = resolver.resources
        self.resolver = resolver

    def _created(self, resource: dict[str, Any]) -> bool:
        condition = resource.get("Condition")
        return not isinstance(condition, str) or self.resolver.condition(condition) is not False

    def attached(self, logical_id: str) -> list[tuple[str, dict[str, Any]]]:
        """Policy resources of the template that attach to the role (AWS::IAM::Policy, ManagedPolicy, RolePolicy)."""
        found = []
        for policy_id, resource in self.resources.items():
            if not isinstance(resource, dict) or not self._created(resource):
                continue
            properties = resource.get("Properties") or {}
            kind = resource.get("Type")
            roles = properties.get("Roles") if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") else None
            if kind == "AWS::IAM::RolePolicy":
                roles = [properties.get("RoleName")]
            if isinstance(roles, list) and any(_refers_to(role, logical_id) for role in roles):
                found.append((policy_id, properties))
        return found

    def facts(self, logical_id: str) -> dict[str, Any]:
        resource = self.resources[logical_id]
        properties = resource.get("Properties") or {}
        resolve = self.resolver.resolve
        problems: list[str] = []
        try:
            trust = normalise_policy_document(
                _policy_strings(resolve(properties.get("AssumeRolePolicyDocument"))),
                f"/Resources/{logical_id}/Properties/AssumeRolePolicyDocument",
            )
        except ValueError as exc:
            trust = None
            problems.append(f"the trust policy cannot be read: {exc}")
        policies: list[dict[str, Any]] = []
        for index, policy in enumerate(properties.get("Policies") or []):
            if not isinstance(policy, dict):
                continue
            name = _policy_strings(resolve(policy.get("PolicyName", f"policy-{index}")))
            where = f"/Resources/{logical_id}/Properties/Policies/{index}/PolicyDocument"
            policies.append({"name": name, "kind": "template", "document": self._document(policy, where, problems)})
        for policy_id, policy in self.attached(logical_id):
            where = f"/Resources/{policy_id}/Properties/PolicyDocument"
            policies.append(
                {"name": policy_id, "kind": "template", "document": self._document(policy, where, problems)}
            )
        for index, raw in enumerate(properties.get("ManagedPolicyArns") or []):
            policies.append(
                self._managed(raw, f"/Resources/{logical_id}/Properties/ManagedPolicyArns/{index}", problems)
            )
        boundary = resolve(properties.get("PermissionsBoundary"))
        if isinstance(boundary, Unresolved):
            problems.append(f"the permissions boundary is {boundary.expression}: {boundary.reason}")
            boundary = None
        facts: dict[str, Any] = {
            "status": "known",
            "source": "template",
            "reason": "",
            "trust_policy": trust,
            "policies": policies,
            "permissions_boundary": None,
            "details": {
                "logical_id": logical_id,
                "path": _policy_strings(resolve(properties.get("Path", "/"))),
                "tags": {
                    str(_policy_strings(resolve(t.get("Key")))): _policy_strings(resolve(t.get("Value")))
                    for t in properties.get("Tags") or []
                    if isinstance(t, dict)
                },
                "max_session_duration": _policy_strings(resolve(properties.get("MaxSessionDuration"))),
                "permissions_boundary_arn": boundary if isinstance(boundary, str) else None,
            },
        }
        if problems:
            facts.update(status="unknown", policies=None, reason="; ".join(problems))
        return facts

    def _document(self, policy: dict[str, Any], where: str, problems: list[str]) -> dict[str, Any] | None:
        try:
            return normalise_policy_document(
                _policy_strings(self.resolver.resolve(policy.get("PolicyDocument"))), where
            )
        except ValueError as exc:
            problems.append(f"a policy cannot be read: {exc}")
            return None

    def _managed(self, raw: Any, where: str, problems: list[str]) -> dict[str, Any]:
        # A ManagedPolicyArns entry that !Refs an AWS::IAM::ManagedPolicy of the template: its document is here.
        if isinstance(raw, dict) and set(raw) == {"Ref"} and isinstance(raw["Ref"], str):
            target = self.resources.get(raw["Ref"])
            if isinstance(target, dict) and target.get("Type") == "AWS::IAM::ManagedPolicy":
                properties = target.get("Properties") or {}
                document = self._document(properties, f"/Resources/{raw['Ref']}/Properties/PolicyDocument", problems)
                return {"name": raw["Ref"], "kind": "template", "document": document}
        arn = self.resolver.resolve(raw)
        if not isinstance(arn, str):
            reason = arn.reason if isinstance(arn, Unresolved) else "not a policy ARN"
            problems.append(f"managed policy {render(raw)} at {where} is unresolved: {reason}")
            return {"name": render(raw), "kind": "managed", "arn": None, "document": None}
        kind = "aws-managed" if ":iam::aws:policy/" in arn else "managed"
        document = (
            normalise_policy_document(ECS_TASK_EXECUTION_POLICY) if ECS_TASK_EXECUTION_POLICY_RE.match(arn) else None
        )
        return {"name": arn.rsplit("/", 1)[-1], "kind": kind, "arn": arn, "document": document}


# ---------------------------------------------------------------------------------------------
# The template as requests
# ---------------------------------------------------------------------------------------------


@dataclass
class TemplateTaskDefinition:
    logical_id: str
    request: AdmissionRequest
    pointers: dict[str, str]
    map_pointers: set[str]

    def template_pointer(self, pointer: str) -> str:
        return to_template_pointer(pointer, self.pointers, self.map_pointers)


@dataclass
class Template:
    task_definitions: list[TemplateTaskDefinition]
    skipped: list[dict[str, str]]
    parameters_defaulted: list[str]


def _role_target(raw: Any, resolver: Resolver) -> str | None:
    """The logical id of a template role that a role field names (through !If branches), if any."""
    if isinstance(raw, dict) and len(raw) == 1:
        ((key, arg),) = raw.items()
        if key == "Fn::If" and isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str):
            chosen = resolver.condition(arg[0])
            return None if isinstance(chosen, Unresolved) else _role_target(arg[1] if chosen else arg[2], resolver)
        target = None
        if key == "Ref" and isinstance(arg, str):
            target = arg
        elif key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            if isinstance(parts, list) and len(parts) == 2 and parts[1] == "Arn":
                target = parts[0]
        resource = resolver.resources.get(target) if isinstance(target, str) else None
        if isinstance(resource, dict) and resource.get("Type") == ROLE_TYPE:
            return target
    return None


def _task_definition(
    logical_id: str, resource: dict[str, Any], resolver: Resolver, roles: RoleFacts
) -> TemplateTaskDefinition:
    root = f"/Resources/{escape(logical_id)}/Properties"
    properties = resource.get("Properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise InputError("must be an object", field=root)
    template_roles: dict[str, dict[str, Any]] = {}
    resolved = resolver.resolve(properties)
    if isinstance(resolved, Unresolved):
        raise InputError(f"the task definition's properties are unresolved: {resolved.reason}", field=root)
    for prop, field_name in ROLE_FIELDS.items():
        if prop not in properties:
            continue
        target = _role_target(properties[prop], resolver)
        if target is None:
            value = resolved.get(prop)
            if isinstance(value, Unresolved):
                # Not a role of this template, and the template does not say which role it is.
                template_roles[field_name] = {
                    "status": "unknown",
                    "source": "none",
                    "reason": _display(
                        f"the role is {value.expression}, which the template does not decide: {value.reason}", 300
                    ),
                    "valid": True,
                }
            continue
        template_roles[field_name] = roles.facts(target)
        value = resolved.get(prop)
        if isinstance(value, Unresolved):
            # The role's own facts are known; only its generated name or ARN is not. No warning for that.
            resolved[prop] = value.expression
            template_roles[field_name]["valid"] = True
    state = _Conversion()
    task_definition = _convert(resolved, TYPES, root, "", state, data_keys=False)
    task_definition = drop_nulls(task_definition)
    try:
        validate_task_definition(task_definition)
    except InputError as exc:
        exc.field = to_template_pointer(exc.field or "", state.pointers, state.map_pointers)
        raise
    request = AdmissionRequest(
        task_definition=task_definition,
        source="cloudformation",
        envelope="cloudformation",
        template_roles=template_roles,
        template={
            "logical_id": logical_id,
            "unresolved": state.unresolved,
            "parameters_defaulted": sorted(resolver.defaulted),
        },
    )
    request.placeholders = find_placeholders(task_definition)
    return TemplateTaskDefinition(logical_id, request, state.pointers, state.map_pointers)


def load_template(document: dict[str, Any], context: dict[str, str] | None = None) -> Template:
    """Every AWS::ECS::TaskDefinition of a parsed template, as requests the gate can decide."""
    resources = document.get("Resources")
    if not isinstance(resources, dict):
        raise InputError("a template needs a Resources object", field="/Resources")
    resolver = Resolver(document, context or {})
    roles = RoleFacts(document, resolver)
    results, skipped = [], []
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") != TASK_DEFINITION_TYPE:
            continue
        condition = resource.get("Condition")
        if isinstance(condition, str) and resolver.condition(condition) is False:
            skipped.append({"logical_id": logical_id, "reason": f"condition {condition} is false"})
            continue
        results.append(_task_definition(logical_id, resource, resolver, roles))
    if not results and not skipped:
        raise InputError(f"the template has no {TASK_DEFINITION_TYPE} resource to judge", field="/Resources")
    return Template(results, skipped, sorted(resolver.defaulted))
