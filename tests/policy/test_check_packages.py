"""The check packages listed once when the policies load (policy/packages.py), never at the cost
of a package: the reading agrees with OPA's own parser, anything unsure falls back to enumeration,
and a module added to a bundle by hand is still evaluated."""

from __future__ import annotations

import copy
import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from ecs_admission.config import Settings
from ecs_admission.engines.embedded import DECISION_PATH, EmbeddedEngine, load_bindings, new_opa, with_derived_data
from ecs_admission.errors import InputError
from ecs_admission.gate import build_gate, utc_now
from ecs_admission.inputs import normalise
from ecs_admission.policy.loader import RegoFile, load_policy_set
from ecs_admission.policy.packages import check_packages, package_path
from tests.conftest import EXAMPLES, POLICY_DIR, corpus_dir
from tests.support.opa_fixtures import build_bundle, bundle_members

POLICY = load_policy_set(POLICY_DIR)

TRICKY = {
    "plain": "package ecs.checks.acme\n",
    "comments first": "# METADATA\n# title: x\n\n# more\npackage ecs.checks.acme.deep # trailing\n",
    "indented": "   package ecs.checks.acme\n",
    "brackets": 'package ecs.checks["acme-x"]\n',
    "above the checks": "package ecs.checks\n",
    "root": "package ecs\n",
    "elsewhere": "package lib.strings\n",
    "data prefix": "package data.ecs.checks.acme\n",
}


def opa_package(source: str) -> tuple[str, ...] | None:
    """The package path OPA's parser reads (rego.parse_module), below data."""
    bindings = load_bindings()
    opa = bindings.OpaEngine()
    try:
        query = "ast := rego.parse_module(input.name, input.source)"
        rows = opa.eval_query(query, {"name": "m.rego", "source": source})
    except bindings.OpaError:
        return None
    finally:
        opa.close()
    terms = rows[0]["ast"]["package"]["path"][1:]
    return tuple(str(term["value"]) for term in terms)


@pytest.mark.parametrize("module", POLICY.modules, ids=lambda m: m.name)
def test_the_shipped_modules_are_read_as_opa_reads_them(module):
    assert package_path(module.source) == opa_package(module.source)


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_a_package_is_read_as_opa_reads_it_or_not_at_all(name):
    source = TRICKY[name] + "import rego.v1\n"
    ours = package_path(source)
    if ours is not None:
        assert ours == opa_package(source)
    else:
        assert name in ("brackets", "data prefix", "indented")


def test_the_shipped_list_is_the_enumerated_one():
    listed = check_packages(POLICY.modules, POLICY.data)
    enumerated = EmbeddedEngine(POLICY).query({}, "ecs.admission.check_packages")
    assert listed is not None and set(listed) == set(enumerated)
    assert with_derived_data(POLICY)["ecs"]["check_packages"] == listed


@pytest.mark.parametrize(
    ("source", "data"),
    [
        ("package ecs.checks\nimport rego.v1\nacme.deny contains 'x' if input.x\n", {}),
        ("package ecs\nimport rego.v1\nchecks.acme.deny contains 'x' if input.x\n", {}),
        ('package ecs.checks["acme"]\nimport rego.v1\ndeny contains "x" if input.x\n', {}),
        ("package ecs.checks.acme\nimport rego.v1\n", {"checks": {"other": {}}}),
    ],
    ids=["ref head in ecs.checks", "ref head in ecs", "bracketed package", "checks as data"],
)
def test_unsure_means_no_list(source, data):
    modules = (*POLICY.modules, RegoFile("extra.rego", source))
    assert check_packages(modules, {"ecs": {**POLICY.data["ecs"], **data}}) is None


def test_a_package_defined_through_a_rule_head_is_still_evaluated(tmp_path):
    # No list for this set (ecs.checks holds a rule): the decision enumerates and finds acme.
    policy_dir = tmp_path / "policies"
    policy_dir.mkdir()
    for path in POLICY_DIR.iterdir():
        if path.is_file() and not path.name.endswith("_test.rego"):
            (policy_dir / path.name).write_bytes(path.read_bytes())
    (policy_dir / "acme.rego").write_text(
        'package ecs.checks\nimport rego.v1\nacme.deny contains "acme says no" if input.task_definition.family\n'
    )
    policy = load_policy_set(policy_dir)
    assert "check_packages" not in with_derived_data(policy)["ecs"]
    decision = EmbeddedEngine(policy).query({"task_definition": {"family": "web"}})
    assert "acme says no" in {finding["message"] for finding in decision["violations"]}


def add_to_bundle(bundle: Path, name: str, source: str) -> Path:
    """The bundle with one more module, added by hand as an operator might."""
    members = []
    with tarfile.open(bundle) as archive:
        for member in archive.getmembers():
            extracted = archive.extractfile(member)
            members.append((member, extracted.read() if extracted else b""))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for member, content in members:
            archive.addfile(member, io.BytesIO(content))
        info = tarfile.TarInfo(name)
        info.size = len(source.encode())
        archive.addfile(info, io.BytesIO(source.encode()))
    changed = bundle.with_name("changed.tar.gz")
    changed.write_bytes(gzip.compress(buffer.getvalue()))
    return changed


def test_a_module_added_to_a_bundle_by_hand_is_evaluated(tmp_path):
    from tests.support.opa_standin import OpaStandin

    bundle = build_bundle(tmp_path / "bundle.tar.gz")
    data = json.loads(bundle_members(bundle)["/data.json"])
    assert "check_packages" not in data["ecs"]  # a bundle never carries the list
    changed = add_to_bundle(
        bundle,
        "handmade.rego",
        'package ecs.checks.handmade\nimport rego.v1\ndeny contains "handmade says no" if input.task_definition\n',
    )
    clean = json.loads((EXAMPLES / "taskdef-clean.json").read_text())
    document = {"task_definition": clean, "task_roles": {}, "context": {}}
    with OpaStandin(changed) as standin:
        decision = standin.evaluate("ecs/admission/decision", document, with_input=True)
    assert "handmade says no" in {finding["message"] for finding in decision["violations"]}


def test_decisions_with_the_list_are_the_enumerated_ones_on_the_corpus_and_mutations():
    """The same decision with data.ecs.check_packages as without it (the enumeration, as before),
    and without the decision table worked out in advance."""
    listed = EmbeddedEngine(POLICY)
    untabled = EmbeddedEngine(POLICY, expected_decisions=1)  # a `check` of one file: no table worked out
    data = with_derived_data(POLICY)
    assert "check_packages" in data["ecs"] and "decision_table" in data["ecs"]
    assert "decision_table" not in with_derived_data(POLICY, table=False)["ecs"]
    enumerating = new_opa(POLICY.modules, {"ecs": {k: v for k, v in data["ecs"].items() if k != "check_packages"}})
    gate = build_gate(Settings(iam_lookup="off"), listed)
    documents = []
    for path in sorted(corpus_dir().rglob("*.json")):
        try:
            documents.append(json.loads(path.read_text()))
        except ValueError:
            continue
    compared = findings = 0
    for document in documents:
        variants = [document]
        if isinstance(document, dict) and isinstance(document.get("containerDefinitions"), list):
            for change in ({"privileged": True}, {"user": "root"}, {"readonlyRootFilesystem": False}):
                changed = copy.deepcopy(document)
                for container in changed["containerDefinitions"]:
                    if isinstance(container, dict):
                        container.update(change)
                variants.append(changed)
            variants.append({**document, "networkMode": "host", "pidMode": "host"})
        for variant in variants:
            try:
                request = normalise(variant)
            except InputError:
                continue
            input_document = gate.input_document(request, utc_now())
            decision = listed.query(input_document)
            assert decision == enumerating.eval_document(DECISION_PATH, input_document)
            assert decision == untabled.query(input_document)
            compared += 1
            findings += len(decision["violations"]) + len(decision["warnings"])
    enumerating.close()
    assert compared >= 30 and findings >= 50, (compared, findings)
