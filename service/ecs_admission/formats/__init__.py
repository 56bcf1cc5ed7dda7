"""Output formats of `ecs-admission check`: one module each, one `render(results, context) -> str`.

text and json are for people and scripts; github, sarif and junit are for the CI systems that
read them (Actions annotations and job summary, code scanning, CodeBuild test reports).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from ecs_admission.formats.result import CheckResult, RenderContext, Source

Renderer = Callable[[Sequence[CheckResult], RenderContext], str]


def _renderer(module: str) -> Renderer:
    """formats/<module>.py's render, imported when it first renders: a cold `check` loads only its own format."""

    def render(results: Sequence[CheckResult], context: RenderContext) -> str:
        return importlib.import_module(f"{__name__}.{module}").render(results, context)

    return render


FORMATS: dict[str, Renderer] = {
    "text": _renderer("text"),
    "json": _renderer("json_out"),
    "github": _renderer("github"),
    "sarif": _renderer("sarif"),
    "junit": _renderer("junit"),
}
# What a --report FORMAT=FILE file is usually called, for docs and the GitHub action.
EXTENSIONS = {"text": "txt", "json": "json", "github": "txt", "sarif": "sarif", "junit": "xml"}


def render(name: str, results: Sequence[CheckResult], context: RenderContext) -> str:
    return FORMATS[name](results, context)


__all__ = ["EXTENSIONS", "FORMATS", "CheckResult", "RenderContext", "Source", "render"]
