"""YAML: short-form intrinsics become the long form, on the same safe, duplicate-refusing loader."""

from __future__ import annotations

from typing import Any

import yaml

from ecs_admission.parsing.safe_yaml import SafeLoader, construct_mapping

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


class TemplateLoader(SafeLoader):
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
            value = construct_mapping(loader, node, deep=True)
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
