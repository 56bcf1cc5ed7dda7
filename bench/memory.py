#!/usr/bin/env python3
"""Measure the webhook's memory per gunicorn worker (docs/capacity.md, "Memory").

    python bench/memory.py                    # 2 workers, 400 requests, embedded engine
    python bench/memory.py --workers 4 --requests 2000 --json memory.json

It starts `ecs-admission serve` on 127.0.0.1 exactly as bench/run.py does (same inputs: the corpus
task definitions as envelopes with inline role facts), reads each process's memory from
/proc/PID/smaps_rollup once every worker is ready and again after the requests, and prints RSS
(what a process has resident, shared pages counted in each process that maps them) and PSS
(shared pages divided among the processes that share them). The sum of PSS over the master and
its workers is what the container's memory limit is charged; RSS of one worker is the per-worker
figure to size from, since after fork the workers share little.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import build_inputs, corpus_dir, machine, run_python, server

FIELDS = ("Rss", "Pss")


def memory_kib(pid: int) -> dict[str, int]:
    """Rss and Pss of one process, in KiB, from /proc/PID/smaps_rollup."""
    values: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in FIELDS:
                values[name] = int(rest.split()[0])
    return values


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
    return sorted(found)


def snapshot(master: int) -> dict[str, Any]:
    workers = [pid for pid in children(master) if memory_kib(pid)]
    # The policy self-check runs in short-lived children of each worker; only gunicorn workers count.
    return {"master": memory_kib(master), "workers": [memory_kib(pid) for pid in workers]}


def mib(kib: float) -> float:
    return kib / 1024


def report(label: str, shot: dict[str, Any]) -> None:
    workers = shot["workers"]
    rss = [w.get("Rss", 0) for w in workers]
    pss_total = shot["master"].get("Pss", 0) + sum(w.get("Pss", 0) for w in workers)
    print(
        f"{label}: master RSS {mib(shot['master'].get('Rss', 0)):.1f} MiB; "
        f"workers RSS {', '.join(f'{mib(r):.1f}' for r in rss)} MiB; "
        f"master + workers PSS {mib(pss_total):.1f} MiB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--requests", type=int, default=400, help="approximate requests to send (default 400)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    envelopes = build_inputs(corpus_dir())
    bodies = [json.dumps(e).encode() for e in envelopes]
    print(f"machine: {machine()}")
    print(f"server: gunicorn, {args.workers} sync worker(s); inputs: {len(bodies)} corpus task definitions")
    with (
        tempfile.TemporaryDirectory(prefix="ecs-admission-memory-") as workdir,
        server(args.workers, Path(workdir), {}) as (port, pid),
    ):
        time.sleep(1.0)  # every worker past its start-up, not only the one that answered /readyz
        idle = snapshot(pid)
        report("ready, idle", idle)
        sent = 0
        while sent < args.requests:
            point = run_python(port, 4, 1.0, bodies)
            sent += int(point["requests"])
        loaded = snapshot(pid)
        report(f"after {sent} requests", loaded)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "idle": idle, "loaded": loaded, "requests": sent}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
