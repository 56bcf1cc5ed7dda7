"""CPU time of a process tree, read from /proc."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def process_tree_cpu_seconds(root: int) -> float:
    """User + system CPU of a process and its children (the gunicorn master and its workers).

    A figure the machine's other load barely moves, unlike latency: CPU per request.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(entry) == root or int(fields[1]) == root:
                    total += (int(fields[11]) + int(fields[12])) / ticks
    return total
