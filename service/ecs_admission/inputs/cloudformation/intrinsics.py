"""Evaluating intrinsics: the values they give (Unresolved, NO_VALUE), their rendering, the budget,
and Ref, GetAtt and the Fn:: functions that Resolver (resolver.py) evaluates.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from ecs_admission.errors import InputError
from ecs_admission.inputs.schema import escape
from ecs_admission.parsing.safe_text import safe_text

ROLE_TYPE = "AWS::IAM::Role"


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


class IntrinsicFunctions:
    """Resolver's intrinsic functions, kept apart from its conditions (conditions.py); they use the
    template, context, budget and resolve() of Resolver (resolver.py).
    """

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
