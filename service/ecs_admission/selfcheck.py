"""The worker's startup self-check: compile the policies and run their own Rego unit tests, on the
embedded engine, in a child process, before the worker compiles them itself.

A worker whose policies fail their own tests must not decide (a broken deny rule is a silent
allow), so the app factory runs them before the worker becomes ready. They run in a child
process because rego-cpp aborts the whole process on some policies that policy.py's lint cannot
see, such as a check package that defines a function named `finding` (std::out_of_range while
building the decision entry point). It must be the child that dies, not the worker. The child
reports each step as it starts, so a crash still names the test (or the compile) that caused it.

Results are cached per policy content, so several apps in one process (tests) pay once.

Run directly: `python -m ecs_admission.selfcheck POLICY_DIR` prints one JSON object per line
(the worker hands the child its already-loaded policy set on stdin with `-` instead).
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .policy import PolicyError, PolicySet, RegoFile, load_policy_set

DEFAULT_TIMEOUT = 20.0


@dataclass(frozen=True)
class SelfCheck:
    passed: bool
    reason: str
    tests: int
    failed: tuple[str, ...] = ()
    duration_ms: float = 0.0
    # The policies themselves do not compile (reason is the engine's "policies do not compile: ...").
    compile_error: bool = False


_cache: dict[str, SelfCheck] = {}
_cache_lock = threading.Lock()


def content_key(policy: PolicySet) -> str:
    # Everything the child compiles, not PolicySet.revision alone: a set assembled in code (tests,
    # reload candidates) can differ from the directory its revision was computed from.
    digest = hashlib.sha256()
    for kind, files in (("module", policy.modules), ("test", policy.tests)):
        for rego_file in files:
            digest.update(f"{kind}:{rego_file.name}\0{rego_file.source}\0".encode())
    digest.update(json.dumps(policy.data, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def self_check(policy: PolicySet, timeout: float = DEFAULT_TIMEOUT) -> SelfCheck:
    """Run the policy set's Rego unit tests in a child process; cached per policy content."""
    key = content_key(policy)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    result, finished = _run_child(policy, timeout)
    if finished:  # a timeout may be a slow machine, not the policies: ask again next time
        with _cache_lock:
            _cache[key] = result
    return result


def policy_to_json(policy: PolicySet) -> str:
    return json.dumps(
        {
            "directory": str(policy.directory),
            "modules": [[f.name, f.source] for f in policy.modules],
            "tests": [[f.name, f.source] for f in policy.tests],
            "data": policy.data,
            "revision": policy.revision,
        }
    )


def policy_from_json(text: str) -> PolicySet:
    raw = json.loads(text)
    return PolicySet(
        directory=Path(raw["directory"]),
        modules=tuple(RegoFile(name, source) for name, source in raw["modules"]),
        tests=tuple(RegoFile(name, source) for name, source in raw["tests"]),
        data=raw["data"],
        revision=raw["revision"],
    )


def _run_child(policy: PolicySet, timeout: float) -> tuple[SelfCheck, bool]:
    # The child gets exactly the policy set the worker loaded (on stdin), not a re-read of the
    # directory, so what is checked is what will be compiled.
    started = time.perf_counter()
    command = [sys.executable, "-m", "ecs_admission.selfcheck", "-"]
    try:
        completed = subprocess.run(
            command, input=policy_to_json(policy), capture_output=True, text=True, timeout=timeout, check=False
        )
        stdout, stderr, code = completed.stdout, completed.stderr, completed.returncode
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        current = _last_started(stdout)
        where = f" (still running {current})" if current else ""
        return SelfCheck(False, f"Rego unit tests did not finish within {timeout:g}s{where}", 0), False
    elapsed = (time.perf_counter() - started) * 1000
    return interpret(stdout, stderr, code, elapsed), True


def interpret(stdout: str, stderr: str, code: int, duration_ms: float = 0.0) -> SelfCheck:
    """Read the child's JSON lines into a verdict that names the failing (or crashing) test."""
    results: list[dict] = []
    error = compile_error = None
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if "result" in record:
            results.append(record["result"])
        elif "error" in record:
            error = record["error"]
        elif "compile_error" in record:
            compile_error = record["compile_error"]
    if error is not None:
        return SelfCheck(False, f"policies could not be loaded for the self-check: {error}", 0, (), duration_ms)
    if compile_error is not None:
        return SelfCheck(False, compile_error, 0, (), duration_ms, compile_error=True)
    if code != 0 or not any("done" in line for line in stdout.splitlines()):
        current = _last_started(stdout)
        how = _describe_exit(code)
        culprit = f" at {current}" if current else ""
        detail = stderr.strip().splitlines()[-1].strip()[:200] if stderr.strip() else ""
        reason = f"the embedded engine crashed ({how}){culprit} during the Rego unit tests"
        if detail:
            reason += f": {detail}"
        return SelfCheck(False, reason, len(results), (current,) if current else (), duration_ms)
    failed = [r for r in results if not r.get("passed")]
    if failed:
        first = failed[0]
        detail = f": {first['detail']}" if first.get("detail") else ""
        reason = (
            f"Rego unit test {first['qualified_name']} ({first['file']}) failed on the embedded engine{detail}"
            f" [{len(failed)} of {len(results)} tests failed]"
        )
        return SelfCheck(False, reason, len(results), tuple(r["qualified_name"] for r in failed), duration_ms)
    return SelfCheck(True, "", len(results), (), duration_ms)


def _last_started(stdout: str) -> str | None:
    started = None
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if "start" in record:
            started = record["start"]
        elif "result" in record:
            started = None
    return started


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


def _emit(record: dict) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    from .engines.embedded import EmbeddedEngine
    from .errors import EngineError
    from .rego_tests import run_embedded

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ecs_admission.selfcheck POLICY_DIR|-  (- reads a policy set as JSON)", file=sys.stderr)
        return 2
    try:
        policy = policy_from_json(sys.stdin.read()) if args[0] == "-" else load_policy_set(Path(args[0]))
    except PolicyError as exc:
        _emit({"error": str(exc)})
        return 0
    # The decision entry point first, exactly as the worker will compile it: rego-cpp can abort
    # while building some policies, and it must be this process that dies, not the worker.
    _emit({"start": "compile time (the decision entry point)"})
    try:
        EmbeddedEngine(policy)
    except EngineError as exc:
        _emit({"compile_error": exc.reason})
        _emit({"done": 0})
        return 0
    _emit({"start": "compile time (the Rego unit tests)"})
    results = run_embedded(policy, on_start=lambda case: _emit({"start": f"data.{case.package}.{case.name}"}))
    for result in results:
        record = {
            "qualified_name": result.qualified_name,
            "file": result.file,
            "passed": result.passed,
            "detail": result.detail,
        }
        _emit({"result": record})
    _emit({"done": len(results)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
