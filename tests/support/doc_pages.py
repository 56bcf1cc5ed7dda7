"""The documentation as the tests read it: README.md and docs/*.md, split by Markdown headings."""

from __future__ import annotations

import re

from tests.conftest import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"


def page(name: str) -> str:
    """README.md, or a page under docs/ by file name."""
    return (README if name == "README.md" else DOCS / name).read_text()


def section(text: str, heading: str) -> str:
    """The body under `heading` (e.g. "## CodeBuild") up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.split("\n")
    start = lines.index(heading) + 1
    fenced = False  # a "# comment" inside a code block is not a heading
    for index in range(start, len(lines)):
        if lines[index].startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"#{{1,{level}}} ", lines[index]):
            return "\n".join(lines[start:index])
    return "\n".join(lines[start:])


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)\n```", text, re.DOTALL)
