"""The load generators that drive POST /v1/admit: wrk when installed, else keep-alive Python threads."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from latency_summary import summarise

WRK_SCRIPT = """
local bodies = {}
local counter = 0
init = function(args)
  for _, path in ipairs(args) do
    local f = assert(io.open(path, "rb")); bodies[#bodies + 1] = f:read("*a"); f:close()
  end
end
request = function()
  counter = counter % #bodies + 1
  return wrk.format("POST", "/v1/admit?dry_run=true", {["Content-Type"] = "application/json"}, bodies[counter])
end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "BENCH {\\"requests\\": %d, \\"seconds\\": %f, \\"p50_us\\": %f, \\"p95_us\\": %f, \\"p99_us\\": %f, " ..
    "\\"mean_us\\": %f, \\"errors\\": %d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.mean, errors))
end
"""


def run_wrk(port: int, clients: int, seconds: float, bodies: list[Path], workdir: Path) -> dict[str, float]:
    script = workdir / "admit.lua"
    script.write_text(WRK_SCRIPT)
    command = [
        "wrk",
        "-t1",
        f"-c{clients}",
        f"-d{max(1, round(seconds))}s",  # wrk takes whole seconds
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
        "--",
        *map(str, bodies),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        sys.exit(f"bench: wrk failed: {completed.stderr.strip() or completed.stdout.strip()}")
    output = completed.stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    data = json.loads(line[len("BENCH ") :])
    return {
        "requests": data["requests"],
        "rps": data["requests"] / data["seconds"],
        "mean_ms": data["mean_us"] / 1000,
        "p50_ms": data["p50_us"] / 1000,
        "p95_ms": data["p95_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "errors": data["errors"],
    }


def run_python(port: int, clients: int, seconds: float, bodies: list[bytes]) -> dict[str, float]:
    """Keep-alive threads, one connection each; a lower bound (the client shares the CPU and GIL)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    deadline = time.perf_counter() + seconds

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        position = index
        while time.perf_counter() < deadline:
            body = bodies[position % len(bodies)]
            position += 1
            started = time.perf_counter()
            try:
                connection.request(
                    "POST", "/v1/admit?dry_run=true", body=body, headers={"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    errors[index] += 1
            except OSError:
                errors[index] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            latencies[index].append((time.perf_counter() - started) * 1000)
        connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = summarise([x for per in latencies for x in per], time.perf_counter() - started)
    result["errors"] = sum(errors)
    return result


LoadRunner = Callable[[int, float], dict[str, float]]


def load_runner(use_wrk: bool, workdir: Path, port: int, paths: list[Path], bodies: list[bytes]) -> LoadRunner:
    """(clients, seconds) -> one point against the server on port, whichever generator this run uses.

    Both forms of the bodies are passed because wrk reads its bodies from files and the Python
    client posts bytes."""
    if use_wrk:
        return lambda clients, seconds: run_wrk(port, clients, seconds, paths, workdir)
    return lambda clients, seconds: run_python(port, clients, seconds, bodies)
