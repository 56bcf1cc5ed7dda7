"""tests/web's fixtures: `gate`, the hostile-input suite's server (tests/web/hostile.py), one per module."""

from __future__ import annotations

import pytest

from tests.web import hostile


@pytest.fixture(scope="module")
def gate(tmp_path_factory, request):
    yield from hostile.serve(tmp_path_factory, request)
