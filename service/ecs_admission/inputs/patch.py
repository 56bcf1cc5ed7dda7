"""RFC 6902 JSON Patch: check a patch a rule proposes, move it into the submitted document, apply it.

Rules propose fixes as JSON Patch operations against the normalised task definition (the paths
they already know). The gate moves those paths to where the task definition sits in the document
as it was submitted (under `taskDefinition`, `request/object`, or a template's resource) and
combines every finding's operations into one patch that any RFC 6902 library applies.

The applier here works in place on any mapping and sequence types (plain dicts and lists, or the
round-trip YAML nodes that keep a file's order and comments), so the CLI writes the same document
an RFC 6902 library would produce from the HTTP `patch`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, MutableMapping, MutableSequence
from typing import Any

OPS = ("add", "remove", "replace", "move", "copy", "test")
MAX_OPERATIONS = 200  # a fix removes or sets a handful of fields; a policy bug must not grow a request's work


class PatchError(ValueError):
    """A patch is malformed, or does not apply to the document it is meant for."""


def split_pointer(pointer: str) -> list[str]:
    """RFC 6901 reference tokens ("" is the whole document)."""
    if pointer == "":
        return []
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise PatchError(f"not a JSON pointer: {pointer!r:.80}")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def join_pointer(tokens: list[str]) -> str:
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)


def validate(ops: Any) -> list[dict[str, Any]]:
    """The operations of a patch, checked against RFC 6902's shape; PatchError says what is wrong."""
    if not isinstance(ops, list) or not ops:
        raise PatchError("a fix must be a non-empty list of JSON Patch operations")
    if len(ops) > MAX_OPERATIONS:
        raise PatchError(f"a fix holds {len(ops)} operations, more than {MAX_OPERATIONS}")
    checked = []
    for index, op in enumerate(ops):
        if not isinstance(op, dict) or op.get("op") not in OPS:
            raise PatchError(f"operation {index} is not an object with op one of {', '.join(OPS)}")
        split_pointer(op.get("path"))  # type: ignore[arg-type]
        if op["op"] in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"operation {index} ({op['op']}) has no value")
        if op["op"] in ("move", "copy"):
            split_pointer(op.get("from"))  # type: ignore[arg-type]
        allowed = {"op", "path", "value", "from"}
        checked.append({key: op[key] for key in ("op", "path", "from", "value") if key in op and key in allowed})
    return checked


def prefixed(ops: list[dict[str, Any]], translate: Callable[[str], str | None]) -> list[dict[str, Any]] | None:
    """The operations with every pointer translated (None when one cannot be)."""
    moved = []
    for op in ops:
        op = dict(op)
        for key in ("path", "from"):
            if key in op:
                target = translate(op[key])
                if target is None:
                    return None
                op[key] = target
        moved.append(op)
    return moved


def _sort_key(op: dict[str, Any]) -> tuple[tuple[int, Any], ...]:
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in split_pointer(op["path"]))


def combine(fixes: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One patch from several fixes, each kept whole (its `test` before its change).

    Fixes are applied deepest and last-indexed first: removing element 3 of an array before element
    1 leaves element 1 where the rule saw it, and a field is changed before anything above it. The
    same fix proposed twice (two findings about one field) is applied once.
    """
    unique: list[list[dict[str, Any]]] = []
    for fix in fixes:
        if fix not in unique:
            unique.append(fix)
    ordered = sorted(unique, key=lambda fix: max(_sort_key(op) for op in fix), reverse=True)
    return [op for fix in ordered for op in fix]


def _parent(document: Any, tokens: list[str], pointer: str) -> Any:
    node = document
    for token in tokens[:-1]:
        node = _child(node, token, pointer)
    return node


def _index(node: MutableSequence[Any], token: str, pointer: str, adding: bool = False) -> int:
    if adding and token == "-":
        return len(node)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"{pointer}: {token!r} is not an array index")
    index = int(token)
    if index > len(node) or (index == len(node) and not adding):
        raise PatchError(f"{pointer}: index {index} is past the end of the array")
    return index


def _child(node: Any, token: str, pointer: str) -> Any:
    if isinstance(node, MutableMapping):
        if token not in node:
            raise PatchError(f"{pointer}: no member {token!r}")
        return node[token]
    if isinstance(node, MutableSequence) and not isinstance(node, str):
        return node[_index(node, token, pointer)]
    raise PatchError(f"{pointer}: {token!r} is below a value that is neither an object nor an array")


def _get(document: Any, pointer: str) -> Any:
    node = document
    for token in split_pointer(pointer):
        node = _child(node, token, pointer)
    return node


def _remove(document: Any, pointer: str) -> Any:
    tokens = split_pointer(pointer)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _parent(document, tokens, pointer)
    if isinstance(parent, MutableMapping):
        if tokens[-1] not in parent:
            raise PatchError(f"{pointer}: no member {tokens[-1]!r} to remove")
        return parent.pop(tokens[-1])
    if isinstance(parent, MutableSequence) and not isinstance(parent, str):
        return parent.pop(_index(parent, tokens[-1], pointer))
    raise PatchError(f"{pointer}: the parent is neither an object nor an array")


def _add(document: Any, pointer: str, value: Any, replace: bool = False) -> Any:
    tokens = split_pointer(pointer)
    if not tokens:
        if replace:
            return value
        raise PatchError("replacing the whole document is not a fix")
    parent = _parent(document, tokens, pointer)
    token = tokens[-1]
    if isinstance(parent, MutableMapping):
        if replace and token not in parent:
            raise PatchError(f"{pointer}: no member {token!r} to replace")
        parent[token] = value
    elif isinstance(parent, MutableSequence) and not isinstance(parent, str):
        index = _index(parent, token, pointer, adding=not replace)
        if replace:
            parent[index] = value
        else:
            parent.insert(index, value)
    else:
        raise PatchError(f"{pointer}: the parent is neither an object nor an array")
    return document


def _plain(value: Any) -> Any:
    """A value as JSON sees it, whatever mapping or sequence types hold it (for `test`)."""
    if isinstance(value, MutableMapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, MutableSequence) and not isinstance(value, str):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _equal(left: Any, right: Any) -> bool:
    # RFC 6902 compares JSON values: 1 and true are different values, though Python says equal.
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right, strict=True))
    return left == right


def apply(document: Any, ops: list[dict[str, Any]], make: Callable[[Any], Any] = copy.deepcopy) -> Any:
    """Apply the operations to `document` in place and return it (a `replace` of "" returns the new root).

    `make` turns a patch value into the document's own node type (a plain deep copy by default).
    PatchError on the first operation that does not apply; the document may then be half-changed,
    so callers apply to a copy.
    """
    for op in ops:
        kind, path = op["op"], op["path"]
        if kind == "test":
            if not _equal(_plain(_get(document, path)), op["value"]):
                raise PatchError(f"{path}: test failed, the document holds another value")
        elif kind == "remove":
            _remove(document, path)
        elif kind == "add":
            document = _add(document, path, make(op["value"]))
        elif kind == "replace":
            document = _add(document, path, make(op["value"]), replace=True)
        elif kind == "move":
            if path.startswith(op["from"] + "/"):
                raise PatchError(f"{path}: cannot move a value into itself")
            value = _remove(document, op["from"])
            document = _add(document, path, value)
        elif kind == "copy":
            document = _add(document, path, copy.deepcopy(_get(document, op["from"])))
    return document
