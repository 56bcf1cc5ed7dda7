"""Start-up self-check: the policies' own Rego unit tests run in-process on OPA's evaluator; a worker
whose policies fail them, or do not compile, is not ready and does not decide."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

from ecs_admission.config import Settings
from ecs_admission.engines import rego_tests, selfcheck
from ecs_admission.policy.loader import RegoFile, load_policy_set
from ecs_admission.web import create_app
from tests.conftest import POLICY_DIR, example

CLEAN = example("taskdef-clean.json")


def policy_copy(tmp_path, **extra_files: str):
    directory = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, directory)
    for name, source in extra_files.items():
        (directory / name).write_text(source)
    return directory


def admit(client):
    return client.post("/v1/admit", data=json.dumps(CLEAN), content_type="application/json")


def test_shipped_policies_pass_their_self_check():
    result = selfcheck.self_check(load_policy_set(POLICY_DIR))
    assert result.passed and result.reason == "" and result.tests >= 20


def test_failing_rego_test_keeps_the_worker_unready_and_names_the_test_and_expression(tmp_path):
    directory = policy_copy(
        tmp_path,
        **{
            "extra_test.rego": "package ecs.extra_test\n\nimport rego.v1\n\n"
            "test_true if 1 == 1\n\ntest_false if {\n\tx := 1\n\tx == 2\n}\n"
        },
    )
    client = create_app(Settings(auth="none", policy_dir=directory)).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    reason = ready.get_json()["reason"]
    assert "startup self-check failed: Rego unit test data.ecs.extra_test.test_false (extra_test.rego:7)" in reason
    assert "failed: undefined, failed at extra_test.rego:9: x == 2 [the first that failed" in reason
    response = admit(client)
    assert response.status_code == 503 and response.get_json()["allowed"] is False


def test_a_module_opa_refuses_is_refused_with_opas_message_and_line(tmp_path):
    directory = policy_copy(tmp_path, **{"broken.rego": "package ecs.broken\n\nimport rego.v1\n\nx := y\n"})
    client = create_app(Settings(auth="none", policy_dir=directory)).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "policies do not compile" in ready.get_json()["reason"]
    assert "broken.rego:5: rego_unsafe_var_error: var y is unsafe" in ready.get_json()["reason"]
    assert admit(client).status_code == 503


# `with` over a rule chain aborted the previous embedded engine (rego-cpp); on OPA it is ordinary Rego.
WITH_OVER_A_RULE_CHAIN = """package ecs.chain_test

import rego.v1

b := input.v

c if b == 1

test_with_over_a_rule_chain if { c with input as {"v": 1} }
"""


def test_with_over_a_rule_chain_is_ordinary_rego(tmp_path):
    policy = load_policy_set(policy_copy(tmp_path))
    extended = replace(policy, tests=(*policy.tests, RegoFile("chain_test.rego", WITH_OVER_A_RULE_CHAIN)))
    check = selfcheck.self_check(extended)
    assert check.passed, check.reason
    assert check.tests == selfcheck.self_check(policy).tests + 1


def test_results_are_cached_per_policy_content(tmp_path, monkeypatch):
    policy = load_policy_set(policy_copy(tmp_path, **{"other.rego": "package ecs.other\n\ny := 2\n"}))
    first = selfcheck.self_check(policy)

    def no_rerun(*args, **kwargs):
        raise AssertionError("the self-check ran again")

    monkeypatch.setattr(selfcheck, "run_tests", no_rerun)
    assert selfcheck.self_check(policy) is first
    changed = replace(policy, modules=(*policy.modules, RegoFile("more.rego", "package ecs.more\n\nz := 3\n")))
    monkeypatch.setattr(selfcheck, "run_tests", rego_tests.run_tests)
    assert selfcheck.self_check(changed) is not first



def test_the_self_check_stops_at_the_first_failing_test():
    """A verdict needs one failure; each test of a package that fails as a whole costs a compile."""
    shipped = load_policy_set(POLICY_DIR)
    extra = RegoFile(
        "zz_extra_test.rego",
        "package ecs.zz_extra_test\n\nimport rego.v1\n\ntest_a if true\n\ntest_b if false\n\ntest_c if true\n",
    )
    policy = replace(shipped, tests=(*shipped.tests, extra))
    names = [result.qualified_name for result in rego_tests.run_tests(policy, until_failure=True)]
    assert names[-1] == "data.ecs.zz_extra_test.test_b" and "data.ecs.zz_extra_test.test_c" not in names
    assert [r.qualified_name for r in rego_tests.run_tests(policy)][-1] == "data.ecs.zz_extra_test.test_c"
