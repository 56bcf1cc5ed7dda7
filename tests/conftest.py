"""Shared fixtures: the app with the shipped policies, the example files, the shared corpus."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from ecs_admission.config import Settings
from ecs_admission.web import create_app

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
POLICY_DIR = REPO / "rego"


def corpus_dir() -> Path:
    """The shared corpus: ../shared/corpus beside the checkout (CI lays a copy there)."""
    configured = os.environ.get("ECS_ADMISSION_CORPUS")
    return Path(configured) if configured else REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = corpus_dir()
    if not path.is_dir():
        pytest.fail(f"shared corpus not found at {path}; set ECS_ADMISSION_CORPUS")
    return path


@pytest.fixture(scope="session")
def app():
    # Authentication is tested in test_auth.py; the contract tests run with it off, as a local run does.
    return create_app(Settings(auth="none"))


@pytest.fixture()
def client(app):
    return app.test_client()


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
