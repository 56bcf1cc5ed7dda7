"""Output formats of `ecs-admission check`: one module each, one `render(results, context) -> str`.

text and json are for people and scripts; github, sarif and junit are for the CI systems that
read them (Actions annotations and job summary, code scanning, CodeBuild test reports).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ecs_admission.formats import github, json_out, junit, sarif, text
from ecs_admission.formats.result import CheckResult, RenderContext, Source

Renderer = Callable[[Sequence[CheckResult], RenderContext], str]

FORMATS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_out.render,
    "github": github.render,
    "sarif": sarif.render,
    "junit": junit.render,
}
# What a --report FORMAT=FILE file is usually called, for docs and the GitHub action.
EXTENSIONS = {"text": "txt", "json": "json", "github": "txt", "sarif": "sarif", "junit": "xml"}


def render(name: str, results: Sequence[CheckResult], context: RenderContext) -> str:
    return FORMATS[name](results, context)


__all__ = ["EXTENSIONS", "FORMATS", "CheckResult", "RenderContext", "Source", "render"]
