"""How reports show a finding's proposed fix: the RFC 6902 patch as text, and as the edit it makes
to the source file (SARIF `fixes`: artifactChanges with replacements).

The edit is found by applying the fix to the source file the way `ecs-admission fix` does (order,
indentation and YAML comments kept) and comparing the two texts line by line, so each replacement
covers whole lines: what a reviewer would change by hand.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ecs_admission.decision import Finding
from ecs_admission.errors import InputError
from ecs_admission.inputs import parse_file_bytes
from ecs_admission.inputs.patch import PatchError, apply, validate
from ecs_admission.inputs.rewrite import rewrite


def fix_of(finding: Finding) -> list[dict[str, Any]] | None:
    try:
        return validate(finding.extra["fix"]) if "fix" in finding.extra else None
    except PatchError:
        return None


def patch_text(finding: Finding) -> str | None:
    """The finding's fix as one line of JSON, or None when it proposes none."""
    ops = fix_of(finding)
    return json.dumps(ops, separators=(", ", ": ")) if ops else None


def _offsets(lines: list[str]) -> list[int]:
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    return offsets


def replacements(content: bytes, name: str, ops: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The fix as SARIF replacements in the text of `content`; None when it does not apply there, or
    when the file could only be rewritten whole (a YAML round trip that would lose its comments)."""
    try:
        text = content.decode("utf-8-sig")
        document = parse_file_bytes(content, name)
        patched = apply(copy.deepcopy(document), ops)
        written = rewrite(content, name, ops, patched)
    except (InputError, PatchError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if written.degraded:
        return None
    old, new = text.splitlines(keepends=True), written.text.splitlines(keepends=True)
    offsets = _offsets(old)
    found = []
    import difflib  # only when a fix is shown: not on a cold `check` of a task definition

    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        replacement: dict[str, Any] = {
            "deletedRegion": {"charOffset": offsets[i1], "charLength": offsets[i2] - offsets[i1]}
        }
        inserted = "".join(new[j1:j2])
        if inserted:
            replacement["insertedContent"] = {"text": inserted}
        found.append(replacement)
    return found or None
