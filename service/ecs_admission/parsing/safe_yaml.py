"""The safe YAML loader every YAML input is read with: no object-constructing tags, no duplicate keys."""

from __future__ import annotations

from typing import Any

import yaml

from ecs_admission.errors import InputError


class SafeLoader(yaml.SafeLoader):
    """SafeLoader (no object-constructing tags) that also refuses duplicate keys."""


def construct_mapping(loader: SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool):
            raise InputError(f"YAML key at line {key_node.start_mark.line + 1} is not a scalar", error="invalid_yaml")
        key = str(key) if not isinstance(key, str) else key
        if key in result:
            raise InputError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}: ambiguous", field=key)
        result[key] = loader.construct_object(value_node, deep=deep)
    return result


SafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)


def yaml_problem(exc: yaml.YAMLError, line_offset: int = 0, column_offset: int = 0) -> str:
    """The parser's own words and places: "while scanning a quoted scalar at line 4 column 10, found
    unexpected end of stream at line 6 column 1". Both marks matter: for an unclosed quote the
    place to fix is where it opened (the context), not the end of the file (the problem).

    The offsets place a snippet inside a larger file (a METADATA comment block in a .rego file).
    """

    def at(mark: yaml.Mark | None) -> str:
        if mark is None:
            return ""
        return f" at line {mark.line + 1 + line_offset} column {mark.column + 1 + column_offset}"

    problem = getattr(exc, "problem", None)
    if not problem:
        return " ".join(str(exc).split())
    text = f"{problem}{at(getattr(exc, 'problem_mark', None))}"
    context = getattr(exc, "context", None)
    if context:
        text = f"{context}{at(getattr(exc, 'context_mark', None))}, {text}"
    return text
