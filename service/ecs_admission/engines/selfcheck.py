"""The worker's start-up self-check: the policies' own Rego unit tests, run in-process on OPA's
evaluator before the worker trusts its engine.

A worker whose policies fail their own tests must not decide (a broken deny rule is a silent
allow), so the app factory runs them before the worker becomes ready, and policy reload runs them
before a new set replaces the serving one. Results are cached per policy content, so several apps
in one process (tests) pay once.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass

from ecs_admission.engines.rego_tests import run_tests
from ecs_admission.errors import EngineError
from ecs_admission.policy.loader import PolicySet


@dataclass(frozen=True)
class SelfCheck:
    passed: bool
    reason: str
    tests: int
    failed: tuple[str, ...] = ()
    duration_ms: float = 0.0


_cache: dict[str, SelfCheck] = {}
_cache_lock = threading.Lock()


def content_key(policy: PolicySet) -> str:
    # Everything the tests compile, not PolicySet.revision alone: a set assembled in code (tests,
    # reload candidates) can differ from the directory its revision was computed from.
    digest = hashlib.sha256()
    for kind, files in (("module", policy.modules), ("test", policy.tests)):
        for rego_file in files:
            digest.update(f"{kind}:{rego_file.name}\0{rego_file.source}\0".encode())
    digest.update(json.dumps(policy.data, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def self_check(policy: PolicySet) -> SelfCheck:
    """Run the policy set's Rego unit tests; the verdict names the first failing test and where."""
    key = content_key(policy)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    started = time.perf_counter()
    try:
        results = [result for result in run_tests(policy, until_failure=True) if not result.skipped]
    except EngineError as exc:
        return _remember(key, SelfCheck(False, exc.reason, 0, (), (time.perf_counter() - started) * 1000))
    elapsed = (time.perf_counter() - started) * 1000
    failed = [result for result in results if not result.passed]
    if failed:
        first = failed[0]
        detail = f": {first.detail}" if first.detail else ""
        reason = (
            f"Rego unit test {first.qualified_name} ({first.location}) failed{detail}"
            " [the first that failed; `ecs-admission policy test` runs them all]"
        )
        check = SelfCheck(False, reason, len(results), tuple(r.qualified_name for r in failed), elapsed)
    else:
        check = SelfCheck(True, "", len(results), (), elapsed)
    return _remember(key, check)


def _remember(key: str, check: SelfCheck) -> SelfCheck:
    with _cache_lock:
        _cache[key] = check
    return check
