"""The server's temporary directory (issue 21 row 11): the shipped ECS task has a read-only root
filesystem, and without a writable temporary directory gunicorn exited 1 ("No usable temporary
directory found") without naming anything to set."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

from ecs_admission.web.tempdir import TemporaryDirectoryUnavailable, use_temporary_directory
from tests.conftest import REPO, free_port, serving


@pytest.fixture()
def restore_tempdir(monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setenv("TMPDIR", os.environ.get("TMPDIR", "/tmp"))
    yield
    tempfile.tempdir = None


def test_no_usable_directory_says_what_to_set_or_mount(restore_tempdir, monkeypatch, tmp_path):
    # What a read-only root filesystem leaves: every directory tempfile would try is unusable.
    monkeypatch.setattr(tempfile, "_candidate_tempdir_list", lambda: [str(tmp_path / "missing")])
    monkeypatch.setattr(tempfile, "tempdir", None)  # tmp_path itself made tempfile choose one already
    with pytest.raises(TemporaryDirectoryUnavailable) as refused:
        use_temporary_directory(None)
    assert "ECS_ADMISSION_TMP_DIR" in str(refused.value) and "read-only root filesystem" in str(refused.value)


def test_the_configured_directory_is_used_by_everything_that_asks_tempfile(restore_tempdir, tmp_path):
    assert use_temporary_directory(str(tmp_path)) == str(tmp_path)
    assert tempfile.mkdtemp(prefix="probe-").startswith(str(tmp_path))
    with pytest.raises(TemporaryDirectoryUnavailable, match="not a directory"):
        use_temporary_directory(str(tmp_path / "missing"))


def run(command: list[str], tmp_dir: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "ECS_ADMISSION_TMP_DIR": tmp_dir,
        "ECS_ADMISSION_AUTH": "none",
        "ECS_ADMISSION_HOST": "127.0.0.1",
        "ECS_ADMISSION_PORT": str(free_port()),
    }
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_serve_without_a_writable_directory_exits_2_with_one_line(tmp_path):
    done = run([sys.executable, "-m", "ecs_admission.cli", "serve"], str(tmp_path / "missing"))
    assert done.returncode == 2
    assert "ECS_ADMISSION_TMP_DIR" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_the_image_entry_point_says_the_same_before_any_worker_starts(tmp_path):
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    done = run([gunicorn, "-c", "python:ecs_admission.gunicorn_conf"], str(tmp_path / "missing"))
    assert done.returncode != 0
    assert "ECS_ADMISSION_TMP_DIR" in done.stderr and "Booting worker" not in done.stderr, done.stderr[-2000:]


def test_serve_keeps_its_files_in_the_configured_directory(tmp_path):
    with serving({"ECS_ADMISSION_TMP_DIR": str(tmp_path)}):
        assert any(p.name.startswith("ecs-admission-metrics-") for p in tmp_path.iterdir())
