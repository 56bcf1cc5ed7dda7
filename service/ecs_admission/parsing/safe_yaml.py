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
