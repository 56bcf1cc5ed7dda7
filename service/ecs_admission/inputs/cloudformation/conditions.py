"""Conditions: named conditions and the condition functions, and the values the template leaves
undecided, judged in every combination that matters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product
from typing import Any

from ecs_admission.errors import InputError
from ecs_admission.inputs.cloudformation.intrinsics import Unresolved, _contains_unresolved, _scalar_text, render
from ecs_admission.inputs.schema import escape

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


class ConditionEvaluation:
    """Resolver's conditions, kept apart from its intrinsic functions (intrinsics.py); they use the
    conditions, parameters, assumptions, unknowns and resolve() of Resolver (resolver.py).
    """

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

    def _allowed_values(self, expression: str) -> list[str] | None:
        """A parameter's AllowedValues, as text, for `!Ref P`; None when anything goes."""
        name = expression[len("!Ref ") :] if expression.startswith("!Ref ") else None
        spec = self.parameters.get(name) if name else None
        allowed = spec.get("AllowedValues") if isinstance(spec, dict) else None
        if not isinstance(allowed, list) or not all(_scalar_text(v) is not None for v in allowed):
            return None
        return [str(_scalar_text(v)) for v in allowed]
