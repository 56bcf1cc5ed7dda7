"""What the numbers were measured on: the machine and the server's worker model."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path


def worker_model() -> str:
    from ecs_admission.config import Settings
    from ecs_admission.web.server import gunicorn_options

    options = gunicorn_options(Settings())
    if isinstance(options["worker_class"], str):
        return options["worker_class"]
    return f"gthread, {options.get('threads')} threads"


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} CPU(s), {model}, {system}, Python {platform.python_version()}"
