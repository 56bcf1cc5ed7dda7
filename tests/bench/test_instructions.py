"""bench/instructions.py (docs/performance.md, "Counted in instructions"): its arithmetic, its measured
process, and the message without valgrind. The count itself needs valgrind and a minute; not run here."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "bench" / "instructions.py"


def _module():
    spec = importlib.util.spec_from_file_location("bench_instructions", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_count_is_read_from_valgrinds_summary():
    instructions = _module()
    assert instructions.instructions("==7== Cachegrind\n==7== I   refs:      5,066,291,590\n") == 5_066_291_590
    assert instructions.instructions("==7== I refs: 1,234\n") == 1234
    assert instructions.per_evaluation(2_290_000_000, 1_107_000_000, 100) == 11_830_000
    with pytest.raises(ValueError, match="no instruction count"):
        instructions.instructions("==7== valgrind: failed to start tool\n")


def test_the_measured_process_evaluates_the_document():
    env = {**os.environ, "PYTHONPATH": str(REPO / "service")}
    for path in ("ecs.admission.decision", "ecs.checks.trust.findings"):
        done = subprocess.run(
            [sys.executable, str(SCRIPT), "--measured", "2", "--path", path],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    undefined = subprocess.run(
        [sys.executable, str(SCRIPT), "--measured", "1", "--path", "ecs.admission.no_such_document"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert undefined.returncode != 0 and "undefined" in undefined.stderr


def test_without_valgrind_it_says_how_to_get_it(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--evaluations", "1"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2
    assert "valgrind is not installed (apt-get install valgrind)" in done.stderr
