"""Every relative link in README.md and docs/*.md leads to a file of the repository, and every
#anchor to a heading of its page (GitHub's slugs), so moving a section cannot strand a link."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.doc_pages import DOCS, README

PAGES = [README, *sorted(DOCS.glob("*.md"))]
LINK_RE = re.compile(r"\]\(([^)\s]+)\)")
HTML_ANCHOR_RE = re.compile(r'<a id="([^"]+)"></a>')


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but - and _ dropped, spaces to -."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text, fenced, found = path.read_text(), False, set()
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            found.add(slug(line.lstrip("#")))
        elif not fenced:
            found.update(HTML_ANCHOR_RE.findall(line))  # <a id="..."></a>, as the runbook's alarm anchors
    return found


def links() -> list[tuple[str, str]]:
    return [
        (path.relative_to(REPO).as_posix(), target)
        for path in PAGES
        for target in LINK_RE.findall(path.read_text())
        if not target.startswith(("http://", "https://", "mailto:"))
    ]


@pytest.mark.parametrize(("page", "target"), links())
def test_relative_link_resolves(page, target):
    file, _, anchor = target.partition("#")
    source = REPO / page
    destination = (source.parent / file).resolve() if file else source
    assert destination.exists(), f"{page}: {target}: no such file"
    assert REPO in destination.parents or destination == REPO
    if anchor:
        assert destination.suffix == ".md", f"{page}: {target}: anchor into a file that is not a page"
        assert anchor in anchors(destination), f"{page}: {target}: no such heading"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {target.partition("#")[0] for page, target in links() if page == "README.md"}
    assert {f"docs/{p.name}" for p in DOCS.glob("*.md")} <= linked
