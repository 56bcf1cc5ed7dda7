"""Discover and run the `test_` rules of `*_test.rego` files, as `opa test` would.

A test passes when its rule evaluates to true; false, undefined or an evaluation error fails.
Used by the pytest suite, `ecs-admission policy test` and the worker's startup self-check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from regopy import Interpreter, RegoError
from regopy.rego_shared import rego_bundle_query_entrypoint, rego_free_output, rego_output_string

from .engines.embedded import describe_rego_error, native_output_to_stderr
from .policy import PolicySet

_PACKAGE_RE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
_TEST_RE = re.compile(r"^(test_\w+)\b", re.MULTILINE)


@dataclass(frozen=True)
class RegoTestResult:
    file: str
    package: str
    name: str
    passed: bool
    detail: str = ""

    @property
    def qualified_name(self) -> str:
        return f"data.{self.package}.{self.name}"


@dataclass(frozen=True)
class RegoTestCase:
    file: str
    package: str
    name: str


def discover(policy: PolicySet) -> list[RegoTestCase]:
    cases: list[RegoTestCase] = []
    for test_file in policy.tests:
        package = _PACKAGE_RE.search(test_file.source)
        if not package:
            continue
        for name in dict.fromkeys(_TEST_RE.findall(test_file.source)):
            cases.append(RegoTestCase(test_file.name, package.group(1), name))
    return cases


def run_embedded(policy: PolicySet, on_start: Callable[[RegoTestCase], None] | None = None) -> list[RegoTestResult]:
    """Run every discovered test on regopy; a compile failure fails every test with the reason.

    `on_start` is told of each test before it runs, so a caller watching from another process can
    name the test that crashed the engine.
    """
    cases = discover(policy)
    sources = {f.name: f.source for f in (*policy.modules, *policy.tests)}
    compiler = Interpreter()
    entrypoints = [f"{case.package.replace('.', '/')}/{case.name}" for case in cases]
    try:
        with native_output_to_stderr():
            for rego_file in (*policy.modules, *policy.tests):
                compiler.add_module(rego_file.name, rego_file.source)
            compiler.add_data(policy.data)
            bundle = compiler.build(None, entrypoints) if entrypoints else None
    except RegoError as exc:
        reason = f"does not compile: {describe_rego_error(exc, sources)}"
        return [RegoTestResult(c.file, c.package, c.name, False, reason) for c in cases]
    results = []
    runner = Interpreter()
    for case, entrypoint in zip(cases, entrypoints, strict=True):
        if on_start is not None:
            on_start(case)
        try:
            impl = rego_bundle_query_entrypoint(runner._impl, bundle._impl, entrypoint)
            try:
                text = rego_output_string(impl)
            finally:
                rego_free_output(impl)
            passed = text == '{"expressions":[true]}'
            detail = "" if passed else ("undefined" if text == "undefined" else text[:300])
        except RegoError as exc:
            passed, detail = False, describe_rego_error(exc, sources)
        results.append(RegoTestResult(case.file, case.package, case.name, passed, detail))
    return results
