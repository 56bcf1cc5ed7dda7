#!/usr/bin/env python3
"""Benchmark the webhook under gunicorn on loopback (docs/performance.md).

    python bench/run.py                      # in-process engine, 1/8/32 clients, 5 s per point
    python bench/run.py --duration 3 --clients 1,8 --workers 2 --json results.json
    python bench/run.py --inputs corpus      # the corpus task definitions (ECS_ADMISSION_CORPUS)

For each engine placement it starts `ecs-admission serve` on 127.0.0.1 (authentication off,
decision records on and written to a file, as in production), drives POST /v1/admit with the
inputs, and prints requests/s and p50/p95/p99 latency per concurrency. The default input is
bench/hardened-fargate.json: a hardened Fargate task definition (two containers, secrets, awslogs)
in an envelope with both roles' IAM facts inline, which the gate allows; `--inputs corpus` uses
the corpus task definitions instead, each wrapped in an envelope with inline facts. In the same
run it measures the bare-Flask floor (bench/floor_app.py under the same gunicorn worker model)
and prints each point's ratio to it, and whether the target (>= 500 decisions/s and p99 <= 10 ms
at 8 clients) is met. The load generator is wrk when installed (Debian: `apt-get
install wrk`), else a keep-alive Python client (which competes with the server for the CPU, so
its numbers are lower bounds). It also times the embedded engine alone on the same inputs
(EmbeddedEngine.evaluate in a loop): the floor the webhook cannot beat, and the ratio to it.

The OPA sidecar is measured too when the OPA engine and the test stand-in for OPA
(tests/support/opa_standin.py, OPA's Go evaluator behind OPA's REST API) are present; otherwise skipped.

`--facts cache` measures the other way role facts arrive: the same task definitions, their roles
created in moto's IAM (ThreadedMotoServer on 127.0.0.1, never AWS) and looked up by the server
(ECS_ADMISSION_IAM_LOOKUP=on), with every worker's IAM cache warmed before the clock starts.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "111122223333"
PERMISSIONS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::app-config/*"}],
}


# --- inputs --------------------------------------------------------------------------------------


def corpus_dir() -> Path:
    """ECS_ADMISSION_CORPUS when set (the larger corpus), else the corpus the test suite ships."""
    configured = os.environ.get("ECS_ADMISSION_CORPUS")
    path = Path(configured) if configured else REPO / "tests" / "fixtures" / "corpus"
    if not path.is_dir():
        sys.exit(f"bench: no corpus at {path}; set ECS_ADMISSION_CORPUS to a folder of task definitions")
    return path


HARDENED = Path(__file__).resolve().parent / "hardened-fargate.json"
TARGET = {"clients": 8, "rps": 500.0, "p99_ms": 10.0}


def hardened_inputs() -> list[dict[str, Any]]:
    return [json.loads(HARDENED.read_text())]


def build_inputs(corpus: Path) -> list[dict[str, Any]]:
    """Corpus task definitions the gate accepts, as envelopes with inline role facts."""
    from ecs_admission.errors import InputError
    from ecs_admission.inputs import normalise, parse_file_bytes

    trust_files = sorted((corpus / "trust-policies").glob("*.json"))
    trust = json.loads(trust_files[0].read_text()) if trust_files else {"Version": "2012-10-17", "Statement": []}
    envelopes = []
    for path in sorted((corpus / "register").glob("*.json")) + sorted((corpus / "codedeploy").glob("*.json")):
        try:
            request = normalise(parse_file_bytes(path.read_bytes(), path.name))
        except InputError:
            continue
        roles = {}
        for field in ("taskRoleArn", "executionRoleArn"):
            arn = request.task_definition.get(field)
            if isinstance(arn, str) and arn.startswith("arn:aws:iam::"):
                roles[arn] = {"trustPolicy": trust, "policies": [PERMISSIONS]}
        envelopes.append(
            {
                "taskDefinition": request.task_definition,
                "roles": roles,
                "context": {"account": ACCOUNT, "region": "us-east-1"},
            }
        )
    if not envelopes:
        sys.exit(f"bench: no usable task definitions under {corpus}")
    return envelopes


# --- the raw engine ------------------------------------------------------------------------------


def raw_engine(envelopes: list[dict[str, Any]], seconds: float) -> dict[str, float]:
    """EmbeddedEngine.evaluate alone on the documents the gate builds for the same inputs."""
    from ecs_admission.config import Settings
    from ecs_admission.gate import build_gate, utc_now
    from ecs_admission.inputs import normalise

    gate = build_gate(Settings(auth="none"))
    documents = [gate.input_document(normalise(envelope), utc_now()) for envelope in envelopes]
    for document in documents:  # warm up
        gate.engine.evaluate(document)
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for document in documents:
            started = time.perf_counter()
            gate.engine.evaluate(document)
            samples.append((time.perf_counter() - started) * 1000)
    return summarise(samples, seconds)


def summarise(samples_ms: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    return {
        "requests": len(ordered),
        "rps": len(ordered) / seconds,
        "mean_ms": statistics.fmean(ordered),
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "errors": 0,
    }


# --- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(port: int, process: subprocess.Popen, path: str = "/readyz", timeout: float = 60) -> None:
    """Until GET path answers 200 on 127.0.0.1:port; exit the bench if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"bench: the process meant to serve port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        time.sleep(0.2)
    sys.exit(f"bench: nothing answered GET {path} on port {port} within {timeout:g}s")


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


@contextlib.contextmanager
def floor_server(workers: int, workdir: Path) -> Iterator[tuple[int, int]]:
    """bench/floor_app.py under gunicorn with the webhook's own worker model (ecs_admission.web.server)."""
    from ecs_admission.config import Settings
    from ecs_admission.web.server import gunicorn_options

    options = gunicorn_options(Settings(workers=workers))
    worker_class = options["worker_class"]
    if not isinstance(worker_class, str):  # the webhook's gthread worker with a read deadline (web/worker.py)
        worker_class = "gthread"
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--chdir", str(Path(__file__).resolve().parent),
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", worker_class,
        "--keep-alive", str(options["keepalive"]), "--log-level", "warning",
    ]  # fmt: skip
    if options.get("threads"):
        command += ["--threads", str(options["threads"])]
    with open(workdir / "floor.log", "ab") as log:
        process = subprocess.Popen([*command, "floor_app:app"], cwd=REPO, stdout=log, stderr=log)
    with running(process, port):
        yield port, process.pid


@contextlib.contextmanager
def running(process: subprocess.Popen, port: int) -> Iterator[None]:
    """Until the block ends: ready first, then stopped (killed if it will not stop)."""
    try:
        wait_ready(port, process)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def server(workers: int, workdir: Path, extra_env: dict[str, str]) -> Iterator[tuple[int, int]]:
    port = free_port()
    env = {
        **os.environ,
        **extra_env,
        "ECS_ADMISSION_AUTH": "none",
        "ECS_ADMISSION_HOST": "127.0.0.1",
        "ECS_ADMISSION_PORT": str(port),
        "ECS_ADMISSION_WORKERS": str(workers),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with open(workdir / "records.jsonl", "ab") as records, open(workdir / "server.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ecs_admission.cli.commands", "serve"], cwd=REPO, env=env, stdout=records, stderr=log
        )
    with running(process, port):
        yield port, process.pid


# --- load generators -----------------------------------------------------------------------------

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


# --- IAM facts from a warm cache (moto) ----------------------------------------------------------

ROLE_NAME_RE = re.compile(r"[^\w+=,.@-]")


@contextlib.contextmanager
def moto_iam(envelopes: list[dict[str, Any]]) -> Iterator[tuple[dict[str, str], list[dict[str, Any]]]]:
    """moto's IAM on 127.0.0.1 holding the envelopes' roles; yields the server's environment and the
    envelopes without inline roles, their role ARNs moved into moto's account (a lookup never
    crosses accounts)."""
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    aws = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        iam = session.client("iam", endpoint_url=aws["AWS_ENDPOINT_URL"])
        account = session.client("sts", endpoint_url=aws["AWS_ENDPOINT_URL"]).get_caller_identity()["Account"]
        created: dict[str, str] = {}
        looked_up = []
        for envelope in envelopes:
            task = dict(envelope["taskDefinition"])
            for field in ("taskRoleArn", "executionRoleArn"):
                arn = task.get(field)
                facts = envelope["roles"].get(arn) if isinstance(arn, str) else None
                if facts is None:
                    continue
                name = ROLE_NAME_RE.sub("-", arn.rsplit("/", 1)[-1])[:64]
                if name not in created:
                    created[name] = iam.create_role(
                        RoleName=name, AssumeRolePolicyDocument=json.dumps(facts["trustPolicy"])
                    )["Role"]["Arn"]
                    for index, document in enumerate(facts["policies"]):
                        iam.put_role_policy(
                            RoleName=name, PolicyName=f"inline-{index}", PolicyDocument=json.dumps(document)
                        )
                task[field] = created[name]
            looked_up.append(
                {
                    **envelope,
                    "taskDefinition": task,
                    "roles": {},
                    "context": {"account": account, "region": "us-east-1"},
                }
            )
        env = {**aws, "ECS_ADMISSION_IAM_LOOKUP": "on", "ECS_ADMISSION_IAM_CACHE_TTL": "3600"}
        yield env, looked_up
    finally:
        moto.stop()


def iam_cache_misses(port: int) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    return sum(
        float(line.split()[-1]) for line in text.splitlines() if line.startswith("ecs_admission_iam_cache_misses_total")
    )


def warm_iam_cache(port: int, bodies: list[bytes], rounds: int = 20) -> None:
    """Post every body several times from 8 concurrent clients until a whole pass looks nothing up.

    Each worker keeps its own cache and the kernel picks which one accepts a connection; only
    concurrent requests keep every worker busy enough to see every body (one request at a time
    tends to land on the same worker again)."""

    def post(body: bytes) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/v1/admit?dry_run=true", body=body, headers={"Content-Type": "application/json"})
        connection.getresponse().read()
        connection.close()

    with ThreadPoolExecutor(8) as pool:
        for _ in range(rounds):
            before = iam_cache_misses(port)
            list(pool.map(post, bodies * 8))
            if iam_cache_misses(port) == before:
                return
    print("bench: warning: the IAM cache was still missing after the warm-up; cache numbers include lookups")


# --- OPA (optional) ------------------------------------------------------------------------------


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
        [sys.executable, "-m", "ecs_admission.cli.commands", "policy", "bundle", "-o", str(bundle)],
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


# --- main ----------------------------------------------------------------------------------------


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,8,32", help="comma-separated concurrency levels (default 1,8,32)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per point (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto", help="load generator")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--no-opa", action="store_true", help="skip the OPA sidecar even if available")
    parser.add_argument(
        "--inputs",
        choices=("hardened", "corpus"),
        default="hardened",
        help="bench/hardened-fargate.json (default) or the corpus task definitions (ECS_ADMISSION_CORPUS)",
    )
    parser.add_argument(
        "--facts",
        default="inline,cache",
        help="how role facts arrive, comma-separated: inline (in the envelope) and/or cache (IAM lookups "
        "against moto on 127.0.0.1, cache warmed first); default both",
    )
    args = parser.parse_args(argv)
    fact_modes = [x.strip() for x in args.facts.split(",") if x.strip()]
    if not fact_modes or set(fact_modes) - {"inline", "cache"}:
        sys.exit("bench: --facts takes inline, cache or both")
    levels = [int(x) for x in args.clients.split(",") if x.strip()]
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    if args.client == "wrk" and not shutil.which("wrk"):
        sys.exit("bench: wrk is not installed (apt-get install wrk)")

    envelopes = hardened_inputs() if args.inputs == "hardened" else build_inputs(corpus_dir())
    workdir = Path(tempfile.mkdtemp(prefix="ecs-admission-bench-"))

    def write_bodies(name: str, items: list[dict[str, Any]]) -> tuple[list[Path], list[bytes]]:
        paths = []
        for index, envelope in enumerate(items):
            path = workdir / f"{name}-{index:03d}.json"
            path.write_bytes(json.dumps(envelope).encode())
            paths.append(path)
        return paths, [p.read_bytes() for p in paths]

    def runner(port: int, paths: list[Path], bodies: list[bytes]) -> Any:
        if use_wrk:
            return lambda clients, seconds: run_wrk(port, clients, seconds, paths, workdir)
        return lambda clients, seconds: run_python(port, clients, seconds, bodies)

    paths, bodies = write_bodies("inline", envelopes)
    size = statistics.fmean(len(b) for b in bodies)
    roles = sum(len(e["roles"]) for e in envelopes)
    print(f"machine: {machine()}")
    print(
        f"server: gunicorn, {args.workers} worker(s) ({worker_model()}), auth off, decision records on; load: "
        f"{'wrk' if use_wrk else 'Python keep-alive threads'}, {args.duration:g} s per point"
    )
    what = "the hardened Fargate task definition" if args.inputs == "hardened" else "corpus task definitions"
    print(f"inputs: {len(envelopes)} x {what} as envelopes, {roles} inline role(s), {size:.0f} B mean")

    floor: dict[int, dict[str, Any]] = {}
    with floor_server(args.workers, workdir) as (port, _pid):
        run_floor = runner(port, paths, bodies)
        run_floor(2, 1.0)
        for clients in levels:
            floor[clients] = run_floor(clients, args.duration)
            point = floor[clients]
            print(
                f"bare Flask floor, {clients} client(s): {point['rps']:.0f} req/s, p50 {point['p50_ms']:.2f} ms, "
                f"p99 {point['p99_ms']:.2f} ms"
            )

    raw = raw_engine(envelopes, min(args.duration, 3.0))
    print(
        f"raw engine (EmbeddedEngine.evaluate, in-process): mean {raw['mean_ms']:.3f} ms, "
        f"p50 {raw['p50_ms']:.3f} ms, p99 {raw['p99_ms']:.3f} ms"
    )
    results: list[dict[str, Any]] = []
    # CPU ms: the webhook's (gunicorn master and workers); +OPA ms: the sidecar's own, when there is one.
    columns = ("clients", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "p50/raw", "CPU ms", "+OPA ms", "floor/rps")
    print(f"{'engine':9} {'facts':>7} " + " ".join(f"{c:>8}" for c in columns))

    def measure(
        engine: str,
        facts: str,
        env: dict[str, str],
        paths: list[Path],
        bodies: list[bytes],
        sidecar: int | None = None,
    ) -> None:
        with server(args.workers, workdir, env) as (port, pid):
            run = runner(port, paths, bodies)
            if facts == "cache":
                warm_iam_cache(port, bodies)
            run(2, 1.0)  # warm up: every worker compiles and touches its code paths
            for clients in levels:
                cpu_before = process_tree_cpu_seconds(pid)
                sidecar_before = process_tree_cpu_seconds(sidecar) if sidecar else 0.0
                point = run(clients, args.duration)
                cpu_ms = (process_tree_cpu_seconds(pid) - cpu_before) * 1000 / max(1, point["requests"])
                sidecar_ms = (
                    (process_tree_cpu_seconds(sidecar) - sidecar_before) * 1000 / max(1, point["requests"])
                    if sidecar
                    else 0.0
                )
                point.update(
                    engine=engine,
                    facts=facts,
                    clients=clients,
                    cpu_ms=cpu_ms,
                    sidecar_cpu_ms=sidecar_ms,
                    ratio_p50_to_raw=point["p50_ms"] / raw["mean_ms"],
                    floor_rps=floor[clients]["rps"],
                    ratio_floor_to_rps=floor[clients]["rps"] / max(point["rps"], 1e-9),
                )
                results.append(point)
                print(
                    f"{engine:9} {facts:>7} {clients:>8} {point['rps']:>8.0f} {point['p50_ms']:>8.2f} "
                    f"{point['p95_ms']:>8.2f} {point['p99_ms']:>8.2f} {point['errors']:>8} "
                    f"{point['ratio_p50_to_raw']:>7.1f}x {point['cpu_ms']:>8.2f} {point['sidecar_cpu_ms']:>8.2f} "
                    f"{point['ratio_floor_to_rps']:>8.1f}x"
                )

    with contextlib.ExitStack() as stack:
        variants: list[tuple[str, dict[str, str], list[Path], list[bytes]]] = []
        if "inline" in fact_modes:
            variants.append(("inline", {}, paths, bodies))
        if "cache" in fact_modes:
            aws_env, looked_up = stack.enter_context(moto_iam(envelopes))
            variants.append(("cache", aws_env, *write_bodies("cache", looked_up)))
        for facts, env, variant_paths, variant_bodies in variants:
            measure("embedded", facts, env, variant_paths, variant_bodies)
        sidecar = None if args.no_opa else stack.enter_context(opa_standin(workdir))
        if sidecar is not None:
            opa_env, sidecar_pid = sidecar
            for facts, env, variant_paths, variant_bodies in variants:
                measure("opa", facts, {**env, **opa_env}, variant_paths, variant_bodies, sidecar_pid)
    for point in results:
        if point["clients"] == TARGET["clients"]:
            met = point["rps"] >= TARGET["rps"] and point["p99_ms"] <= TARGET["p99_ms"]
            print(
                f"target ({TARGET['rps']:.0f}/s, p99 <= {TARGET['p99_ms']:.0f} ms at {TARGET['clients']} clients), "
                f"{point['engine']}/{point['facts']}: {'met' if met else 'NOT met'} "
                f"({point['rps']:.0f}/s, p99 {point['p99_ms']:.2f} ms; floor {point['floor_rps']:.0f}/s)"
            )
    if args.json:
        summary = {"machine": machine(), "floor": floor, "raw_engine": raw, "points": results}
        args.json.write_text(json.dumps(summary, indent=2))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
