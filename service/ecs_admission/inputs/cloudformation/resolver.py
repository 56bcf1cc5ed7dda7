"""The Resolver: one evaluation pass over a template, intrinsics and conditions together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecs_admission.errors import InputError
from ecs_admission.iam.partitions import partition_of_region
from ecs_admission.inputs.cloudformation.conditions import ConditionEvaluation, Unknowns
from ecs_admission.inputs.cloudformation.intrinsics import MAX_RESOLVE_DEPTH, Budget, IntrinsicFunctions
from ecs_admission.inputs.schema import escape


class Resolver(IntrinsicFunctions, ConditionEvaluation):
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
