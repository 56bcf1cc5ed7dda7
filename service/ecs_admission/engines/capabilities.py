"""Builtins a policy may not call: the ones that reach the network or the process environment.

OPA's answer to "which builtins may this policy use" is a capabilities file (`opa build
--capabilities`); the in-process binding has no such option, and a sidecar compiles whatever its
bundle holds. So the gate applies the same rule itself, on OPA's own parse of every module
(`rego.parse_module`), wherever a set is accepted (start-up, reloads, `check`, `policy bundle`):
a module that refers to one of RESTRICTED is refused, naming the file and the builtin, unless
ECS_ADMISSION_REGO_ALLOW_BUILTINS lists it. `http.send` held a worker 40 s against an address that
did not answer; `opa.runtime()` hands every environment variable (tokens included) to the policy.
Tests (`*_test.rego`) are not checked: they may mock these with `with http.send as ...`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import threading
from typing import Any

from ecs_admission.config import env_setting
from ecs_admission.errors import EngineError
from ecs_admission.policy.loader import PolicySet, RegoFile

ALLOW_ENV = "ECS_ADMISSION_REGO_ALLOW_BUILTINS"
RESTRICTED = frozenset({"http.send", "net.lookup_ip_addr", "opa.runtime"})
PARSE_QUERY = "module := rego.parse_module(input.name, input.source)"

_cache: dict[str, tuple[str, ...]] = {}
_cache_lock = threading.Lock()


def allowed_builtins() -> frozenset[str]:
    raw = env_setting(os.environ, ALLOW_ENV) or ""
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def restricted() -> frozenset[str]:
    return RESTRICTED - allowed_builtins()


def _refs(node: Any, found: set[str]) -> None:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            value = item.get("value")
            if item.get("type") == "ref" and isinstance(value, list) and len(value) >= 2:
                head, second = value[0], value[1]
                if (
                    isinstance(head, dict)
                    and head.get("type") == "var"
                    and isinstance(second, dict)
                    and second.get("type") == "string"
                ):
                    found.add(f"{head.get('value')}.{second.get('value')}")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def builtins_referred(module: RegoFile) -> tuple[str, ...]:
    """The restricted builtins `module` refers to (OPA parses it; cached per content)."""
    key = hashlib.sha256(f"{module.name}\0{module.source}".encode()).hexdigest()
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    from ecs_admission.engines.embedded import load_bindings

    bindings = load_bindings()
    opa = bindings.OpaEngine()
    try:
        rows = opa.eval_query(PARSE_QUERY, {"name": module.name, "source": module.source})
    except bindings.OpaError:
        rows = []  # a module OPA cannot parse is refused by the compile, with OPA's message
    finally:
        opa.close()
    found: set[str] = set()
    if rows:
        _refs(rows[0].get("module"), found)
    result = tuple(sorted(found & RESTRICTED))
    with _cache_lock:
        _cache[key] = result
    return result


def may_refer(source: str, names: frozenset[str]) -> bool:
    """Whether OPA's parse of `source` could hold a reference to one of `names` (`head.name`).

    A cheap, conservative pre-filter before the parse (40-80 ms a module on a cold start). A
    reference `http.send` needs the variable `http` written as an identifier (a Rego identifier
    has no escapes), and `send` either written out (`.send`, `["send"]`, a raw string) or spelt
    with a `\\u` escape (`http["se\\u006ed"]` is http.send too; OPA refuses `\\x` and octal escapes).
    """
    escaped = "\\u" in source
    for name in names:
        head, _, rest = name.partition(".")
        if (rest in source or escaped) and _identifier(head).search(source):
            return True
    return False


@functools.cache
def _identifier(name: str) -> re.Pattern[str]:
    # Not preceded by a letter or `_` nor followed by an identifier character: erring towards a
    # match (a digit before it, a non-ASCII letter either side) only costs a parse.
    return re.compile(rf"(?<![A-Za-z_]){re.escape(name)}(?![A-Za-z0-9_])")


def check_builtins(policy: PolicySet, engine: str = "embedded") -> None:
    """EngineError naming the first module that calls a restricted builtin not allowed here."""
    refused = restricted()
    if not refused:
        return
    for module in policy.modules:
        if not may_refer(module.source, refused):
            continue  # no such reference can be in the text: no parse needed
        used = [name for name in builtins_referred(module) if name in refused]
        if used:
            raise EngineError(
                f"{module.name} calls {', '.join(used)}, which policies may not use (network or process "
                f"environment access); allow it with {ALLOW_ENV}={','.join(used)} if you mean it",
                engine,
            )
