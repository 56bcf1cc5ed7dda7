"""Run every `test_` rule in the shipped `*_test.rego` files on OPA's evaluator, in-process."""

from __future__ import annotations

import functools
import shutil

import pytest

from ecs_admission.engines.rego_tests import discover, run_tests
from ecs_admission.policy.loader import load_policy_set
from tests.conftest import POLICY_DIR

POLICY = load_policy_set(POLICY_DIR)
# Named at collection from the files (a regex), run once when the first test needs them: under xdist
# every worker collects this module, and only the one that runs it should pay for the 188 tests.
NAMES = sorted({case.qualified_name for case in discover(POLICY)})


@functools.cache
def results() -> dict:
    return {result.qualified_name: result for result in run_tests(POLICY)}


def test_every_module_has_a_test_file():
    tested = {t.name.removesuffix("_test.rego") for t in POLICY.tests}
    untested = [m.name for m in POLICY.modules if m.name.removesuffix(".rego") not in tested]
    assert untested == []


def test_discovery_finds_the_tests():
    assert len(discover(POLICY)) == len(results()) >= 20
    assert sorted(results()) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_rego_unit_test_passes(name):
    result = results()[name]
    assert result.passed, f"{result.file}: {name}: {result.detail}"


def test_runner_reports_failures(tmp_path):
    directory = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, directory)
    (directory / "extra_test.rego").write_text(
        "package ecs.extra_test\n\nimport rego.v1\n\ntest_false if { 1 == 2 }\n\ntest_true if { 1 == 1 }\n"
    )
    results = {r.name: r for r in run_tests(load_policy_set(directory)) if r.package == "ecs.extra_test"}
    assert results["test_true"].passed and not results["test_false"].passed
    assert results["test_false"].detail == "undefined, failed at extra_test.rego:5: test_false if { 1 == 2 }"
    assert results["test_false"].location == "extra_test.rego:5"
