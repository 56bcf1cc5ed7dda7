"""CloudFormation YAML for tests: short-form intrinsics (!Ref, !Sub, ...) read as their long forms,
and the few intrinsics our policy documents use resolved against given parameter values."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        value = value.split(".", 1) if suffix == "GetAtt" else value
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _intrinsic)


def load(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_Loader)  # a SafeLoader with constructors for the ! tags only


def resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """Resolve Ref, Fn::Sub (both forms), Fn::Join and Fn::Split; anything else is left as it is."""
    if isinstance(value, list):
        return [resolve(item, parameters) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return parameters[value["Ref"]]
    if set(value) == {"Fn::Join"}:
        separator, items = value["Fn::Join"]
        return separator.join(resolve(items, parameters))
    if set(value) == {"Fn::Split"}:
        separator, text = value["Fn::Split"]
        return resolve(text, parameters).split(separator)
    if set(value) == {"Fn::Sub"}:
        text, names = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        scope = {**parameters, **{k: resolve(v, parameters) for k, v in names.items()}}
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(scope[m.group(1)]), text)
    return {key: resolve(item, parameters) for key, item in value.items()}
