"""Discover and run the `test_` rules of `*_test.rego` files on OPA's evaluator, as `opa test` does.

A test passes when its rule is defined and not false; false, undefined or an evaluation error
fails it, and a failing test is traced once more to name the expression that failed (file:line
and its source). Rules named `todo_test_...` are reported as skipped, as `opa test` does.
Used by `ecs-admission policy test`, the worker's start-up self-check, policy reload and the
pytest suite.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ecs_admission.engines.embedded import compile_failure, describe_opa_error, is_compile_error, load_bindings, new_opa
from ecs_admission.policy.loader import PolicySet, RegoFile
from ecs_admission.policy.metadata import module_package

_TEST_RE = re.compile(r"^((?:todo_)?test_\w+)\b", re.MULTILINE)
SKIP_PREFIX = "todo_"


@dataclass(frozen=True)
class RegoTestCase:
    file: str
    line: int
    package: str
    name: str

    @property
    def qualified_name(self) -> str:
        return f"data.{self.package}.{self.name}"

    @property
    def skipped(self) -> bool:
        return self.name.startswith(SKIP_PREFIX)


@dataclass(frozen=True)
class RegoTestResult:
    file: str
    package: str
    name: str
    passed: bool
    detail: str = ""
    line: int = 0
    skipped: bool = False
    output: tuple[str, ...] = ()  # print() output while the test ran: "file:line: message"

    @property
    def qualified_name(self) -> str:
        return f"data.{self.package}.{self.name}"

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Coverage:
    """Lines of each module evaluated (covered) or not by the tests, merged over every test."""

    covered: dict[str, set[int]] = field(default_factory=dict)
    not_covered: dict[str, set[int]] = field(default_factory=dict)

    def add(self, report: dict[str, Any] | None) -> None:
        for name, entry in ((report or {}).get("files") or {}).items():
            self.covered.setdefault(name, set()).update(_rows(entry.get("covered")))
            self.not_covered.setdefault(name, set()).update(_rows(entry.get("not_covered")))

    def files(self) -> dict[str, tuple[int, int, float]]:
        """{file: (covered lines, not covered lines, percent)}, a line counting as covered once any test ran it."""
        result = {}
        for name in sorted(set(self.covered) | set(self.not_covered)):
            covered = self.covered.get(name, set())
            missing = self.not_covered.get(name, set()) - covered
            total = len(covered) + len(missing)
            result[name] = (len(covered), len(missing), 100.0 * len(covered) / total if total else 100.0)
        return result


def _rows(ranges: Iterable[dict[str, Any]] | None) -> set[int]:
    rows: set[int] = set()
    for span in ranges or ():
        rows.update(range(span["start"]["row"], span["end"]["row"] + 1))
    return rows


def discover(policy: PolicySet) -> list[RegoTestCase]:
    cases: list[RegoTestCase] = []
    for test_file in policy.tests:
        package = module_package(test_file.source)
        if not package:
            continue
        seen: set[str] = set()
        for match in _TEST_RE.finditer(test_file.source):
            name = match.group(1)
            if name not in seen:  # a test may have several bodies: one rule, one result
                seen.add(name)
                line = test_file.source.count("\n", 0, match.start()) + 1
                cases.append(RegoTestCase(test_file.name, line, package, name))
    return cases


def _failed_expression(trace: list[dict[str, Any]] | None, sources: dict[str, str]) -> str:
    """The first expression of the test's own evaluation that failed, as file:line and its source."""
    for event in trace or ():
        if event.get("op") != "Fail":
            continue
        location = str(event.get("location") or "")
        match = re.match(r"^(.+):(\d+)$", location)
        if match and match.group(1) in sources:
            lines = sources[match.group(1)].splitlines()
            number = int(match.group(2))
            text = lines[number - 1].strip() if 0 < number <= len(lines) else ""
            return f"{location}: {text}" if text else location
    return ""


def run_tests(
    policy: PolicySet,
    coverage: Coverage | None = None,
    only: re.Pattern[str] | None = None,
    capture_prints: bool = False,
    until_failure: bool = False,
) -> list[RegoTestResult]:
    """Run every discovered test in-process on OPA's evaluator (with `until_failure`, up to and
    including the first that fails: all a pass-or-fail verdict needs).

    Raises EngineError with OPA's message (file:line) when the modules and tests do not compile;
    pass `coverage` to collect which lines the tests evaluated.

    The binding compiles the whole set for each distinct query, so every test package is read in
    one query; a package whose evaluation fails (a conflict, say) is retried test by test so that
    the error lands on the test that raised it. With `capture_prints`, print() output is kept per
    test as `opa test -v` shows it: when the shared run printed anything, each test runs again on
    its own (a print in a rule cannot otherwise be told apart by test), in the packages that print.
    """
    cases = [case for case in discover(policy) if only is None or only.search(case.qualified_name)]
    files: tuple[RegoFile, ...] = (*policy.modules, *policy.tests)
    sources = {f.name: f.source for f in files}
    bindings = load_bindings()
    packages = sorted({case.package for case in cases if not case.skipped})
    opa = new_opa(files, policy.data, compile_now=not packages)
    printed: list[str] = []
    if capture_prints:
        opa.print_handler = lambda message, location: printed.append(f"{location}: {message}")
    try:
        values = _package_values(opa, bindings, packages, coverage)
        rerun = _printing_packages(opa, bindings, packages, printed) if printed else set()
        results = []
        for case in cases:
            if case.skipped:
                results.append(RegoTestResult(case.file, case.package, case.name, True, "", case.line, skipped=True))
                continue
            outcome = values.get(case.package)
            if isinstance(outcome, dict):
                value = outcome.get(case.name)
                passed = case.name in outcome and value is not False
                detail = "" if passed else "false" if value is False else "undefined"
            else:
                passed, detail = _run_one(opa, bindings, case, coverage)
            if not passed and detail in ("false", "undefined"):
                explained = _explain(opa, bindings, case.qualified_name[len("data.") :], sources)
                detail = f"{detail}, {explained}" if explained else detail
            output: tuple[str, ...] = ()
            if case.package in rerun:
                printed.clear()
                _run_one(opa, bindings, case, None)
                output = tuple(printed)
            results.append(RegoTestResult(case.file, case.package, case.name, passed, detail, case.line, output=output))
            if until_failure and not passed:
                # Each test of a package that fails as a whole is its own query and its own compile
                # (0.1-0.3 s): a set that errors everywhere took 14 s to report every one.
                break
    finally:
        opa.close()
    return results


def _printing_packages(opa: Any, bindings: Any, packages: list[str], printed: list[str]) -> set[str]:
    """The test packages whose evaluation prints, each evaluated on its own: only their tests are
    then run one by one to tell whose output is whose."""
    found = set()
    for package in packages:
        printed.clear()
        with contextlib.suppress(bindings.OpaError):
            opa.eval_document(package, None)
        if printed:
            found.add(package)
    return found


def _package_values(
    opa: Any, bindings: Any, packages: list[str], coverage: Coverage | None
) -> dict[str, dict[str, Any] | None]:
    """{package: its document}, evaluated in one query; None for packages to be run test by test."""
    if not packages:
        return {}
    query = "; ".join(f"p{index} := data.{package}" for index, package in enumerate(packages))
    try:
        rows = opa.eval_query(query, None, coverage=coverage is not None)
    except bindings.OpaError as exc:
        if is_compile_error(exc):
            raise compile_failure(exc) from None
        if len(packages) == 1:
            return dict.fromkeys(packages)
        # One package's error (a conflict, a builtin error) fails the shared query: find it package by
        # package, so only the tests of the failing packages run one query each (a query costs
        # ~0.3 s on a busy machine; 181 of them held a worker's start-up for two minutes).
        values: dict[str, dict[str, Any] | None] = {}
        for package in packages:
            values.update(_package_values(opa, bindings, [package], coverage))
        return values
    if coverage is not None:
        coverage.add(opa.last_coverage)
    bindings_row = rows[0] if rows else {}
    return {
        package: value if isinstance(value := bindings_row.get(f"p{index}"), dict) else None
        for index, package in enumerate(packages)
    }


def _run_one(opa: Any, bindings: Any, case: RegoTestCase, coverage: Coverage | None) -> tuple[bool, str]:
    try:
        value = opa.eval_document(case.qualified_name[len("data.") :], None, coverage=coverage is not None)
    except bindings.OpaUndefinedError:
        return False, "undefined"
    except bindings.OpaError as exc:
        return False, describe_opa_error(exc)
    finally:
        if coverage is not None:
            coverage.add(opa.last_coverage)
    return value is not False, "" if value is not False else "false"


def _explain(opa: Any, bindings: Any, path: str, sources: dict[str, str]) -> str:
    with contextlib.suppress(bindings.OpaError):
        opa.eval_document(path, None, trace=True)
    failed = _failed_expression(opa.last_trace, sources)
    return f"failed at {failed}" if failed else ""
