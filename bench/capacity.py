#!/usr/bin/env python3
"""The capacity model of docs/capacity.md, as arithmetic you can rerun with your own numbers.

    python bench/capacity.py --cpu-ms 4.0                       # one engine placement
    python bench/capacity.py --cpu-ms 4.0 --deploys 60,600,6000 --vcpu 1

Given CPU milliseconds per decision (the benchmark's "CPU ms" column, plus the sidecar's own CPU
for the OPA sidecar), it prints decisions/s per vCPU and per task, the scaling targets for the
template, and the tasks needed for each peak of deploys per minute.
"""

from __future__ import annotations

import argparse
import math
import sys


def tasks_needed(decisions_per_second: float, per_task: float, zones: int, rho_max: float) -> int:
    """N = max(2, ceil(rate * z / ((z - 1) * rho_max * per_task))): survive losing one zone at rho_max."""
    return max(2, math.ceil(decisions_per_second * zones / ((zones - 1) * rho_max * per_task)))


def p99_service_times(rho: float) -> float:
    """p99 of an M/M/1 queue's time in system, in service times: ln(100) / (1 - rho)."""
    return math.log(100) / (1 - rho)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-ms", type=float, required=True, help="CPU milliseconds per decision")
    parser.add_argument("--vcpu", type=float, default=0.5, help="vCPUs per task (default 0.5)")
    parser.add_argument("--zones", type=int, default=2, help="Availability Zones (default 2)")
    parser.add_argument("--rho-max", type=float, default=0.8, help="utilisation after losing a zone (default 0.8)")
    parser.add_argument("--per-deploy", type=float, default=1.0, help="decisions per deploy (default 1)")
    parser.add_argument("--deploys", default="10,100,1000,5000,20000", help="peak deploys per minute to tabulate")
    args = parser.parse_args(argv)
    if args.zones < 2 or not 0 < args.rho_max < 1 or args.cpu_ms <= 0 or args.vcpu <= 0:
        sys.exit("capacity: need --zones >= 2, 0 < --rho-max < 1, positive --cpu-ms and --vcpu")
    per_vcpu = 1000 / args.cpu_ms
    per_task = per_vcpu * args.vcpu
    rho = args.rho_max * (args.zones - 1) / args.zones
    service_ms = args.cpu_ms / args.vcpu
    print(f"decisions/s per vCPU {per_vcpu:.0f}, per task ({args.vcpu:g} vCPU) {per_task:.0f}")
    print(
        f"normal utilisation {rho:.2f}: RequestsPerTaskPerMinute {60 * rho * per_task:.0f}, "
        f"CpuTargetPercent {100 * rho:.0f}"
    )
    print(
        f"service time S {service_ms:.1f} ms: p99 ~{p99_service_times(rho) * service_ms:.0f} ms normal, "
        f"~{p99_service_times(args.rho_max) * service_ms:.0f} ms with a zone lost"
    )
    print("| peak deploys/min | decisions/s | tasks |")
    print("|---|---|---|")
    for deploys in (float(x) for x in args.deploys.split(",") if x.strip()):
        rate = deploys * args.per_deploy / 60
        print(f"| {deploys:g} | {rate:.1f} | {tasks_needed(rate, per_task, args.zones, args.rho_max)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
