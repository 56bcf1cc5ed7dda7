"""The policy cache (policy/cache.py): a `check` reads what the YAML gives from an entry keyed by
everything that makes it, the same PolicySet as reading the files, and never trusts an entry that
is damaged, foreign or for other inputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

from ecs_admission.policy import cache
from ecs_admission.policy.loader import PolicyError, load_policy_set
from tests.conftest import POLICY_DIR, REPO


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(directory))
    return directory


@pytest.fixture
def policies(tmp_path):
    directory = tmp_path / "rego"
    shutil.copytree(POLICY_DIR, directory)
    return directory


def _entries(directory):
    return sorted(directory.glob("*.json")) if directory.exists() else []


def test_a_hit_is_the_set_read_from_the_files(cache_dir, policies):
    fresh = load_policy_set(policies)
    first = load_policy_set(policies, cached=True)  # a miss: read, then written
    assert first == fresh and len(_entries(cache_dir)) == 1
    second = load_policy_set(policies, cached=True)  # a hit
    assert second == fresh
    assert second.catalog == fresh.catalog and second.revision == fresh.revision
    assert second.data_files == fresh.data_files
    assert os.stat(_entries(cache_dir)[0]).st_mode & 0o077 == 0


def test_any_change_to_the_inputs_is_another_entry(cache_dir, policies, monkeypatch):
    original = load_policy_set(policies, cached=True)
    config = policies / "config.yaml"
    config.write_text(config.read_text() + "\n# a comment changes no value, and still the key\n")
    assert load_policy_set(policies, cached=True) == load_policy_set(policies)
    module = policies / "hardening.rego"
    module.write_text(module.read_text().replace("#   severity: medium", "#   severity: critical", 1))
    changed = load_policy_set(policies, cached=True)
    assert changed == load_policy_set(policies) and changed.catalog != original.catalog
    # A conftest shim is generated for a configured namespace a module declares (by default
    # `main`): the environment changes the modules, so the key.
    (policies / "conftest_main.rego").write_text(CONFTEST)
    shimmed = load_policy_set(policies, cached=True)
    assert shimmed == load_policy_set(policies)
    monkeypatch.setenv("ECS_ADMISSION_CONFTEST_NAMESPACES", "other")
    unshimmed = load_policy_set(policies, cached=True)
    assert unshimmed == load_policy_set(policies) and len(unshimmed.modules) == len(shimmed.modules) - 1
    assert len(_entries(cache_dir)) == 5


CONFTEST = 'package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tinput.never\n\tmsg := "x"\n}\n'


def _damage(entry, how):
    stored = json.loads(entry.read_text())
    if how == "truncated":
        entry.write_text(entry.read_text()[:100])
    elif how == "payload":  # a severity changed without the checksum
        catalog = stored["payload"]["documents"]["catalog"]
        first = next(iter(catalog))
        catalog[first]["severity"] = "low" if catalog[first]["severity"] != "low" else "critical"
        entry.write_text(json.dumps(stored))
    elif how == "key":
        stored["key"] = "0" * 64
        entry.write_text(json.dumps(stored))
    elif how == "format":
        stored["format"] = 999
        entry.write_text(json.dumps(stored))
    elif how == "shape":
        stored["payload"]["documents"] = []
        stored["sha256"] = cache._checksum(stored["payload"])
        entry.write_text(json.dumps(stored))
    elif how == "group-writable":
        entry.chmod(0o660)
    elif how == "link":
        target = entry.with_suffix(".real")
        entry.rename(target)
        entry.symlink_to(target)


@pytest.mark.parametrize("how", ["truncated", "payload", "key", "format", "shape", "group-writable", "link"])
def test_a_damaged_or_foreign_entry_is_never_trusted(cache_dir, policies, how):
    fresh = load_policy_set(policies)
    load_policy_set(policies, cached=True)
    (entry,) = _entries(cache_dir)
    _damage(entry, how)
    assert cache.slot([(m.name, m.source) for m in fresh.modules], []) is not None
    assert load_policy_set(policies, cached=True) == fresh


def test_a_directory_others_can_write_is_not_used(cache_dir, policies):
    load_policy_set(policies, cached=True)
    cache_dir.chmod(0o777)
    assert load_policy_set(policies, cached=True) == load_policy_set(policies)
    place = cache.slot([("a.rego", "package a")], [])
    assert place is not None and place.get() is None


def test_off_writes_nothing_and_a_set_that_fails_is_never_written(tmp_path, policies, monkeypatch):
    directory = tmp_path / "cache"
    for off in ("off", "0", "false"):
        monkeypatch.setenv(cache.CACHE_ENV, off)
        assert cache.cache_dir() is None
        load_policy_set(policies, cached=True)
    assert not directory.exists()
    monkeypatch.setenv(cache.CACHE_ENV, str(directory))
    (policies / "config.yaml").write_text("rules: [unclosed\n")
    with pytest.raises(PolicyError, match=r"config\.yaml: not valid YAML"):
        load_policy_set(policies, cached=True)
    assert _entries(directory) == []


def test_data_yaml_reads_as_numbers_is_cached_as_json_holds_it(cache_dir, policies):
    # YAML gives an integer key here; the loader holds it as JSON does, a string (policy/data.py as_json).
    (policies / "extra.yaml").write_text("ports:\n  443: https\n")
    fresh = load_policy_set(policies)
    assert fresh.data["ecs"]["extra"]["ports"] == {"443": "https"}
    assert load_policy_set(policies, cached=True) == fresh
    assert load_policy_set(policies, cached=True) == fresh
    assert len(_entries(cache_dir)) == 1


def test_an_entry_serves_the_same_files_in_another_directory(cache_dir, policies):
    load_policy_set(None, cached=True)  # the shipped set
    copy = load_policy_set(policies, cached=True)  # the same files, copied: found, not read
    assert copy == load_policy_set(policies) and copy.directory == policies
    assert len(_entries(cache_dir)) == 1


def test_the_default_directory_follows_xdg(monkeypatch, tmp_path):
    assert cache.cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "ecs-admission" / "policy"
    assert cache.cache_dir({cache.CACHE_ENV: str(tmp_path / "c")}) == tmp_path / "c"


def test_concurrent_loads_see_a_whole_entry_or_none(cache_dir, policies):
    fresh = load_policy_set(policies)
    results, errors = [], []

    def load():
        try:
            for _ in range(5):
                results.append(load_policy_set(policies, cached=True))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 40 and all(result == fresh for result in results)
    assert len(_entries(cache_dir)) == 1 and not list(cache_dir.glob(".tmp-*"))


def test_old_entries_are_pruned(cache_dir, policies):
    module = policies / "lib.rego"
    text = module.read_text()
    for revision in range(cache.KEEP + 3):
        module.write_text(text + f"\n# revision {revision}\n")
        load_policy_set(policies, cached=True)
    assert len(_entries(cache_dir)) == cache.KEEP


HIT_PROBE = """
import sys
from ecs_admission.policy.loader import load_policy_set
load_policy_set(cached=True)
before = "yaml" in sys.modules
load_policy_set(cached=True)
print(before, "yaml" in sys.modules)
"""


def test_a_hit_reads_no_yaml(cache_dir):
    env = {"PATH": "/usr/bin:/bin", cache.CACHE_ENV: str(cache_dir)}
    first = subprocess.run([sys.executable, "-c", HIT_PROBE], capture_output=True, text=True, cwd=REPO, env=env)
    assert first.stdout.split() == ["True", "True"], first.stderr  # the miss reads the YAML
    second = subprocess.run([sys.executable, "-c", HIT_PROBE], capture_output=True, text=True, cwd=REPO, env=env)
    assert second.stdout.split() == ["False", "False"], second.stderr
