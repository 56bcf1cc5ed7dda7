"""The restricted-builtin check's text pre-filter (engines/capabilities.py may_refer) skips OPA's
parse only where no reference can be: held to OPA's own parse, and to the refusal it guards."""

from __future__ import annotations

import shutil

import pytest

from ecs_admission.config import Settings
from ecs_admission.engines import UnavailableEngine, capabilities
from ecs_admission.engines.capabilities import RESTRICTED, builtins_referred, check_builtins, may_refer
from ecs_admission.engines.factory import build_engine
from ecs_admission.policy.loader import RegoFile, load_policy_set
from tests.conftest import REPO

HEADER = "package ecs.checks.phone_home\nimport rego.v1\n\n"
CALLS = [
    'r := http.send({"method": "GET", "url": "http://127.0.0.1:9/"})',
    'r := http["send"]({"method": "GET", "url": "http://127.0.0.1:9/"})',
    'r := http["se\\u006ed"]({"method": "GET", "url": "http://127.0.0.1:9/"})',
    'r := http[`send`]({"method": "GET", "url": "http://127.0.0.1:9/"})',
    "r := opa.runtime()",
    'r := opa["r\\u0075ntime"]()',
    'r := net.lookup_ip_addr("localhost")',
    'r := net["lookup_ip_addr"]("localhost")',
    "f := http.send\nr := 1",
]
# Text that names the builtins without referring to them: each was a parse before.
INNOCENT = [
    '# sends the runtime platform over the network (https://example.com/docs)\nr := {"send": "runtimePlatform"}',
    'r := input.task_definition.runtimePlatform.operatingSystemFamily == "LINUX"',
    'r := regex.match(`^\\u0041`, "send")',
]


def _module(body: str) -> RegoFile:
    return RegoFile("phone_home.rego", HEADER + body + "\n")


@pytest.mark.parametrize("body", CALLS + INNOCENT)
def test_the_filter_never_skips_a_module_opa_finds_a_reference_in(body):
    module = _module(body)
    if builtins_referred(module):
        assert may_refer(module.source, RESTRICTED)


@pytest.mark.parametrize("body", CALLS)
def test_every_spelling_of_a_call_is_refused(body):
    with pytest.raises(Exception, match="calls "):
        check_builtins(_policy(_module(body)))


@pytest.mark.parametrize("body", INNOCENT)
def test_text_naming_the_builtins_is_accepted_without_a_parse(body, monkeypatch):
    module = _module(body)
    assert not builtins_referred(module)  # OPA agrees: no reference
    monkeypatch.setattr(capabilities, "builtins_referred", _no_parse)
    assert not may_refer(module.source, RESTRICTED)
    check_builtins(_policy(module))


def test_the_shipped_policies_are_accepted_without_a_parse(monkeypatch):
    policy = load_policy_set(None)
    for module in policy.modules:
        assert not builtins_referred(module)
    monkeypatch.setattr(capabilities, "builtins_referred", _no_parse)
    check_builtins(policy)


def test_an_escaped_builtin_name_makes_the_set_unavailable(tmp_path):
    directory = tmp_path / "rego"
    shutil.copytree(REPO / "rego", directory)
    (directory / "phone_home.rego").write_text(_module(CALLS[2]).source)
    engine = build_engine(Settings(policy_dir=directory))
    assert isinstance(engine, UnavailableEngine)
    assert "phone_home.rego calls http.send" in engine.reason


def _no_parse(module):
    raise AssertionError(f"{module.name} was parsed")


def _policy(module: RegoFile):
    policy = load_policy_set(None)
    return type(policy)(policy.directory, (*policy.modules, module), policy.tests, policy.data, policy.revision)
