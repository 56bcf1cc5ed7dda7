"""Terraform resource addresses: `module.api["blue"].aws_ecs_task_definition.this[0]` in parts.

A plan names every resource instance by its address; the configuration names resources without
instance keys, module by module. Reading one against the other needs the address in parts: the
module instances it sits in, and its mode, type, name and key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
# An instance key: a number (count) or a JSON-quoted string (for_each), which may hold dots or brackets.
_KEY = r"\[(?:\d+|\"(?:[^\"\\]|\\.)*\")\]"
_STEP = re.compile(rf"({_NAME})({_KEY})?")
MAX_ADDRESS_CHARS = 1024


@dataclass(frozen=True)
class Address:
    modules: tuple[tuple[str, str], ...]  # (name, key as written, "" without one) per module instance
    mode: str  # "managed" or "data"
    type: str
    name: str
    key: str  # "" without an instance key

    @property
    def module(self) -> str:
        """The module instance address: `module.api["blue"]`, "" for the root module."""
        return ".".join(f"module.{name}{key}" for name, key in self.modules)

    @property
    def config_path(self) -> tuple[str, ...]:
        """The module calls leading to the configuration of this resource (instance keys dropped)."""
        return tuple(name for name, _ in self.modules)

    @property
    def resource(self) -> str:
        """The resource's configuration address within its module: `aws_iam_role.task`, `data.x.y`."""
        prefix = "data." if self.mode == "data" else ""
        return f"{prefix}{self.type}.{self.name}"

    def __str__(self) -> str:
        own = f"{self.resource}{self.key}"
        return f"{self.module}.{own}" if self.modules else own


def key_value(key: str) -> int | str | None:
    """The instance key as the plan's `index` field holds it: 0, "blue", or None."""
    if not key:
        return None
    inner = key[1:-1]
    return int(inner) if inner.isdigit() else json.loads(inner)


def key_text(index: int | str | None) -> str:
    if index is None:
        return ""
    if isinstance(index, int) and not isinstance(index, bool):
        return f"[{index}]"
    return f"[{json.dumps(str(index))}]"


def steps(text: str) -> list[tuple[str, str]] | None:
    """`module.a["x"].aws_iam_role.r[0].arn` as [(module, ""), (a, '["x"]'), ...]; None if it is not one."""
    if len(text) > MAX_ADDRESS_CHARS:
        return None
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None:
            return None
        found.append((match.group(1), match.group(2) or ""))
        position = match.end()
        if position < len(text):
            if text[position] != ".":
                return None
            position += 1
    return found


def parse_address(text: str) -> Address | None:
    """A resource instance address, or None when `text` is not one."""
    parts = steps(text)
    if not parts:
        return None
    modules: list[tuple[str, str]] = []
    index = 0
    while index + 1 < len(parts) and parts[index] == ("module", ""):
        modules.append(parts[index + 1])
        index += 2
    rest = parts[index:]
    mode = "managed"
    if rest and rest[0] == ("data", ""):
        mode, rest = "data", rest[1:]
    if len(rest) != 2 or rest[0][1]:
        return None
    (kind, _), (name, key) = rest
    return Address(tuple(modules), mode, kind, name, key)


def module_address(modules: tuple[tuple[str, str], ...]) -> str:
    return ".".join(f"module.{name}{key}" for name, key in modules)


def split_path(path: str) -> tuple[str, str]:
    """`aws_iam_role.task.inline_policy[0].policy` as ("aws_iam_role.task", "inline_policy[0].policy")."""
    best = ("", path)
    depth = 0
    quoted = False
    for index, char in enumerate(path):
        if char == '"' and (index == 0 or path[index - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char == "[":
            depth += 1
        elif not quoted and char == "]":
            depth -= 1
        elif not quoted and depth == 0 and char == ".":
            prefix = path[:index]
            if parse_address(prefix) is not None:
                best = (prefix, path[index + 1 :])
    if parse_address(path) is not None:
        best = (path, "")
    return best
