"""Bytes to a JSON-compatible document: JSON or YAML, with the limits a gate needs.

Both parsers reject what would make the evaluated document differ from what AWS registers
(duplicate keys, NaN, infinities, integers no engine represents exactly, lone UTF-16 surrogates
that cannot be encoded) or what could be used to exhaust a worker (deep nesting, huge alias
expansion, integers with thousands of digits), and both return only JSON types so every engine
sees the same input. Every limit is checked before anything walks the document recursively.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml

from ecs_admission.errors import InputError
from ecs_admission.parsing.bounded_json import (
    MAX_DEPTH,
    check_shape_limits,
    decode_utf8,
    parse_json,
)
from ecs_admission.parsing.safe_yaml import yaml_problem

MAX_ALIASES = 100
# YAML builds Python objects node by node (~10 us a collection even with libyaml), where JSON's C
# decoder takes well under 1 us: 20,000 nodes keep the worst YAML body within the 1 s budget
# on 2 busy cores (docs/hardening.md). Hand-written templates hold a few thousand; large generated
# templates are JSON (CDK synthesises JSON), which keeps MAX_NODES.
MAX_YAML_NODES = 20_000

JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


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
    text = decode_utf8(raw)
    try:
        _prescan(text)
        documents = list(yaml.load_all(text, Loader=_yaml_loader()))
    except yaml.YAMLError as exc:
        # Both places the parser names: an unclosed quote is found at the end of the file, but is
        # fixed where it opened ("while scanning a quoted scalar at line 4 column 10, ...").
        raise InputError(f"not valid YAML: {yaml_problem(exc)}", error="invalid_yaml") from None
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
