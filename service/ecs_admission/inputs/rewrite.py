"""Write a patched document back in the form it came in: JSON stays JSON, YAML stays YAML.

The patch is applied to a round-trip view of the file, not to the parsed values, so keys keep
their order and YAML keeps its comments, quoting, flow collections and CloudFormation's short-form
tags (`!Ref`, `!GetAtt`). The layout (JSON indentation, YAML sequence indentation) is the one
that reproduces the unpatched file, found by trying the usual ones.

What is written is checked: parsed again with the gate's own parser it must be exactly the
patched document. When the round trip cannot guarantee that (YAML anchors shared by a patched
node, a layout none of the candidates reproduces), the document is written plainly instead
(same order, comments lost) and the caller is told why.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from ecs_admission.errors import InputError
from ecs_admission.inputs.parse import parse_file_bytes
from ecs_admission.inputs.patch import PatchError, apply

# (mapping, sequence, offset) indentations tried for YAML: block sequences flush with their key
# ("key:\n- a"), indented by two ("key:\n  - a"), and four-space styles.
YAML_LAYOUTS = ((2, 2, 0), (2, 4, 2), (4, 4, 0), (4, 6, 4), (4, 4, 2), (2, 3, 1))
JSON_INDENTS: tuple[int | str | None, ...] = (2, 4, None, "\t", 3, 1, 8)


@dataclass
class Rewritten:
    text: str
    # Why the file was written plainly (comments or layout lost), or None when the round trip held.
    degraded: str | None = None


def is_yaml(raw: bytes, name: str) -> bool:
    lowered = name.lower()
    if lowered.endswith((".yaml", ".yml")):
        return True
    if lowered.endswith(".json"):
        return False
    return raw.lstrip()[:1] not in (b"{", b"[")


def _json_layout(text: str, document: Any) -> tuple[int | str | None, bool, str]:
    """The indent and ASCII escaping that reproduce `text` (else the indent of its second line)."""
    body = text.lstrip("\ufeff")
    trailing = body[len(body.rstrip()) :]
    for ensure_ascii in (False, True):
        for indent in JSON_INDENTS:
            if json.dumps(document, indent=indent, ensure_ascii=ensure_ascii) == body.rstrip():
                return indent, ensure_ascii, trailing
    lines = [line for line in body.splitlines()[1:] if line.strip()]
    indent: int | str | None = None
    if lines:
        lead = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
        indent = lead if lead.startswith("\t") else (len(lead) or None)
    return indent, not any(ord(c) > 127 for c in body), trailing or "\n"


_SPACE = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")


class _Spans:
    """Where each value (and each object member's key) of a JSON text starts and ends."""

    def __init__(self, text: str):
        self.text = text
        self.values: dict[str, tuple[int, int]] = {}
        self.starts: dict[str, int] = {}  # a member's key, or an element's value
        self.children: dict[str, list[str]] = {}
        self._value(_SPACE.match(text, 0).end(), "")  # type: ignore[union-attr]

    def _skip(self, pos: int) -> int:
        return _SPACE.match(self.text, pos).end()  # type: ignore[union-attr]

    def _value(self, pos: int, pointer: str) -> int:
        text, start = self.text, pos
        char = text[pos]
        if char in "{[":
            closing = "}" if char == "{" else "]"
            kids = self.children.setdefault(pointer, [])
            pos = self._skip(pos + 1)
            index = 0
            while text[pos] != closing:
                if char == "{":
                    key, after = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
                    child = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
                    self.starts[child] = pos
                    pos = self._skip(self._skip(after) + 1)  # past the ':'
                else:
                    child = f"{pointer}/{index}"
                    self.starts[child] = pos
                    index += 1
                kids.append(child)
                pos = self._skip(self._value(pos, child))
                if text[pos] == ",":
                    pos = self._skip(pos + 1)
            end = pos + 1
        elif char == '"':
            end = json.decoder.scanstring(text, pos + 1)[1]  # type: ignore[attr-defined]
        else:
            match = _SCALAR.match(text, pos)
            if match is None or match.end() == pos:
                raise ValueError(f"unexpected character at offset {pos}")
            end = match.end()
        self.values[pointer] = (start, end)
        return end


def _edit_json(text: str, op: dict[str, Any], ensure_ascii: bool) -> str | None:
    """`text` with one remove or replace made in place, or None when that cannot be done by an edit."""
    spans = _Spans(text)
    path = op["path"]
    if path not in spans.values or not path:
        return None
    if op["op"] == "replace":
        start, end = spans.values[path]
        return text[:start] + json.dumps(op["value"], ensure_ascii=ensure_ascii) + text[end:]
    if op["op"] != "remove":
        return None
    parent = path.rsplit("/", 1)[0]
    siblings = spans.children[parent]
    at = siblings.index(path)
    if at + 1 < len(siblings):  # up to the next sibling: its indentation takes this one's place
        return text[: spans.starts[path]] + text[spans.starts[siblings[at + 1]] :]
    if at > 0:  # the last one: from the end of the one before, so its comma goes too
        return text[: spans.values[siblings[at - 1]][1]] + text[spans.values[path][1] :]
    start, end = spans.values[parent]  # the only one: the collection becomes empty
    return text[: start + 1] + text[end - 1 :]


def rewrite_json(raw: bytes, ops: list[dict[str, Any]], patched: Any) -> Rewritten:
    """Removals and replacements are made as edits of the text, so everything else (its layout,
    compact arrays, number spellings) stays byte for byte; anything else re-serialises the document
    in the layout that reproduces the original."""
    text = raw.decode("utf-8-sig")
    edited: str | None = text
    ascii_only = all(ord(c) < 128 for c in text)
    try:
        for op in ops:
            if op["op"] == "test":
                continue
            edited = _edit_json(edited, op, ascii_only) if edited is not None else None
        if edited is not None and json.loads(edited) == patched:
            return Rewritten(edited)
    except (ValueError, IndexError, KeyError, RecursionError):
        pass
    indent, ensure_ascii, trailing = _json_layout(text, json.loads(text))
    return Rewritten(json.dumps(patched, indent=indent, ensure_ascii=ensure_ascii) + trailing)


def _yaml(layout: tuple[int, int, int]) -> Any:
    from ruamel.yaml import YAML

    handler = YAML(typ="rt")
    handler.preserve_quotes = True
    handler.width = 1 << 20  # never re-wrap a long line: only the patched fields change
    handler.indent(mapping=layout[0], sequence=layout[1], offset=layout[2])
    return handler


def _dump(handler: Any, document: Any) -> str:
    out = io.StringIO()
    handler.dump(document, out)
    return out.getvalue()


def _yaml_make(value: Any) -> Any:
    return copy.deepcopy(value)


@functools.lru_cache(maxsize=16)
def _layout(text: str) -> tuple[int, int, int]:
    """The YAML layout whose dump of the unpatched file is closest to it (the first that reproduces it).

    Cached by text: a report asks once per finding of the same file.
    """
    tree = _yaml(YAML_LAYOUTS[0]).load(text)
    lines = text.splitlines()
    best, best_score = YAML_LAYOUTS[0], -1.0
    for layout in YAML_LAYOUTS:
        again = _dump(_yaml(layout), tree)
        if again == text:
            return layout
        score = sum(a == b for a, b in zip(again.splitlines(), lines, strict=False)) / max(len(lines), 1)
        if score > best_score:
            best, best_score = layout, score
    return best


def rewrite_yaml(raw: bytes, ops: list[dict[str, Any]], patched: Any) -> Rewritten:
    from ruamel.yaml.error import YAMLError

    text = raw.decode("utf-8-sig")
    try:
        handler = _yaml(_layout(text))
        tree = handler.load(text)
        if _patches_anchored(tree, ops):
            return Rewritten(_plain_yaml(patched), "a patched field sits under a YAML anchor other fields share")
        tree = apply(tree, ops, make=_yaml_make)
        written = _dump(handler, tree)
    except (YAMLError, PatchError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        return Rewritten(_plain_yaml(patched), f"the YAML round trip failed ({type(exc).__name__})")
    try:
        same = parse_file_bytes(written.encode(), "fixed.yaml") == patched
    except InputError:
        same = False
    if not same:
        return Rewritten(_plain_yaml(patched), "the YAML round trip did not reproduce the patched document")
    return Rewritten(written)


def _patches_anchored(tree: Any, ops: list[dict[str, Any]]) -> bool:
    """Whether a patched path passes through a node with an anchor (an alias elsewhere shares it)."""
    from ecs_admission.inputs.patch import split_pointer

    for op in ops:
        node = tree
        for token in split_pointer(op["path"])[:-1]:
            anchor = getattr(node, "anchor", None)
            if anchor is not None and getattr(anchor, "value", None):
                return True
            try:
                node = node[int(token)] if isinstance(node, list) else node[token]
            except (KeyError, IndexError, ValueError, TypeError):
                break
        anchor = getattr(node, "anchor", None)
        if anchor is not None and getattr(anchor, "value", None):
            return True
    return False


def _plain_yaml(document: Any) -> str:
    import yaml

    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1 << 20)


def rewrite(raw: bytes, name: str, ops: list[dict[str, Any]], patched: Any) -> Rewritten:
    """The file `raw` (named `name`) with `ops` applied; `patched` is the parsed document they give.

    No operation: the bytes as they are, so fixing a fixed file changes nothing.
    """
    if not ops:
        return Rewritten(raw.decode("utf-8-sig"))
    if is_yaml(raw, name):
        return rewrite_yaml(raw, ops, patched)
    return rewrite_json(raw, ops, patched)
