"""The fields the ECS API knows, from botocore's own service model, to name keys it does not.

The AWS CLI and SDKs refuse an unknown parameter; Terraform's provider drops it silently and
CloudFormation refuses the stack. Either way the setting the author wrote (`privilege: true`
for `privileged`) is not applied. The gate says so as a warning (ECS-INPUT-001) naming the key
and the closest field ECS knows, never a 400: a field ECS adds after this botocore was built
must not stop a deploy. The model is read once, when the module is imported (inputs/ecs_model.py,
without importing botocore).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecs_admission.decision import Finding
from ecs_admission.inputs.ecs_model import Tree, load_known
from ecs_admission.inputs.schema import escape
from ecs_admission.policy.catalogue import INPUT_RULES

RULE = "ECS-INPUT-001"
_ENTRY = INPUT_RULES[RULE]
TITLE, SEVERITY, REMEDIATION, DOCS = (_ENTRY[key] for key in ("title", "severity", "remediation", "docs"))

KNOWN, API_VERSION = load_known()


@dataclass(frozen=True)
class UnknownKey:
    path: str
    key: str
    suggestion: str | None

    def finding(self) -> Finding:
        hint = f" (did you mean {self.suggestion}?)" if self.suggestion else ""
        message = f"{self.key!r} is not a field of the ECS API{hint}: the setting it holds is not applied"
        return Finding(RULE, SEVERITY, TITLE, message, self.path, REMEDIATION, DOCS)


def _closest(key: str, known: list[str]) -> str | None:
    folded = {name.lower(): name for name in known}
    if key.lower() in folded:
        return folded[key.lower()]
    import difflib  # only for a key the model does not know

    matches = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return matches[0] if matches else None


def unknown_keys(value: Any, tree: Tree = None, pointer: str = "", limit: int = 20) -> list[UnknownKey]:
    """Keys of the task definition (and everything under it) the ECS API does not define; at most `limit`.

    In document order. The walk goes down only where a field of the model holds an object or a list,
    and a JSON pointer is written only for a key it reports (most documents have none).
    """
    tree = KNOWN if tree is None and pointer == "" else tree
    found: list[UnknownKey] = []
    if limit > 0 and not _all_known(value, tree):
        _collect(value, tree, pointer, [], found, limit)
    return found


def _all_known(value: Any, tree: Tree) -> bool:
    """True if _collect would find no unknown key under `value`; False if it might (then it looks).

    The same descent as _collect, on exact JSON types only, with nothing written down on the way:
    nearly every task definition holds only fields ECS knows.
    """
    kind = type(value)
    if kind is list:
        for item in value:
            if type(item) is dict or type(item) is list:
                if not _all_known(item, tree):
                    return False
            elif isinstance(item, dict | list):
                return False  # a subclass: _collect decides
        return True
    if kind is dict:
        if type(tree) is not dict:
            return not isinstance(tree, dict)  # no model below here: _collect reads nothing either
        for key, item in value.items():
            if key not in tree:
                return False
            if type(item) is dict or type(item) is list:
                sub = tree[key]
                if type(sub) is dict:
                    if not _all_known(item, sub):
                        return False
                elif isinstance(sub, dict):
                    return False
            elif isinstance(item, dict | list):
                return False
        return True
    return not isinstance(value, dict | list)


def _collect(value: Any, tree: Tree, prefix: str, steps: list[Any], found: list[UnknownKey], limit: int) -> None:
    # `steps`: the keys and indexes from `prefix` down to `value`, turned into a pointer on demand.
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                steps.append(index)
                _collect(item, tree, prefix, steps, found, limit)
                steps.pop()
            if len(found) >= limit:
                return
    elif isinstance(value, dict) and isinstance(tree, dict):
        for key, item in value.items():
            if key not in tree:
                where = "".join(f"/{escape(step) if isinstance(step, str) else step}" for step in (*steps, key))
                found.append(UnknownKey(prefix + where, key, _closest(key, sorted(tree))))
            elif isinstance(item, dict | list) and isinstance(tree[key], dict):
                steps.append(key)
                _collect(item, tree[key], prefix, steps, found, limit)
                steps.pop()
            if len(found) >= limit:
                return


def unknown_key_findings(task_definition: dict[str, Any]) -> list[Finding]:
    return [unknown.finding() for unknown in unknown_keys(task_definition)]
