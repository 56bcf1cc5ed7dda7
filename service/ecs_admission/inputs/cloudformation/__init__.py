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
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import yaml

from ...errors import InputError
from ...facts.documents import normalise_policy_document
from ...facts.managed import shipped_entry
from ...facts.needs import partition_of_region
from ...facts.text import safe_text
from ..parse import _construct_mapping, _SafeLoader
from ..schema import (
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
from ..shapes import AdmissionRequest, drop_nulls, find_placeholders

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


# Bounded work per request (README "Limits and hostile input"): a template of a few KB can name
# itself or double at every level (a Join of two FindInMaps of the next level, 21 levels deep).
# Past a limit the template is refused with a 400 naming it, never evaluated for seconds.
MAX_RESOLVE_STEPS = 50_000  # intrinsic and container evaluations for the whole template
MAX_RESOLVED_CHARS = 1_000_000  # characters the string functions (Join, Sub, Split, Base64, ...) produce
MAX_RESOLVE_DEPTH = 100  # nested evaluations (a Ref into a mapping into a Join ...)
# Conditions the template alone does not decide (a parameter without a default, an unknown pseudo
# parameter) are judged in every combination: at most this many combinations are evaluated, and
# at most MAX_CONDITION_VARIANTS distinct task definitions come out of them.
MAX_CONDITION_ASSIGNMENTS = 64
MAX_CONDITION_VARIANTS = 8


class _Other:
    """An undecided value assumed to be none of the literals the template compares it with."""

    def __repr__(self) -> str:
        return "another value"


OTHER = _Other()


@dataclass
class Budget:
    """What one template may cost to resolve, shared by every task definition and condition variant."""

    steps: int = 0
    chars: int = 0

    def step(self, where: str) -> None:
        self.steps += 1
        if self.steps > MAX_RESOLVE_STEPS:
            raise InputError(
                f"the template needs more than {MAX_RESOLVE_STEPS} intrinsic evaluations (MAX_RESOLVE_STEPS): "
                "it expands (a mapping or join that refers to the next level more than once)",
                field=where or "/",
                error="template_too_complex",
            )

    def produce(self, text: str, where: str) -> str:
        self.chars += len(text)
        if self.chars > MAX_RESOLVED_CHARS:
            raise InputError(
                f"the template's intrinsics produce more than {MAX_RESOLVED_CHARS} characters (MAX_RESOLVED_CHARS)",
                field=where or "/",
                error="template_too_complex",
            )
        return text


@dataclass
class Unknowns:
    """What the discovery pass found undecided: unresolved values compared with literals, and free atoms."""

    compared: dict[str, set[str]] = field(default_factory=dict)  # expression -> literals it is compared with
    allowed: dict[str, list[str] | None] = field(default_factory=dict)  # expression -> AllowedValues, if any
    atoms: set[str] = field(default_factory=set)  # an Equals of two undecided values: true or false
    conditions: set[str] = field(default_factory=set)  # named conditions that came out undecided

    def assignments(self, where: str) -> list[dict[str, Any]]:
        """Every combination worth judging: each value is one of the compared literals or another one."""
        choices: list[tuple[str, list[Any]]] = []
        for expression in sorted(self.compared):
            literals = sorted(self.compared[expression])
            allowed = self.allowed.get(expression)
            if allowed is not None:
                options: list[Any] = [v for v in literals if v in allowed]
                if set(allowed) - set(literals):
                    options.append(OTHER)
            else:
                options = [*literals, OTHER]
            choices.append((expression, options or [OTHER]))
        choices += [(atom, [True, False]) for atom in sorted(self.atoms)]
        total = 1
        for _, options in choices:
            total *= len(options)
        if total > MAX_CONDITION_ASSIGNMENTS:
            names = ", ".join(sorted(self.conditions)) or ", ".join(name for name, _ in choices)
            raise InputError(
                f"conditions {names} depend on values the template does not decide, in {total} combinations: "
                f"more than {MAX_CONDITION_ASSIGNMENTS} (MAX_CONDITION_ASSIGNMENTS) cannot be judged; "
                "give the parameters defaults",
                field=where,
                error="template_too_complex",
            )
        return [
            dict(zip([name for name, _ in choices], combo, strict=True)) for combo in product(*(o for _, o in choices))
        ]


class Resolver:
    """Evaluates intrinsics against the template's parameters (defaults), mappings, conditions and context.

    Without `assumed` it is the discovery pass: a condition the template does not decide stays
    Unresolved and is recorded in `unknowns` (both branches of an undecided `Fn::If` are visited so
    nested conditions are found too). With `assumed` (one combination from Unknowns.assignments)
    every such condition takes a value.
    """

    def __init__(
        self,
        template: dict[str, Any],
        context: dict[str, str],
        assumed: dict[str, Any] | None = None,
        budget: Budget | None = None,
    ):
        self.parameters = template.get("Parameters") if isinstance(template.get("Parameters"), dict) else {}
        self.mappings = template.get("Mappings") if isinstance(template.get("Mappings"), dict) else {}
        self.conditions = template.get("Conditions") if isinstance(template.get("Conditions"), dict) else {}
        self.resources = template.get("Resources") if isinstance(template.get("Resources"), dict) else {}
        self.region = context.get("region")
        self.account = context.get("account")
        self.defaulted: set[str] = set()
        self.assumed = assumed
        self.budget = budget or Budget()
        self.unknowns = Unknowns()
        # Containers the resolution built, by id, with the template pointer they come from (an
        # Fn::If branch, a parameter default): so a finding points where the value is written.
        self.origins: dict[int, tuple[Any, str]] = {}
        self._condition_values: dict[str, Any] = {}
        self._active: list[str] = []
        self._memo: dict[str, Any] = {}
        self._depth = 0

    @property
    def partition(self) -> str | None:
        return partition_of_region(self.region) if self.region else None

    def resolve(self, value: Any, where: str = "") -> Any:
        """The value with every intrinsic evaluated; NO_VALUE and Unresolved stay in place as markers."""
        if not isinstance(value, dict | list):
            return value
        self.budget.step(where)
        self._depth += 1
        try:
            if self._depth > MAX_RESOLVE_DEPTH:
                raise InputError(
                    f"intrinsics nested deeper than {MAX_RESOLVE_DEPTH} levels (MAX_RESOLVE_DEPTH)",
                    field=where or "/",
                    error="template_too_complex",
                )
            return self._resolve(value, where)
        finally:
            self._depth -= 1

    def _resolve(self, value: dict[str, Any] | list[Any], where: str) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref":
                    return self.ref(arg, where)
                if key.startswith("Fn::"):
                    return self.function(key, arg, value, f"{where}/{escape(key)}")
            result: Any = {key: self.resolve(item, f"{where}/{escape(key)}") for key, item in value.items()}
        else:
            result = [self.resolve(item, f"{where}/{index}") for index, item in enumerate(value)]
        self.origins[id(result)] = (result, where)  # the object itself too, so its id is never reused
        return result

    def _named(self, key: str, where: str, evaluate: Callable[[], Any]) -> Any:
        """A resource's name or a mapping entry: evaluated once (a template that names the next level
        twice at every level stays linear), and a name met again while it is evaluated is a cycle."""
        if key in self._memo:
            return self._memo[key]
        self._enter(key, where)
        try:
            value = evaluate()
        finally:
            self._leave()
        self._memo[key] = value
        return value

    def _enter(self, key: str, where: str) -> None:
        """Follow a name (a resource's name, a mapping entry, a condition); a name met again is a cycle."""
        if key in self._active:
            cycle = [*self._active[self._active.index(key) :], key]
            raise InputError(f"{' -> '.join(cycle)} refers back to itself", field=where or "/", error="template_cycle")
        self._active.append(key)

    def _leave(self) -> None:
        self._active.pop()

    # -- Ref and GetAtt ------------------------------------------------------------------------

    def ref(self, name: Any, where: str = "") -> Any:
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
            if prop and isinstance(properties, dict) and prop in properties:
                return self._named(
                    f"!Ref {name}",
                    where,
                    lambda: self.resolve(properties[prop], f"/Resources/{escape(name)}/Properties/{prop}"),
                )
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

    def _allowed_values(self, expression: str) -> list[str] | None:
        """A parameter's AllowedValues, as text, for `!Ref P`; None when anything goes."""
        name = expression[len("!Ref ") :] if expression.startswith("!Ref ") else None
        spec = self.parameters.get(name) if name else None
        allowed = spec.get("AllowedValues") if isinstance(spec, dict) else None
        if not isinstance(allowed, list) or not all(_scalar_text(v) is not None for v in allowed):
            return None
        return [str(_scalar_text(v)) for v in allowed]

    def get_att(self, arg: Any, where: str = "") -> Any:
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
        name = self.ref(logical_id, where) if kind in REF_NAME_PROPERTY else None
        generated = Unresolved(expression, f"{kind} {logical_id}.{attribute} is known only after the stack creates it")
        if not isinstance(name, str):
            return generated
        partition, region, account = self.partition or "aws", self.region, self.account
        if kind == ROLE_TYPE and attribute == "Arn" and account:
            path = self.resolve((resource.get("Properties") or {}).get("Path", "/"), where)
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

    def function(self, key: str, arg: Any, whole: dict[str, Any], where: str = "") -> Any:
        # Rendering an expression costs more than evaluating it: only an Unresolved value needs it.
        handler = {
            "Fn::GetAtt": lambda: self.get_att(arg, where),
            "Fn::Sub": lambda: self._sub(arg, whole, where),
            "Fn::Join": lambda: self._join(arg, whole, where),
            "Fn::Select": lambda: self._select(arg, whole, where),
            "Fn::Split": lambda: self._split(arg, whole, where),
            "Fn::FindInMap": lambda: self._find_in_map(arg, whole, where),
            "Fn::If": lambda: self._if(arg, whole, where),
            "Fn::Base64": lambda: self._base64(arg, whole, where),
        }.get(key)
        if handler is not None:
            return handler()
        if key == "Fn::ImportValue":
            return Unresolved(render(whole), "the value is exported by another stack")
        if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self.condition_value(whole, where.rsplit("/", 1)[0])
        return Unresolved(render(whole), f"{key} is not evaluated by the gate")

    def _sub(self, arg: Any, whole: Any, where: str) -> Any:
        if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
            text, variables = arg
        else:
            text, variables = arg, {}
        if not isinstance(text, str):
            return Unresolved(render(whole), "Sub takes a string")
        problems: list[Unresolved] = []

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = self.resolve(variables[name], f"{where}/1/{escape(name)}")
            elif "." in name and not name.startswith("AWS::"):
                value = self.get_att(name, where)
            else:
                value = self.ref(name, where)
            if isinstance(value, Unresolved):
                problems.append(value)
                return "${" + name + "}"
            text_value = _scalar_text(value)
            if text_value is None:
                problems.append(Unresolved(render(whole), f"${{{name}}} is not a string"))
                return "${" + name + "}"
            return self.budget.produce(text_value, where)

        result = re.sub(r"\$\{([^}]*)\}", replace, text)
        if problems:
            return Unresolved(render(whole), problems[0].reason, partial=result)
        return result

    def _join(self, arg: Any, whole: Any, where: str) -> Any:
        if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
            return Unresolved(render(whole), "Join takes a delimiter and a list")
        items = self.resolve(arg[1], f"{where}/1")
        if isinstance(items, Unresolved):
            return Unresolved(render(whole), items.reason)
        if not isinstance(items, list):
            return Unresolved(render(whole), "Join needs a list")
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
                return Unresolved(render(whole), "Join can only join strings")
        joined = self.budget.produce(arg[0].join(parts), where)
        return Unresolved(render(whole), problem.reason, partial=joined) if problem else joined

    def _select(self, arg: Any, whole: Any, where: str) -> Any:
        if not (isinstance(arg, list) and len(arg) == 2):
            return Unresolved(render(whole), "Select takes an index and a list")
        index, items = self.resolve(arg[0], f"{where}/0"), self.resolve(arg[1], f"{where}/1")
        problem = _contains_unresolved(index) or (items if isinstance(items, Unresolved) else None)
        if problem:
            return Unresolved(render(whole), problem.reason)
        try:
            return items[int(index)]
        except (TypeError, ValueError, IndexError, KeyError):
            return Unresolved(render(whole), "Select's index is outside the list")

    def _split(self, arg: Any, whole: Any, where: str) -> Any:
        if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
            return Unresolved(render(whole), "Split takes a delimiter and a string")
        if arg[0] == "":
            raise InputError("Fn::Split's delimiter must not be empty", field=f"{where}/0")
        text = self.resolve(arg[1], f"{where}/1")
        if isinstance(text, Unresolved):
            return Unresolved(render(whole), text.reason)
        if not isinstance(text, str):
            return Unresolved(render(whole), "Split needs a string")
        parts = text.split(arg[0])
        self.budget.produce(" " * len(parts), where)  # a list element costs as much as a character
        return parts

    def _find_in_map(self, arg: Any, whole: Any, where: str) -> Any:
        if not (isinstance(arg, list) and len(arg) in (3, 4)):
            return Unresolved(render(whole), "FindInMap takes a map name and two keys")
        keys = [self.resolve(part, f"{where}/{index}") for index, part in enumerate(arg[:3])]
        problem = _contains_unresolved(keys)
        if problem:
            return Unresolved(render(whole), problem.reason)
        names = [_scalar_text(key) for key in keys]
        try:
            entry = self.mappings[names[0]][names[1]][names[2]]
        except (KeyError, TypeError):
            if len(arg) == 4 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self.resolve(arg[3]["DefaultValue"], f"{where}/3/DefaultValue")
            return Unresolved(render(whole), "the mapping has no such entry")
        return self._named(
            f"!FindInMap [{', '.join(str(n) for n in names)}]",
            where,
            lambda: self.resolve(entry, "/Mappings/" + "/".join(escape(str(n)) for n in names)),
        )

    def _if(self, arg: Any, whole: Any, where: str) -> Any:
        if not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
            return Unresolved(render(whole), "If takes a condition name and two values")
        chosen = self.condition(arg[0], f"{where}/0")
        if isinstance(chosen, Unresolved):
            if self.assumed is None:
                # Discovery: both branches may hold conditions of their own.
                self.resolve(arg[1], f"{where}/1")
                self.resolve(arg[2], f"{where}/2")
            return Unresolved(render(whole), chosen.reason)
        return self.resolve(arg[1] if chosen else arg[2], f"{where}/{1 if chosen else 2}")

    def _base64(self, arg: Any, whole: Any, where: str) -> Any:
        value = self.resolve(arg, where)
        if isinstance(value, Unresolved):
            return Unresolved(render(whole), value.reason)
        if not isinstance(value, str):
            return Unresolved(render(whole), "Base64 takes a string")
        return self.budget.produce(base64.b64encode(value.encode()).decode(), where)

    # -- conditions --------------------------------------------------------------------------------

    def condition(self, name: str, where: str = "") -> bool | Unresolved:
        if name in self._condition_values:
            return self._condition_values[name]
        if name not in self.conditions:
            return Unresolved(f"!Condition {name}", f"condition {name} is not defined in the template")
        self._enter(f"!Condition {name}", where)
        try:
            value = self.condition_value(self.conditions[name], f"/Conditions/{escape(name)}")
        finally:
            self._leave()
        if isinstance(value, Unresolved):
            self.unknowns.conditions.add(name)
            value = Unresolved(value.expression, f"condition {name} is not decided by the template: {value.reason}")
        self._condition_values[name] = value
        return value

    def consulted(self, names: set[str]) -> dict[str, bool]:
        """The values this pass gave the named conditions among `names` that it evaluated."""
        return {n: v for n, v in sorted(self._condition_values.items()) if n in names and isinstance(v, bool)}

    def condition_value(self, expression: Any, where: str = "") -> bool | Unresolved:
        self.budget.step(where)
        if not (isinstance(expression, dict) and len(expression) == 1):
            return Unresolved(render(expression), "not a condition")
        ((key, arg),) = expression.items()
        inner = f"{where}/{escape(key)}"
        if key == "Condition" and isinstance(arg, str):
            return self.condition(arg, inner)
        if key == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
            return self._equals(arg, expression, inner)
        if key in ("Fn::Not", "Fn::And", "Fn::Or"):
            if not isinstance(arg, list) or (key == "Fn::Not" and len(arg) != 1) or not arg:
                wanted = "one condition" if key == "Fn::Not" else "a list of conditions"
                raise InputError(f"{key} takes {wanted}", field=inner)
            values = [self.condition_value(item, f"{inner}/{index}") for index, item in enumerate(arg)]
            known = [v for v in values if not isinstance(v, Unresolved)]
            unknown = [v for v in values if isinstance(v, Unresolved)]
            if key == "Fn::Not":
                return unknown[0] if unknown else not known[0]
            decisive = key == "Fn::Or"  # the value that decides the whole: True for Or, False for And
            if decisive in known:
                return decisive
            return Unresolved(render(expression), unknown[0].reason) if unknown else not decisive
        return Unresolved(render(expression), f"{key} is not a condition function")

    def _equals(self, arg: list[Any], whole: Any, where: str) -> bool | Unresolved:
        left, right = self.resolve(arg[0], f"{where}/0"), self.resolve(arg[1], f"{where}/1")
        problem = _contains_unresolved([left, right])
        if not problem:
            return (_scalar_text(left) or left) == (_scalar_text(right) or right)
        # One undecided value compared with a literal: the combinations give it each literal in turn
        # (or another value); anything else is a free atom, true in some combinations, false in others.
        text = render(whole)
        pair = (left, right) if isinstance(left, Unresolved) else (right, left)
        literal = _scalar_text(pair[1]) if not _contains_unresolved(pair[1]) else None
        if isinstance(pair[0], Unresolved) and literal is not None:
            key, value = pair[0].expression, literal
        else:
            key, value = text, None
        if self.assumed is not None and key in self.assumed:
            assumed = self.assumed[key]
            return assumed is True if value is None else assumed == value
        if value is None:
            self.unknowns.atoms.add(key)
        else:
            self.unknowns.compared.setdefault(key, set()).add(value)
            self.unknowns.allowed[key] = self._allowed_values(key)
        return Unresolved(text, problem.reason)


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


# ---------------------------------------------------------------------------------------------
# Roles defined in the template
# ---------------------------------------------------------------------------------------------


def _policy_strings(value: Any) -> Any:
    """Unresolved parts of a policy document become ${...}: the evaluator treats them as conditional."""
    if isinstance(value, Unresolved):
        return value.as_string()
    if isinstance(value, dict):
        return {k: _policy_strings(v) for k, v in value.items() if v is not NO_VALUE}
    if isinstance(value, list):
        return [_policy_strings(v) for v in value if v is not NO_VALUE]
    return _scalar_text(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def choose(resolver: Resolver, value: Any, where: str) -> tuple[Any, str]:
    """Follow `Fn::If` to the raw value the conditions choose, with its pointer.

    AWS::NoValue gives NO_VALUE; an undecided condition gives Unresolved. Used where the raw form
    matters (a `!Ref` to a policy of the template), so the value itself is not resolved here.
    """
    while isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref" and arg == "AWS::NoValue":
            return NO_VALUE, where
        if key != "Fn::If" or not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
            break
        resolver.budget.step(where)
        chosen = resolver.condition(arg[0], f"{where}/Fn::If/0")
        if isinstance(chosen, Unresolved):
            return Unresolved(render(value), chosen.reason), where
        branch = 1 if chosen else 2
        value, where = arg[branch], f"{where}/Fn::If/{branch}"
    return value, where


def chosen_items(resolver: Resolver, value: Any, where: str, problems: list[str], what: str) -> list[tuple[Any, str]]:
    """The raw elements of a list property (and their pointers) after `Fn::If`; NoValue elements removed."""
    value, where = choose(resolver, value, where)
    if value is NO_VALUE or value is None:
        return []
    if isinstance(value, Unresolved):
        problems.append(f"{what} at {where} is {value.expression}: {value.reason}")
        return []
    if not isinstance(value, list):
        return []
    items = []
    for index, item in enumerate(value):
        item, item_where = choose(resolver, item, f"{where}/{index}")
        if item is NO_VALUE:
            continue
        if isinstance(item, Unresolved):
            problems.append(f"{what} at {item_where} is {item.expression}: {item.reason}")
            continue
        items.append((item, item_where))
    return items


def _refers_to(raw: Any, logical_id: str) -> bool:
    return raw == {"Ref": logical_id}


class RoleFacts:
    """The facts of the AWS::IAM::Role resources a task definition names."""

    def __init__(self, template: dict[str, Any], resolver: Resolver):
        self.resources = resolver.resources
        self.resolver = resolver

    def _created(self, resource: dict[str, Any], where: str) -> bool:
        """A resource whose Condition is undecided counts as created: its policies are judged, not dropped."""
        condition = resource.get("Condition")
        return not isinstance(condition, str) or self.resolver.condition(condition, f"{where}/Condition") is not False

    def attached(self, logical_id: str, problems: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """Policy resources of the template that attach to the role (AWS::IAM::Policy, ManagedPolicy, RolePolicy)."""
        found = []
        for policy_id, resource in self.resources.items():
            kind = resource.get("Type") if isinstance(resource, dict) else None
            if kind not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
                continue
            where = f"/Resources/{escape(policy_id)}"
            properties = resource.get("Properties") or {}
            if not isinstance(properties, dict) or not self._created(resource, where):
                continue
            if kind == "AWS::IAM::RolePolicy":
                roles = [choose(self.resolver, properties.get("RoleName"), f"{where}/Properties/RoleName")[0]]
            else:
                roles = [
                    role
                    for role, _ in chosen_items(
                        self.resolver, properties.get("Roles"), f"{where}/Properties/Roles", problems, "Roles"
                    )
                ]
            if any(_refers_to(role, logical_id) for role in roles):
                found.append((policy_id, properties))
        return found

    def facts(self, logical_id: str) -> dict[str, Any]:
        resource = self.resources[logical_id]
        properties = resource.get("Properties") or {}
        properties = properties if isinstance(properties, dict) else {}
        base = f"/Resources/{escape(logical_id)}/Properties"
        resolve = self.resolver.resolve
        problems: list[str] = []
        trust_where = f"{base}/AssumeRolePolicyDocument"
        try:
            trust = normalise_policy_document(
                _policy_strings(resolve(properties.get("AssumeRolePolicyDocument"), trust_where)), trust_where
            )
        except ValueError as exc:
            trust = None
            problems.append(f"the trust policy cannot be read: {exc}")
        policies: list[dict[str, Any]] = []
        for index, (policy, where) in enumerate(
            chosen_items(self.resolver, properties.get("Policies"), f"{base}/Policies", problems, "a policy")
        ):
            if not isinstance(policy, dict):
                continue
            name = _policy_strings(resolve(policy.get("PolicyName", f"policy-{index}"), f"{where}/PolicyName"))
            policies.append(self._template_policy(name, policy, where, problems))
        for policy_id, policy in self.attached(logical_id, problems):
            policies.append(self._template_policy(policy_id, policy, f"/Resources/{escape(policy_id)}", problems))
        for raw, where in chosen_items(
            self.resolver,
            properties.get("ManagedPolicyArns"),
            f"{base}/ManagedPolicyArns",
            problems,
            "a managed policy",
        ):
            policies.append(self._managed(raw, where, problems))
        boundary = resolve(properties.get("PermissionsBoundary"), f"{base}/PermissionsBoundary")
        if isinstance(boundary, Unresolved):
            problems.append(f"the permissions boundary is {boundary.expression}: {boundary.reason}")
            boundary = None
        tags = resolve(properties.get("Tags"), f"{base}/Tags")
        facts: dict[str, Any] = {
            "status": "known",
            "source": "template",
            "reason": "",
            "trust_policy": trust,
            "policies": policies,
            "permissions_boundary": None,
            "details": {
                "logical_id": logical_id,
                "path": _policy_strings(resolve(properties.get("Path", "/"), f"{base}/Path")),
                "tags": {
                    str(_policy_strings(t.get("Key"))): _policy_strings(t.get("Value"))
                    for t in (tags if isinstance(tags, list) else [])
                    if isinstance(t, dict)
                },
                "max_session_duration": _policy_strings(
                    resolve(properties.get("MaxSessionDuration"), f"{base}/MaxSessionDuration")
                ),
                "permissions_boundary_arn": boundary if isinstance(boundary, str) else None,
            },
        }
        if problems:
            facts.update(status="unknown", policies=None, reason=_display("; ".join(problems), 600))
        return facts

    def _template_policy(self, name: Any, policy: dict[str, Any], where: str, problems: list[str]) -> dict[str, Any]:
        """A policy written in the template; `template_path` is where, so a finding can point at it."""
        document_where = f"{where}/Properties/PolicyDocument" if where.count("/") == 2 else f"{where}/PolicyDocument"
        return {
            "name": name,
            "kind": "template",
            "document": self._document(policy, document_where, problems),
            "template_path": document_where,
        }

    def _document(self, policy: dict[str, Any], where: str, problems: list[str]) -> dict[str, Any] | None:
        try:
            return normalise_policy_document(
                _policy_strings(self.resolver.resolve(policy.get("PolicyDocument"), where)), where
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
                return self._template_policy(raw["Ref"], properties, f"/Resources/{escape(raw['Ref'])}", problems)
        arn = self.resolver.resolve(raw, where)
        if not isinstance(arn, str):
            reason = arn.reason if isinstance(arn, Unresolved) else "not a policy ARN"
            problems.append(f"managed policy {render(raw)} at {where} is unresolved: {reason}")
            return {"name": render(raw), "kind": "managed", "arn": None, "document": None, "template_path": where}
        # An AWS managed policy the gate ships is known without IAM (a lookup, when on, replaces it).
        shipped = shipped_entry(arn)
        if shipped is not None:
            return {**shipped, "template_path": where}
        kind = "aws-managed" if ":iam::aws:policy/" in arn else "managed"
        return {"name": arn.rsplit("/", 1)[-1], "kind": kind, "arn": arn, "document": None, "template_path": where}


# ---------------------------------------------------------------------------------------------
# The template as requests
# ---------------------------------------------------------------------------------------------


@dataclass
class TemplateTaskDefinition:
    logical_id: str
    request: AdmissionRequest
    pointers: dict[str, str]
    map_pointers: set[str]
    # When conditions the template does not decide change this task definition: the combinations
    # of their values this one stands for ([{"IsProd": True}, ...]), and every variant (self first).
    assignments: list[dict[str, bool]] = field(default_factory=list)
    variants: list[TemplateTaskDefinition] = field(default_factory=list)

    def template_pointer(self, pointer: str) -> str:
        return to_template_pointer(pointer, self.pointers, self.map_pointers)

    @property
    def conditions(self) -> dict[str, bool]:
        """The condition values every combination of this variant shares (what names it)."""
        if not self.assignments:
            return {}
        first = self.assignments[0]
        return {name: value for name, value in first.items() if all(a.get(name) == value for a in self.assignments)}


@dataclass
class Template:
    task_definitions: list[TemplateTaskDefinition]
    skipped: list[dict[str, str]]
    parameters_defaulted: list[str]


def _role_target(raw: Any, resolver: Resolver, where: str) -> str | None:
    """The logical id of a template role that a role field names (through `Fn::If` branches), if any."""
    raw, _ = choose(resolver, raw, where)
    if isinstance(raw, dict) and len(raw) == 1:
        ((key, arg),) = raw.items()
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


def _named_roles(raw: Any) -> set[str]:
    """Every resource a role field could name, whatever the conditions: the discovery pass visits each."""
    if isinstance(raw, dict):
        if set(raw) == {"Ref"} and isinstance(raw["Ref"], str):
            return {raw["Ref"]}
        if set(raw) == {"Fn::GetAtt"}:
            parts = raw["Fn::GetAtt"].split(".", 1) if isinstance(raw["Fn::GetAtt"], str) else raw["Fn::GetAtt"]
            return {parts[0]} if isinstance(parts, list) and parts and isinstance(parts[0], str) else set()
        return set().union(*(_named_roles(v) for v in raw.values())) if raw else set()
    if isinstance(raw, list):
        return set().union(*(_named_roles(v) for v in raw)) if raw else set()
    return set()


@dataclass
class _Resolved:
    """A task definition's properties and role facts, resolved but not yet converted to the API's form."""

    properties: dict[str, Any]
    template_roles: dict[str, dict[str, Any]]

    def fingerprint(self) -> str:
        # Cheap (C json) and before conversion: identical variants are converted and judged once.
        return json.dumps([self.properties, self.template_roles], sort_keys=True, default=repr)


def _task_definition(
    logical_id: str, resource: dict[str, Any], resolver: Resolver, roles: RoleFacts
) -> TemplateTaskDefinition:
    return _build(logical_id, _resolve_parts(logical_id, resource, resolver, roles), resolver)


def _resolve_parts(logical_id: str, resource: dict[str, Any], resolver: Resolver, roles: RoleFacts) -> _Resolved:
    root = f"/Resources/{escape(logical_id)}/Properties"
    properties = resource.get("Properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise InputError("must be an object", field=root)
    template_roles: dict[str, dict[str, Any]] = {}
    resolved = resolver.resolve(properties, root)
    if isinstance(resolved, Unresolved):
        raise InputError(f"the task definition's properties are unresolved: {resolved.reason}", field=root)
    for prop, field_name in ROLE_FIELDS.items():
        if prop not in properties:
            continue
        target = _role_target(properties[prop], resolver, f"{root}/{prop}")
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
    return _Resolved(resolved, template_roles)


def _build(logical_id: str, parts: _Resolved, resolver: Resolver) -> TemplateTaskDefinition:
    root = f"/Resources/{escape(logical_id)}/Properties"
    template_roles = parts.template_roles
    state = _Conversion(origins=resolver.origins, budget=resolver.budget)
    task_definition = _convert(parts.properties, TYPES, root, "", state, data_keys=False)
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


def _discover(document: dict[str, Any], context: dict[str, str], logical_id: str, budget: Budget) -> Resolver:
    """Resolve everything the task definition and its roles read, to find the conditions left undecided."""
    resolver = Resolver(document, context, budget=budget)
    resource = resolver.resources[logical_id]
    where = f"/Resources/{escape(logical_id)}"
    if isinstance(resource.get("Condition"), str):
        resolver.condition(resource["Condition"], f"{where}/Condition")
    properties = resource.get("Properties")
    if isinstance(properties, dict):
        resolver.resolve(properties, f"{where}/Properties")
        roles = RoleFacts(document, resolver)
        for prop in ROLE_FIELDS:
            for target in sorted(_named_roles(properties.get(prop))):
                role = resolver.resources.get(target)
                if isinstance(role, dict) and role.get("Type") == ROLE_TYPE:
                    roles.facts(target)
    return resolver


def _judged(
    document: dict[str, Any], context: dict[str, str], logical_id: str, resource: dict[str, Any], budget: Budget
) -> tuple[TemplateTaskDefinition | None, str]:
    """The task definition as the template decides it, or its variants when conditions are undecided.

    Returns (None, reason) when the task definition is not created.
    """
    where = f"/Resources/{escape(logical_id)}"
    discovery = _discover(document, context, logical_id, budget)
    unknowns = discovery.unknowns
    condition = resource.get("Condition")
    if not (unknowns.compared or unknowns.atoms):
        resolver = Resolver(document, context, budget=budget)
        if isinstance(condition, str) and resolver.condition(condition, f"{where}/Condition") is False:
            return None, f"condition {condition} is false"
        return _task_definition(logical_id, resource, resolver, RoleFacts(document, resolver)), ""
    variants: dict[str, TemplateTaskDefinition] = {}
    for assumed in unknowns.assignments(where):
        resolver = Resolver(document, context, assumed=assumed, budget=budget)
        if isinstance(condition, str) and resolver.condition(condition, f"{where}/Condition") is False:
            continue
        parts = _resolve_parts(logical_id, resource, resolver, RoleFacts(document, resolver))
        conditions = resolver.consulted(unknowns.conditions)
        key = parts.fingerprint()
        if key in variants:
            variants[key].assignments.append(conditions)
            continue
        if len(variants) == MAX_CONDITION_VARIANTS:
            raise InputError(
                f"conditions {', '.join(sorted(unknowns.conditions))} are not decided by the template and give "
                f"more than {MAX_CONDITION_VARIANTS} (MAX_CONDITION_VARIANTS) different task definitions; "
                "give the parameters they read defaults",
                field=where,
                error="template_too_complex",
            )
        built = _build(logical_id, parts, resolver)
        built.assignments = [conditions]
        variants[key] = built
    if not variants:
        return None, f"condition {condition} is false whatever the undecided parameters are"
    found = list(variants.values())
    first = found[0]
    first.variants = found
    for variant in found:
        variant.request.template = {**(variant.request.template or {}), "conditions": sorted(unknowns.conditions)}
    return first, ""


def load_template(document: dict[str, Any], context: dict[str, str] | None = None) -> Template:
    """Every AWS::ECS::TaskDefinition of a parsed template, as requests the gate can decide."""
    resources = document.get("Resources")
    if not isinstance(resources, dict):
        raise InputError("a template needs a Resources object", field="/Resources")
    context = context or {}
    budget = Budget()
    defaulted: set[str] = set()
    results, skipped = [], []
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") != TASK_DEFINITION_TYPE:
            continue
        judged, reason = _judged(document, context, logical_id, resource, budget)
        if judged is None:
            skipped.append({"logical_id": logical_id, "reason": reason})
            continue
        for variant in judged.variants or [judged]:
            defaulted.update((variant.request.template or {}).get("parameters_defaulted", []))
        results.append(judged)
    if not results and not skipped:
        raise InputError(f"the template has no {TASK_DEFINITION_TYPE} resource to judge", field="/Resources")
    return Template(results, skipped, sorted(defaulted))
