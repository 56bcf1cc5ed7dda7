"""bench/capacity.py: the arithmetic of docs/capacity.md (tasks for a peak, scaling targets)."""

from __future__ import annotations

import importlib.util
import math

from tests.conftest import REPO


def capacity():
    spec = importlib.util.spec_from_file_location("capacity", REPO / "bench" / "capacity.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_tasks_is_the_floor_whatever_the_load():
    assert capacity().tasks_needed(0.0, 40.0, zones=2, rho_max=0.8) == 2
    assert capacity().tasks_needed(16.7, 40.0, zones=2, rho_max=0.8) == 2


def test_tasks_survive_losing_a_zone_at_rho_max():
    model = capacity()
    rate, per_task = 83.3, 40.0
    n = model.tasks_needed(rate, per_task, zones=2, rho_max=0.8)
    assert n == 6
    # Half of them (one zone lost) carry the peak at no more than 0.8; one task fewer would not.
    assert rate / ((n // 2) * per_task) <= 0.8 < rate / (((n - 1) // 2) * per_task)
    assert model.tasks_needed(rate, per_task, zones=3, rho_max=0.8) == math.ceil(rate * 3 / (2 * 0.8 * per_task))


def test_p99_in_service_times():
    assert round(capacity().p99_service_times(0.8), 1) == 23.0


def test_the_table_is_printed(capsys):
    assert capacity().main(["--cpu-ms", "12.5", "--deploys", "5000"]) == 0
    out = capsys.readouterr().out
    assert "per task (0.5 vCPU) 40" in out and "RequestsPerTaskPerMinute 960" in out
    assert "| 5000 | 83.3 | 6 |" in out
