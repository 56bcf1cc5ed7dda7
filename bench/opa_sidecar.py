"""The OPA sidecar, measured only when this checkout has the OPA engine and the test stand-in for OPA."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from checkout import REPO
from server_lifecycle import free_port, wait_ready


@contextlib.contextmanager
def opa_standin(workdir: Path) -> Iterator[tuple[dict[str, str], int] | None]:
    """Start the test stand-in for the OPA sidecar if this checkout has it: (environment, pid), or None."""
    why = None
    if not (REPO / "tests" / "opa_standin.py").is_file():
        why = "tests/support/opa_standin.py is not in this checkout"
    else:
        try:
            import opa_bindings  # noqa: F401

            from ecs_admission.config import Settings

            if "opa_url" not in Settings.__dataclass_fields__:
                why = "this build has no OPA engine (ECS_ADMISSION_OPA_URL)"
        except ImportError as exc:
            why = f"{exc.name} is not installed"
    if why:
        print(f"opa: skipped ({why})")
        yield None
        return
    bundle = workdir / "bundle.tar.gz"
    built = subprocess.run(
        [sys.executable, "-m", "ecs_admission.cli", "policy", "bundle", "-o", str(bundle)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        print(f"opa: skipped (no policy bundle: {(built.stderr.strip().splitlines() or ['?'])[-1]})")
        yield None
        return
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.opa_standin", "--bundle", str(bundle), "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port, process, "/health", timeout=30)
        yield {"ECS_ADMISSION_OPA_URL": f"http://127.0.0.1:{port}"}, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)
