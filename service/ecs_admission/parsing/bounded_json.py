"""JSON text to a document within the limits a gate needs, for every layer that reads caller JSON.

The parser rejects what would make the evaluated document differ from what AWS registers
(duplicate keys, NaN, infinities, integers no engine represents exactly, lone UTF-16 surrogates
that cannot be encoded) or what could exhaust a worker (deep nesting, integers with thousands of
digits). It sits below inputs/ and iam/ because both parse caller JSON: a request body, and a
role's policy document sent as a string.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ecs_admission.errors import InputError

MAX_DEPTH = 64
MAX_NODES = 200_000
# Signed 64-bit: what OPA holds exactly; ECS's own integer fields are 32-bit.
MIN_INT, MAX_INT = -(2**63), 2**63 - 1
# Only a \uD800-\uDFFF escape can put a lone surrogate into a decoded JSON string; checking the
# text for one first keeps the per-string check off the common path.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")

def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # dict() in C first; only an object that lost a key to a duplicate is walked to name it.
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InputError(f"duplicate key {key!r}: ambiguous, AWS would keep only one", field=key)
            seen.add(key)
    return result


def _reject_constant(name: str) -> Any:
    raise InputError(f"{name} is not valid JSON")


def decode_utf8(raw: bytes | str) -> str:
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
    text = decode_utf8(raw)
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


def check_shape_limits(document: Any, check_strings: bool = False) -> Any:
    """Bound nesting depth and element count iteratively, so no recursion limit is hit.

    Also refuses scalars no engine can take as given: integers outside signed 64 bits, infinite
    floats, and (with check_strings) strings or keys holding a lone UTF-16 surrogate, which cannot
    be encoded as UTF-8 and so would fail inside the engine instead of here with a 400.
    """
    # Nearly every document is within every limit, and the fast walk below says so at a fraction
    # of the cost. Anything it does not accept at once (a limit passed, a type it does not know,
    # strings to check) is walked again here, which finds the first problem in the same order as
    # always and names it.
    kind = type(document)
    if not check_strings and (kind is dict or kind is list) and _within(document, 1, MAX_NODES - 1) >= 0:
        return document
    stack: list[tuple[Any, int]] = [(document, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise InputError(f"document nested deeper than {MAX_DEPTH} levels", error="too_deep")
        if nodes > MAX_NODES:
            raise InputError(f"document has more than {MAX_NODES} elements", error="too_large")
        # The exact JSON types first (what json.loads builds): one type() per node instead of a
        # chain of isinstance calls; subclasses and tuples (YAML) take the general path below.
        kind = type(value)
        if kind is str:
            if check_strings:
                _check_string(value)
        elif kind is dict:
            if check_strings:
                for key in value:
                    _check_string(key)
            stack.extend([(item, depth + 1) for item in value.values()])
        elif kind is list:
            stack.extend([(item, depth + 1) for item in value])
        elif kind is int:
            if not MIN_INT <= value <= MAX_INT:
                raise InputError("integer out of range: more than 64 bits", error="invalid_number")
        elif kind is bool or value is None:
            pass
        elif isinstance(value, dict):
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


def _within(container: dict[str, Any] | list[Any], depth: int, left: int) -> int:
    """The nodes still allowed after `container` (an exact dict or list at `depth`) and all under it,
    or -1 if it passes a limit or holds something check_shape_limits must look at itself.

    Recursive, but never deeper than MAX_DEPTH: a container whose members would be deeper stops it.
    Leaves are read in the loop, not by a call each, and a container's members are counted at once.
    """
    left -= len(container)
    if left < 0 or (depth >= MAX_DEPTH and container):
        return -1
    for item in container.values() if type(container) is dict else container:
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is dict or kind is list:
            if item:
                left = _within(item, depth + 1, left)
                if left < 0:
                    return -1
        elif kind is int:
            if not MIN_INT <= item <= MAX_INT:
                return -1
        elif kind is not float or not math.isfinite(item):
            return -1
    return left


def _check_string(value: Any) -> None:
    if isinstance(value, str) and _SURROGATE.search(value):
        raise InputError("string holds a lone UTF-16 surrogate: not encodable as UTF-8", error="invalid_encoding")
