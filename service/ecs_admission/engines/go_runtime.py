"""Go runtime settings (GOGC, GOMEMLIMIT) for OPA's Go evaluator, in force from process start.

The in-process engine is Go code in a shared library, and its garbage collector costs a fifth of a
decision at Go's default GOGC=100 (docs/performance.md). The Go runtime of a c-shared library reads
its environment from the process's start-up block, not from `environ`: `os.environ["GOGC"] = ...`
after Python has started changes nothing, even before the library is loaded (measured with
GODEBUG=gctrace=1). So a server that should run with other values re-executes itself with them
before it forks any worker (`ensure_in_force`, called by the gunicorn master at start-up), and a
Lambda function gets them in its configuration (deploy/codepipeline, deploy/detective).

Settings (docs/configuration.md): ECS_ADMISSION_GOGC, else a plain GOGC, else DEFAULT_GOGC;
ECS_ADMISSION_GOMEMLIMIT, else a plain GOMEMLIMIT, else none (Go's default: no soft limit).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from ecs_admission.config import ConfigError

log = logging.getLogger(__name__)

# 800: a decision's instructions (collections included) 13.0M at 400, 12.0M at 800, 11.1M with no
# collection at all, for about 40 MiB more per worker (docs/performance.md "Go's garbage collector").
DEFAULT_GOGC = "800"
GOGC_ENV = "ECS_ADMISSION_GOGC"
GOMEMLIMIT_ENV = "ECS_ADMISSION_GOMEMLIMIT"
# Set on the re-executed process, so a platform where the start-up environment cannot be read
# back (or where the values did not take) never loops.
REEXEC_MARK = "ECS_ADMISSION_GO_ENV_APPLIED"
_GOGC_RE = re.compile(r"^(off|[0-9]{1,6})$")
_GOMEMLIMIT_RE = re.compile(r"^(off|[0-9]{1,19}(B|KiB|MiB|GiB|TiB)?)$")


def _setting(env: Mapping[str, str], ours: str, plain: str) -> tuple[str, str] | None:
    for name in (ours, plain):
        raw = env.get(name, "").strip()
        if raw:
            return name, raw
    return None


def wanted(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """{GOGC: ..., GOMEMLIMIT: ...} the Go runtime should start with; ConfigError names a bad value."""
    env = os.environ if env is None else env
    result: dict[str, str] = {}
    gogc = _setting(env, GOGC_ENV, "GOGC")
    name, value = gogc if gogc else (GOGC_ENV, DEFAULT_GOGC)
    if not _GOGC_RE.match(value):
        raise ConfigError(f"{name}={value!r}: expected a percentage (a whole number, 100 is Go's default) or off")
    result["GOGC"] = value
    limit = _setting(env, GOMEMLIMIT_ENV, "GOMEMLIMIT")
    if limit:
        name, value = limit
        if not _GOMEMLIMIT_RE.match(value):
            raise ConfigError(f"{name}={value!r}: expected bytes with an optional unit (KiB, MiB, GiB), e.g. 256MiB")
        result["GOMEMLIMIT"] = value
    return result


def startup_environment() -> dict[str, str] | None:
    """The environment this process was started with (what Go reads), where the OS shows it."""
    try:
        raw = Path("/proc/self/environ").read_bytes()
    except OSError:
        return None
    entries = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in entries}


def in_force(values: Mapping[str, str], started_with: Mapping[str, str] | None) -> bool:
    # Without /proc, os.environ is the best knowledge there is; after a re-exec it holds the values.
    seen = os.environ if started_with is None else started_with
    return all(seen.get(key) == value for key, value in values.items())


def ensure_in_force() -> dict[str, str]:
    """Re-execute this process with the wanted Go settings unless it started with them.

    Called by the gunicorn master before it binds or forks (the workers inherit the environment
    the Go runtime will read). Returns the values in force. The process keeps its pid and
    command line, so a supervisor or a test holding the pid sees one process.
    """
    values = wanted()
    if in_force(values, startup_environment()):
        return values
    if os.environ.get(REEXEC_MARK):
        log.warning("could not start with %s; the Go runtime runs with its defaults", _shown(values))
        return {}
    os.environ.update(values)
    os.environ[REEXEC_MARK] = "1"
    log.info("restarting with %s so the Go runtime starts with them", _shown(values))
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    return values  # not reached


def _shown(values: Mapping[str, str]) -> str:
    return " ".join(f"{key}={value}" for key, value in values.items())
