"""Documents to compact JSON text and back, where the gate writes JSON on every request.

Each decision writes its whole policy input for the engine (7.7 KB for the hardened Fargate input),
the role-judgement cache keys and entries, and a decision record; the standard library's encoder
spent 1.1 M of a request's 14.6 M instructions doing so (docs/performance.md). orjson writes the
same text about ten times faster. Its text is what `json.dumps(value, separators=(",", ":"),
ensure_ascii=False)` writes, the spelling of some floats aside (`1e16`, not `1e+16`: the same
number), for every value the parsing layer lets in.

What orjson writes differently or refuses, the standard library writes instead, so nothing changes
for a caller: integers beyond 64 bits, lone surrogates and keys that are not strings make orjson
raise, and the standard library then answers (or raises) exactly as it did before orjson. NaN and
the infinities, which orjson would write as null, never get this far: the parsing layer refuses
them in JSON and YAML alike (parsing/bounded_json.py, inputs/parse.py). Dates, times and
dataclasses go to `default` as the standard library sends them, not orjson's own format (the gate
writes no enums or UUID objects, the other types orjson writes itself).

orjson is compiled: where its wheel does not load (no wheel for the platform, or a package built for
another Python), the standard library writes everything, as it did before, only slower.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

try:
    import orjson
except ImportError:
    orjson = None  # type: ignore[assignment]

_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME if orjson else 0
_SORTED = _PASSTHROUGH | orjson.OPT_SORT_KEYS if orjson else 0


def dumps(value: Any, *, sort_keys: bool = False, default: Callable[[Any], Any] | None = None) -> bytes:
    """`value` as compact UTF-8 JSON; what orjson cannot write as the standard library would, the
    standard library writes (and its errors, TypeError, ValueError or UnicodeEncodeError, are raised)."""
    if orjson is not None:
        try:
            return orjson.dumps(value, default=default, option=_SORTED if sort_keys else _PASSTHROUGH)
        except orjson.JSONEncodeError:
            pass
    text = json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, default=default)
    return text.encode("utf-8")


def loads(text: bytes | str) -> Any:
    """JSON text this process wrote (the role-judgement cache): never caller input, which goes through
    parsing/bounded_json.py and its limits."""
    return orjson.loads(text) if orjson is not None else json.loads(text)
