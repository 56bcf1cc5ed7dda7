"""A package's names imported from their modules when first asked for (PEP 562).

The CloudFormation and Terraform packages keep the names the rest of the service imports from
them, but a `check` of a task definition asks only is_template / is_plan: the machinery behind
the other names loads when one of them is used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, sources: Mapping[str, str]) -> Callable[[str], Any]:
    """The package's module `__getattr__`: `sources` maps each name to the submodule defining it."""

    def __getattr__(name: str) -> Any:
        module = sources.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # asked once: later lookups find it directly
        return value

    return __getattr__
