"""Bytes to a JSON-compatible document: JSON or YAML, with the limits a gate needs.

Both parsers reject what would make the evaluated document differ from what AWS registers
(duplicate keys, NaN, infinities, integers no engine represents exactly, lone UTF-16 surrogates
that cannot be encoded) or what could be used to exhaust a worker (deep nesting, huge alias
expansion, integers with thousands of digits), and both return only JSON types so every engine
sees the same input. Every limit is checked before anything walks the document recursively.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

import yaml

from ecs_admission.errors import InputError

MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_ALIASES = 100
# YAML builds Python objects node by node (~10 us a collection even with libyaml), where JSON's C
# decoder takes well under 1 us: 20,000 nodes keep the worst YAML body within the 1 s budget
# on 2 busy cores (docs/hardening.md). Hand-written templates hold a few thousand; large generated
# templates are JSON (CDK synthesises JSON), which keeps MAX_NODES.
MAX_YAML_NODES = 20_000
# Signed 64-bit: what OPA holds exactly; ECS's own integer fields are 32-bit.
MIN_INT, MAX_INT = -(2**63), 2**63 - 1
# Only a \uD800-\uDFFF escape can put a lone surrogate into a decoded JSON string; checking the
# text for one first keeps the per-string check off the common path.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")

JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InputError(f"duplicate key {key!r}: ambiguous, AWS would keep only one", field=key)
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise InputError(f"{name} is not valid JSON")


def _decode(raw: bytes | str) -> str:
    try:
        return raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise InputError(f"body is not UTF-8: {exc.reason} at byte {exc.start}", error="invalid_encoding") from None


def parse_json(raw: bytes | str, where: str | None = None) -> Any:
    """JSON text to a document within every limit; `where` names the field the text came from."""
    if where is None:
        return _parse_json(raw)
    try:
        return _parse_json(raw)
    except InputError as exc:
        # A string holding JSON (a role's policy document): the caller must learn which field it was.
        raise InputError(exc.problem, field=where, error=exc.error) from None


def _parse_json(raw: bytes | str) -> Any:
    text = _decode(raw)
    try:
        document = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", error="invalid_json"
        ) from None
    except RecursionError:
        raise InputError(f"JSON nested deeper than {MAX_DEPTH} levels", error="too_deep") from None
    except InputError:
        raise
    except ValueError:
        # int() refuses numbers of more than 4300 digits (CPython's guard against quadratic parsing).
        raise InputError("not valid JSON: a number has more than 4300 digits", error="invalid_json") from None
    return check_shape_limits(document, check_strings=bool(_SURROGATE_ESCAPE.search(text)))


class _SafeLoader(yaml.SafeLoader):
    """SafeLoader (no object-constructing tags) that also refuses duplicate keys."""


def _construct_mapping(loader: _SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool):
            raise InputError(f"YAML key at line {key_node.start_mark.line + 1} is not a scalar", error="invalid_yaml")
        key = str(key) if not isinstance(key, str) else key
        if key in result:
            raise InputError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}: ambiguous", field=key)
        result[key] = loader.construct_object(value_node, deep=deep)
    return result


_SafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


_C_LOADERS: dict[type, type] = {}


def _yaml_loader() -> type:
    """The safe loader plus CloudFormation's short-form intrinsics (!Ref, !Sub, ...) as long-form objects.

    With libyaml, the same constructors on libyaml's C parser: PyYAML's pure-Python scanner is
    quadratic on nested flow collections (8 KB took 5 s), libyaml's is linear. The constructors,
    and so the duplicate-key check, are the Python ones either way.
    """
    from ecs_admission.inputs.cloudformation import TemplateLoader

    if not yaml.__with_libyaml__:
        return TemplateLoader
    loader = _C_LOADERS.get(TemplateLoader)
    if loader is None:
        loader = type("CTemplateLoader", (yaml.CSafeLoader,), {})
        loader.yaml_constructors = dict(TemplateLoader.yaml_constructors)
        loader.yaml_multi_constructors = dict(TemplateLoader.yaml_multi_constructors)
        _C_LOADERS[TemplateLoader] = loader
    return loader


_OPEN_EVENTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE_EVENTS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _prescan(raw: str) -> None:
    """Depth, node and alias counts from the parser's events, before any object is built.

    Linear (libyaml's parser where available) and it stops at the first limit passed, so a body
    of 100,000 nested brackets or of a billion-laughs alias chain costs no more than a small one.
    """
    parser = yaml.CSafeLoader(raw) if yaml.__with_libyaml__ else yaml.SafeLoader(raw)
    depth = nodes = aliases = 0
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, _OPEN_EVENTS):
                depth += 1
                nodes += 1
                if depth > MAX_DEPTH:
                    raise InputError(f"YAML nested deeper than {MAX_DEPTH} levels", error="too_deep")
            elif isinstance(event, _CLOSE_EVENTS):
                depth -= 1
            elif isinstance(event, yaml.ScalarEvent):
                nodes += 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise InputError(f"YAML uses more than {MAX_ALIASES} aliases", error="invalid_yaml")
            if nodes > MAX_YAML_NODES:
                raise InputError(f"YAML document has more than {MAX_YAML_NODES} nodes", error="too_large")
    finally:
        parser.dispose()


def parse_yaml(raw: bytes | str) -> Any:
    text = _decode(raw)
    try:
        _prescan(text)
        documents = list(yaml.load_all(text, Loader=_yaml_loader()))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"not valid YAML: {problem}{where}", error="invalid_yaml") from None
    except RecursionError:
        raise InputError(f"YAML nested deeper than {MAX_DEPTH} levels", error="too_deep") from None
    except InputError:
        raise
    except ValueError as exc:
        if "digits" in str(exc):  # int() refuses more than 4300 digits
            raise InputError("not valid YAML: a number has more than 4300 digits", error="invalid_yaml") from None
        raise InputError("not valid YAML: a value does not match its tag or type", error="invalid_yaml") from None
    except (TypeError, AttributeError, KeyError, IndexError, OverflowError):
        # PyYAML's constructors fail this way on explicitly tagged scalars they cannot read
        # (`!!timestamp x`, `!!bool maybe`; found by the fuzz suite): bad input, not a server error.
        raise InputError("not valid YAML: a value does not match its tag", error="invalid_yaml") from None
    if len(documents) != 1:
        raise InputError(f"expected one YAML document, found {len(documents)}", error="invalid_yaml")
    # Limits first: aliases share objects, so the constructed graph is small but a walk over it
    # (billion laughs) or over a self-referencing alias (`&a [*a]`) is not; the bounded walk counts
    # every path, so it stops such a document long before _jsonable would copy it.
    check_shape_limits(documents[0], check_strings=True)
    return _jsonable(documents[0])


def _jsonable(value: Any) -> Any:
    """YAML has types JSON lacks; turn them into what the same JSON document would hold."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):  # !!omap and !!pairs construct (key, value) tuples
        return [_jsonable(item) for item in value]
    if isinstance(value, set | frozenset):
        raise InputError("YAML sets (!!set) are not accepted: JSON has no sets", error="invalid_yaml")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        raise InputError("binary YAML values are not accepted", error="invalid_yaml")
    if isinstance(value, float) and value != value:  # NaN
        raise InputError("NaN is not accepted", error="invalid_yaml")
    return value


def check_shape_limits(document: Any, check_strings: bool = False) -> Any:
    """Bound nesting depth and element count iteratively, so no recursion limit is hit.

    Also refuses scalars no engine can take as given: integers outside signed 64 bits, infinite
    floats, and (with check_strings) strings or keys holding a lone UTF-16 surrogate, which cannot
    be encoded as UTF-8 and so would fail inside the engine instead of here with a 400.
    """
    stack: list[tuple[Any, int]] = [(document, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise InputError(f"document nested deeper than {MAX_DEPTH} levels", error="too_deep")
        if nodes > MAX_NODES:
            raise InputError(f"document has more than {MAX_NODES} elements", error="too_large")
        if isinstance(value, dict):
            if check_strings:
                for key in value:
                    _check_string(key)
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            if check_strings:
                _check_string(value)
        elif isinstance(value, bool):
            pass
        elif isinstance(value, int):
            if not MIN_INT <= value <= MAX_INT:
                raise InputError("integer out of range: more than 64 bits", error="invalid_number")
        elif isinstance(value, float) and not math.isfinite(value):
            raise InputError("number out of range: infinite or NaN", error="invalid_number")
    return document


def _check_string(value: Any) -> None:
    if isinstance(value, str) and _SURROGATE.search(value):
        raise InputError("string holds a lone UTF-16 surrogate: not encodable as UTF-8", error="invalid_encoding")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_body(raw: bytes, content_type: str | None) -> Any:
    """Parse an HTTP body by its declared media type; the caller has already rejected others."""
    kind = media_type(content_type)
    if kind in YAML_TYPES:
        return parse_yaml(raw)
    return parse_json(raw)


def parse_file_bytes(raw: bytes, name: str = "") -> Any:
    """Parse a file whose type is known only by name or content (CLI, pipeline artifacts)."""
    lowered = name.lower()
    if lowered.endswith((".yaml", ".yml")):
        return parse_yaml(raw)
    stripped = raw.lstrip()
    if lowered.endswith(".json") or stripped[:1] in (b"{", b"["):
        return parse_json(raw)
    return parse_yaml(raw)
