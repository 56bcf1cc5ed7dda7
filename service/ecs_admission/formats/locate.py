"""JSON pointer -> line number in the file a task definition came from.

Findings carry an RFC 6901 pointer into the *normalised* task definition; annotations and SARIF
want a file and a line. Normalisation keeps keys and array order (it only drops nulls and
read-only fields), so the pointer is valid in the source once we know where the task definition
sits in it (bare, under `taskDefinition`, inside an envelope or an AdmissionReview).

The locator never raises: a line it cannot find is None and the caller reports the file alone.
"""

from __future__ import annotations

import bisect
import json
import re
from typing import Any

import yaml

# Where the task definition can sit in each accepted input shape (docs/input-shapes.md).
TASK_DEFINITION_ROOTS = (
    "",
    "/taskDefinition",
    "/taskDefinition/taskDefinition",
    "/request/object",
    "/request/object/taskDefinition",
    "/request/object/taskDefinition/taskDefinition",
)

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_LITERALS = ("true", "false", "null")
MAX_INDEXED = 200_000


def split_pointer(pointer: str) -> list[str]:
    """RFC 6901 reference tokens of a pointer ("" is the whole document)."""
    if not pointer:
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def join_pointer(tokens: list[str]) -> str:
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)


class _JsonIndexer:
    """One pass over JSON text recording the line of every member key and array element."""

    def __init__(self, text: str):
        self.text = text
        self.newlines = [index for index, char in enumerate(text) if char == "\n"]
        self.lines: dict[str, int] = {}

    def line_of(self, offset: int) -> int:
        return bisect.bisect_left(self.newlines, offset) + 1

    def skip(self, pos: int) -> int:
        return _WHITESPACE.match(self.text, pos).end()  # type: ignore[union-attr]

    def record(self, pointer: str, offset: int) -> None:
        if len(self.lines) >= MAX_INDEXED:
            raise ValueError("document too large to index")
        self.lines[pointer] = self.line_of(offset)

    def value(self, pos: int, pointer: str, depth: int = 0) -> int:
        """Index the value starting at pos; return the offset just after it."""
        if depth > 256:
            raise ValueError("document too deep to index")
        text = self.text
        char = text[pos : pos + 1]
        if char == "{":
            pos = self.skip(pos + 1)
            if text[pos : pos + 1] == "}":
                return pos + 1
            while True:
                key_start = pos
                key, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
                child = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
                self.record(child, key_start)
                pos = self.skip(pos)
                if text[pos : pos + 1] != ":":
                    raise ValueError(f"expected ':' at offset {pos}")
                pos = self.value(self.skip(pos + 1), child, depth + 1)
                pos = self.skip(pos)
                if text[pos : pos + 1] == ",":
                    pos = self.skip(pos + 1)
                    continue
                if text[pos : pos + 1] == "}":
                    return pos + 1
                raise ValueError(f"expected ',' or '}}' at offset {pos}")
        if char == "[":
            pos = self.skip(pos + 1)
            if text[pos : pos + 1] == "]":
                return pos + 1
            index = 0
            while True:
                child = f"{pointer}/{index}"
                self.record(child, pos)
                pos = self.skip(self.value(pos, child, depth + 1))
                index += 1
                if text[pos : pos + 1] == ",":
                    pos = self.skip(pos + 1)
                    continue
                if text[pos : pos + 1] == "]":
                    return pos + 1
                raise ValueError(f"expected ',' or ']' at offset {pos}")
        if char == '"':
            return json.decoder.scanstring(text, pos + 1)[1]  # type: ignore[attr-defined]
        for literal in _LITERALS:
            if text.startswith(literal, pos):
                return pos + len(literal)
        match = _NUMBER.match(text, pos)
        if match and match.end() > pos:
            return match.end()
        raise ValueError(f"unexpected character at offset {pos}")


def index_json(text: str) -> dict[str, int]:
    """Every pointer in a JSON document mapped to its line (1-based); "" is the document itself."""
    indexer = _JsonIndexer(text.lstrip("\ufeff"))
    start = indexer.skip(0)
    indexer.record("", start)
    indexer.value(start, "")
    return indexer.lines


def _yaml_child(node: Any, token: str) -> tuple[Any, int] | None:
    """The child node a pointer token selects and the line it is declared on."""
    if token.startswith("Fn::") and node.tag == "!" + token[4:]:
        # A CloudFormation short form (`!If [...]`) is the long form's `Fn::If` key: the same node.
        return node, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == token:
                return value_node, key_node.start_mark.line + 1
        return None
    if isinstance(node, yaml.SequenceNode) and token.isdigit():
        index = int(token)
        if index < len(node.value):
            item = node.value[index]
            return item, item.start_mark.line + 1
    return None


class SourceLocator:
    """Lines of pointers in one JSON or YAML source file."""

    def __init__(self, source: bytes, name: str = ""):
        self._source = source
        self._name = name.lower()
        self._json: dict[str, int] | None = None
        self._yaml: Any = None
        self._kind: str | None = None
        self._root: str | None = None

    def _load(self) -> str:
        if self._kind is not None:
            return self._kind
        self._kind = "none"
        try:
            text = self._source.decode("utf-8")
        except UnicodeDecodeError:
            return self._kind
        stripped = text.lstrip("\ufeff \t\r\n")
        as_json = not self._name.endswith((".yaml", ".yml")) and (
            self._name.endswith(".json") or stripped[:1] in ("{", "[")
        )
        try:
            if as_json:
                self._json = index_json(text)
                self._kind = "json"
            else:
                self._yaml = yaml.compose(text, Loader=yaml.SafeLoader)
                self._kind = "yaml" if self._yaml is not None else "none"
        except (ValueError, IndexError, yaml.YAMLError, RecursionError):
            self._kind = "none"
        return self._kind

    def _find(self, tokens: list[str]) -> tuple[int | None, bool]:
        """Line of the deepest existing prefix of tokens, and whether the whole path exists."""
        kind = self._load()
        if kind == "json":
            assert self._json is not None
            for length in range(len(tokens), -1, -1):
                line = self._json.get(join_pointer(tokens[:length]))
                if line is not None:
                    return line, length == len(tokens)
            return None, False
        if kind == "yaml":
            node = self._yaml
            line = node.start_mark.line + 1
            for token in tokens:
                child = _yaml_child(node, token)
                if child is None:
                    return line, False
                node, line = child
            return line, True
        return None, False

    def task_definition_root(self) -> list[str]:
        if self._root is None:
            self._root = ""
            for root in TASK_DEFINITION_ROOTS:
                tokens = [*split_pointer(root), "containerDefinitions"]
                if self._find(tokens)[1]:
                    self._root = root
                    break
        return split_pointer(self._root)

    def line(self, pointer: str) -> int | None:
        """Line of the field a finding's pointer names, else of its nearest existing parent."""
        try:
            tokens = split_pointer(pointer)
            return self._find(self.task_definition_root() + tokens)[0]
        except (ValueError, RecursionError):
            return None
