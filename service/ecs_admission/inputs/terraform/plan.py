"""A `terraform show -json` plan, indexed: resource instances by address, and their configuration.

The plan says what each instance will be (`resource_changes[].change.after`, with what is
unknown until apply in `after_unknown`); the configuration says where a value comes from
(`expressions.<attribute>.references`). Following a reference from a task definition's
`task_role_arn` to the `aws_iam_role` it names goes through both, across module boundaries
(`var.x` to the module call's argument, `module.x.y` to the module's output).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecs_admission.errors import InputError
from ecs_admission.inputs.terraform.addresses import (
    Address,
    key_text,
    module_address,
    parse_address,
    steps,
)

PLAN_KEYS = {"format_version", "terraform_version"}
PLAN_BODY_KEYS = {"resource_changes", "planned_values", "configuration", "prior_state"}
# Plan format 1.x is what Terraform 0.12 to 1.x write; a 2.x would be a format this gate has not read.
SUPPORTED_MAJOR = "1"
# Modules nest, and module outputs feed module arguments: a reference is followed this many steps at most.
MAX_HOPS = 12
# A plan of thousands of resources is fine; one of millions is not a plan a deploy gate should walk.
MAX_RESOURCE_CHANGES = 20_000


def is_plan(document: Any) -> bool:
    """A `terraform show -json` plan: its format and Terraform versions, and one of its sections."""
    return isinstance(document, dict) and set(document) >= PLAN_KEYS and bool(PLAN_BODY_KEYS & set(document))


@dataclass
class Instance:
    """A resource instance the plan knows: what it will be after apply, and what is not yet known."""

    address: Address
    pointer: str  # where in the plan document it is, for reports
    actions: tuple[str, ...]
    after: dict[str, Any]
    after_unknown: dict[str, Any]
    after_sensitive: Any = None

    def unknown(self, attribute: str) -> bool:
        return self.after_unknown.get(attribute) is True

    def value(self, attribute: str) -> Any:
        """The attribute's planned value; None when unset or unknown until apply."""
        return None if self.unknown(attribute) else self.after.get(attribute)


@dataclass
class Plan:
    document: dict[str, Any]
    instances: dict[str, Instance] = field(default_factory=dict)
    by_resource: dict[tuple[str, str], list[Instance]] = field(default_factory=dict)
    by_type: dict[str, list[Instance]] = field(default_factory=dict)

    @property
    def format_version(self) -> str:
        return str(self.document.get("format_version"))

    @property
    def terraform_version(self) -> str:
        return str(self.document.get("terraform_version"))

    def add(self, instance: Instance) -> None:
        key = str(instance.address)
        if key in self.instances:
            # resource_changes first: a data source read during the plan is also in prior_state.
            return
        self.instances[key] = instance
        group = (instance.address.module, instance.address.resource)
        self.by_resource.setdefault(group, []).append(instance)
        self.by_type.setdefault(instance.address.type, []).append(instance)

    def of_type(self, *types: str) -> list[Instance]:
        return [instance for kind in types for instance in self.by_type.get(kind, [])]

    # -- configuration --------------------------------------------------------------------------

    def module_config(self, path: tuple[str, ...]) -> dict[str, Any] | None:
        configuration = self.document.get("configuration")
        node = configuration.get("root_module") if isinstance(configuration, dict) else None
        for name in path:
            if not isinstance(node, dict):
                return None
            calls = node.get("module_calls")
            call = calls.get(name) if isinstance(calls, dict) else None
            node = call.get("module") if isinstance(call, dict) else None
        return node if isinstance(node, dict) else None

    def resource_config(self, address: Address) -> dict[str, Any] | None:
        module = self.module_config(address.config_path)
        resources = module.get("resources") if module else None
        for resource in resources if isinstance(resources, list) else []:
            if isinstance(resource, dict) and resource.get("address") == address.resource:
                return resource
        return None

    def references(self, address: Address, attribute: str) -> list[str]:
        """What the configuration says `attribute` of this resource is built from (empty: a constant or unset)."""
        resource = self.resource_config(address)
        expressions = resource.get("expressions") if resource else None
        return _references(expressions.get(attribute) if isinstance(expressions, dict) else None)

    def configured(self, address: Address, attribute: str) -> bool:
        """Whether the configuration sets the attribute (a Computed one may be unknown while unset).

        Without the resource's configuration the plan cannot tell, so the answer is yes: an unknown
        value is then reported, never read as absent."""
        resource = self.resource_config(address)
        expressions = resource.get("expressions") if resource else None
        return not isinstance(expressions, dict) or attribute in expressions

    # -- references -----------------------------------------------------------------------------

    def follow(self, source: Address, attribute: str, types: tuple[str, ...]) -> Instance | None:
        """The instance of one of `types` that `attribute` of `source` is built from, if the plan says so."""
        return self._resolve(self.references(source, attribute), source.modules, source.key, types, MAX_HOPS)

    def follow_all(self, source: Address, attribute: str, types: tuple[str, ...]) -> list[Instance]:
        """Every instance of `types` a list attribute names (`roles = [aws_iam_role.a.name, ...]`)."""
        found: list[Instance] = []
        for reference in self.references(source, attribute):
            instance = self._one(reference, source.modules, source.key, types, MAX_HOPS)
            if instance is not None and all(instance is not f for f in found):
                found.append(instance)
        return found

    def _resolve(
        self,
        references: list[str],
        modules: tuple[tuple[str, str], ...],
        key: str,
        types: tuple[str, ...],
        hops: int,
    ) -> Instance | None:
        if hops <= 0:
            return None
        for reference in references:
            found = self._one(reference, modules, key, types, hops)
            if found is not None:
                return found
        return None

    def _one(
        self, reference: str, modules: tuple[tuple[str, str], ...], key: str, types: tuple[str, ...], hops: int
    ) -> Instance | None:
        parts = steps(reference)
        if not parts:
            return None
        head = parts[0][0]
        if head == "var" and len(parts) >= 2 and modules:
            # A module argument: what the calling module passes for it.
            parent, (call, call_key) = modules[:-1], modules[-1]
            config = self.module_config(tuple(name for name, _ in parent))
            calls = config.get("module_calls") if config else None
            entry = calls.get(call) if isinstance(calls, dict) else None
            expressions = entry.get("expressions") if isinstance(entry, dict) else None
            argument = expressions.get(parts[1][0]) if isinstance(expressions, dict) else None
            return self._resolve(_references(argument), parent, call_key, types, hops - 1)
        if head == "module" and len(parts) >= 3:
            # A child module's output: what the module's output expression reads, inside that instance.
            name, call_key = parts[1]
            inner = (*modules, (name, call_key))
            if not call_key:
                known = {m[-1][1] for m in self._module_instances(modules, name)}
                if len(known) != 1:
                    return None
                inner = (*modules, (name, known.pop()))
            config = self.module_config(tuple(n for n, _ in inner))
            outputs = config.get("outputs") if config else None
            output = outputs.get(parts[2][0]) if isinstance(outputs, dict) else None
            expression = output.get("expression") if isinstance(output, dict) else None
            return self._resolve(_references(expression), inner, "", types, hops - 1)
        data = head == "data"
        rest = parts[1:] if data else parts
        if len(rest) < 2 or rest[0][0] not in types:
            return None
        (kind, _), (name, instance_key) = rest[0], rest[1]
        resource = f"{'data.' if data else ''}{kind}.{name}"
        candidates = self.by_resource.get((module_address(modules), resource), [])
        if instance_key:
            wanted = f"{module_address(modules) + '.' if modules else ''}{resource}{instance_key}"
            return self.instances.get(wanted)
        if len(candidates) == 1:
            return candidates[0]
        # `aws_iam_role.task[each.key]` is recorded without its key: the instance with the same key.
        same = [c for c in candidates if key and c.address.key == key]
        return same[0] if len(same) == 1 else None

    def _module_instances(self, modules: tuple[tuple[str, str], ...], name: str) -> list[tuple[tuple[str, str], ...]]:
        prefix = len(modules)
        found = set()
        for instance in self.instances.values():
            path = instance.address.modules
            if len(path) > prefix and path[:prefix] == modules and path[prefix][0] == name:
                found.add(path[: prefix + 1])
        return sorted(found)


def _references(expression: Any) -> list[str]:
    if not isinstance(expression, dict):
        return []
    references = expression.get("references")
    return [r for r in references if isinstance(r, str)] if isinstance(references, list) else []


def _instance(raw: Any, pointer: str) -> Instance | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("address"), str):
        return None
    address = parse_address(raw["address"])
    change = raw.get("change")
    if address is None or not isinstance(change, dict):
        return None
    actions = change.get("actions")
    after = change.get("after")
    unknown = change.get("after_unknown")
    return Instance(
        address=address,
        pointer=pointer,
        actions=tuple(a for a in actions if isinstance(a, str)) if isinstance(actions, list) else (),
        after=after if isinstance(after, dict) else {},
        after_unknown=unknown if isinstance(unknown, dict) else {},
        after_sensitive=change.get("after_sensitive"),
    )


def _state_resources(module: Any, pointer: str, depth: int = 0) -> list[tuple[dict[str, Any], str]]:
    """prior_state's resources, module by module: data sources read while planning live there."""
    if not isinstance(module, dict) or depth > 32:
        return []
    found = []
    resources = module.get("resources")
    for index, resource in enumerate(resources if isinstance(resources, list) else []):
        if isinstance(resource, dict):
            found.append((resource, f"{pointer}/resources/{index}"))
    children = module.get("child_modules")
    for index, child in enumerate(children if isinstance(children, list) else []):
        found.extend(_state_resources(child, f"{pointer}/child_modules/{index}", depth + 1))
    return found


def load(document: dict[str, Any]) -> Plan:
    """Index a parsed plan. InputError when it is a format this gate does not read."""
    version = str(document.get("format_version", ""))
    if version.split(".", 1)[0] != SUPPORTED_MAJOR:
        raise InputError(
            f"plan format_version {version[:20]!r} is not supported: the gate reads `terraform show -json` "
            "plans of format 1.x",
            field="/format_version",
            error="unsupported_shape",
        )
    changes = document.get("resource_changes", [])
    if not isinstance(changes, list):
        raise InputError("must be a list of resource changes", field="/resource_changes")
    if len(changes) > MAX_RESOURCE_CHANGES:
        raise InputError(
            f"{len(changes)} resource changes: the gate reads at most {MAX_RESOURCE_CHANGES} (docs/terraform.md)",
            field="/resource_changes",
            error="limit_exceeded",
        )
    plan = Plan(document)
    for index, raw in enumerate(changes):
        instance = _instance(raw, f"/resource_changes/{index}")
        if instance is not None:
            plan.add(instance)
    prior = document.get("prior_state")
    values = prior.get("values") if isinstance(prior, dict) else None
    root = values.get("root_module") if isinstance(values, dict) else None
    for resource, pointer in _state_resources(root, "/prior_state/values/root_module"):
        if resource.get("mode") != "data" or not isinstance(resource.get("address"), str):
            continue
        address = parse_address(resource["address"])
        known = resource.get("values")
        if address is not None and isinstance(known, dict):
            plan.add(Instance(address, pointer, ("read",), known, {}, resource.get("sensitive_values")))
    return plan


__all__ = ["Address", "Instance", "Plan", "is_plan", "key_text", "load"]
