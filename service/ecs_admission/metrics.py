"""Prometheus metrics (docs/configuration.md "Metrics"): what the gate decided, how fast, and what went wrong.

prometheus-client picks single- or multi-process storage when it is first imported, from
PROMETHEUS_MULTIPROC_DIR. Under gunicorn the master sets that variable (web/server.py) before any
worker exists, so this module imports prometheus-client only on first use: a module that merely
imports `ecs_admission.metrics` (the CLI, the IAM lookups) never fixes the mode too early.

The functions below are the API the rest of the package calls; each is cheap (a counter
increment or a histogram observation) and never raises.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds; decisions take about a millisecond, IAM lookups tens to hundreds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_lock = threading.Lock()
_metrics: dict[str, Any] | None = None
# Labelled children by (metric, labels): labels() takes a lock and builds a key on every call,
# which adds up to tens of microseconds per decision on the hot path.
_children: dict[tuple[str, tuple[str, ...]], Any] = {}


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def _build() -> dict[str, Any]:
    from prometheus_client import Counter, Gauge, Histogram

    return {
        "decisions": Counter(
            "ecs_admission_decisions_total",
            "Decisions made, by verdict (allow, deny, error), mode and engine.",
            ["verdict", "mode", "engine"],
        ),
        "findings": Counter(
            "ecs_admission_rule_findings_total",
            "Findings per rule id, by outcome (violation, warning, exempted).",
            ["rule", "outcome"],
        ),
        "decision_seconds": Histogram(
            "ecs_admission_decision_duration_seconds",
            "Time to answer /v1/admit, from the request's arrival to the response.",
            ["engine"],
            buckets=LATENCY_BUCKETS,
        ),
        "engine_seconds": Histogram(
            "ecs_admission_engine_duration_seconds",
            "Time the policy engine took to evaluate one input.",
            ["engine"],
            buckets=LATENCY_BUCKETS,
        ),
        "iam_seconds": Histogram(
            "ecs_admission_iam_duration_seconds",
            "Time spent gathering IAM role facts for one decision.",
            buckets=LATENCY_BUCKETS,
        ),
        "iam_cache_hits": Counter("ecs_admission_iam_cache_hits_total", "IAM role facts served from the cache."),
        "iam_cache_misses": Counter("ecs_admission_iam_cache_misses_total", "IAM role facts that had to be looked up."),
        "iam_failures": Counter(
            "ecs_admission_iam_lookup_failures_total",
            "IAM lookups that gave no facts (the role's rules go unchecked), by kind (throttled, access_denied, "
            "timeout, unreachable, credentials, budget, error).",
            ["kind"],
        ),
        "engine_errors": Counter(
            "ecs_admission_engine_errors_total",
            "Requests the engine could not decide (answered 503, never an allow).",
            ["engine"],
        ),
        "fail_open": Counter(
            "ecs_admission_fail_open_total",
            "Requests allowed without a decision because ECS_ADMISSION_FAILURE_POLICY=ignore.",
            ["engine"],
        ),
        "rejected": Counter(
            "ecs_admission_input_rejected_total",
            "Request bodies refused before evaluation, by error (invalid_json, too_deep, ...).",
            ["error"],
        ),
        "auth_failures": Counter(
            "ecs_admission_auth_failures_total",
            "Requests refused by authentication, by reason (missing, invalid, stale, unavailable).",
            ["reason"],
        ),
        "responses": Counter(
            "ecs_admission_http_responses_total",
            "HTTP responses by route and status code.",
            ["route", "status"],
        ),
        "reloads": Counter(
            "ecs_admission_policy_reloads_total",
            "Policy reloads attempted in a worker, by result (success, failure).",
            ["result"],
        ),
        "reload_failing": Gauge(
            "ecs_admission_policy_reload_failing",
            "1 while the last policy reload failed and older policies are still serving.",
            multiprocess_mode="livemax",
        ),
        "break_glass": Gauge(
            "ecs_admission_break_glass",
            "1 while a break-glass setting is in force, by mode (dry-run: ECS_ADMISSION_MODE=dry-run, "
            "fail-open: ECS_ADMISSION_FAILURE_POLICY=ignore).",
            ["mode"],
            multiprocess_mode="livemax",
        ),
    }


def _get() -> dict[str, Any]:
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = _build()
    return _metrics


def _child(name: str, *labels: str) -> Any:
    key = (name, labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = _get()[name].labels(*labels)
    return child


def ensure_registered() -> None:
    """Create the metrics now (the app factory calls this) so /metrics lists them before any traffic."""
    _get()


# --- the API other modules call ---------------------------------------------------------------


def decision(
    verdict: str,
    mode: str,
    engine: str,
    total_seconds: float,
    engine_seconds: float | None = None,
    iam_seconds: float | None = None,
    violations: Iterable[str] = (),
    warnings: Iterable[str] = (),
    exempted: Iterable[str] = (),
) -> None:
    _child("decisions", verdict, mode, engine).inc()
    _child("decision_seconds", engine).observe(total_seconds)
    if engine_seconds is not None:
        _child("engine_seconds", engine).observe(engine_seconds)
    if iam_seconds is not None:
        _get()["iam_seconds"].observe(iam_seconds)
    for outcome, rules in (("violation", violations), ("warning", warnings), ("exempted", exempted)):
        for rule in rules:
            _child("findings", rule, outcome).inc()


def engine_error(engine: str) -> None:
    _child("engine_errors", engine).inc()


def fail_open(engine: str = "unknown") -> None:
    """A request let through without a decision (failure policy `ignore`)."""
    _get()["fail_open"].labels(engine).inc()


def iam_cache_hit(count: int = 1) -> None:
    _get()["iam_cache_hits"].inc(count)


def iam_cache_miss(count: int = 1) -> None:
    _get()["iam_cache_misses"].inc(count)


def iam_lookup_failure(kind: str) -> None:
    """An IAM lookup that left a role's facts unknown (README "IAM facts"), by what went wrong."""
    _child("iam_failures", kind).inc()


def break_glass(modes: dict[str, bool]) -> None:
    """Set the break-glass gauge for every mode, in force (1) or not (0): alarms need both states."""
    for mode, active in modes.items():
        _child("break_glass", mode).set(1 if active else 0)


def input_rejected(error: str) -> None:
    _child("rejected", error).inc()


def auth_failure(reason: str) -> None:
    _get()["auth_failures"].labels(reason).inc()


def response(route: str, status: int) -> None:
    _child("responses", route, str(status)).inc()


def policy_reload(succeeded: bool) -> None:
    m = _get()
    m["reloads"].labels("success" if succeeded else "failure").inc()
    m["reload_failing"].set(0 if succeeded else 1)


def reload_failing(failing: bool) -> None:
    _get()["reload_failing"].set(1 if failing else 0)


# --- exposition and process management ---------------------------------------------------------


def exposition() -> tuple[bytes, str]:
    """The text format for GET /metrics: every worker's values when running multi-process."""
    _get()
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def prepare_multiprocess_dir(path: str) -> None:
    """Empty a multi-process directory of a previous run's files: stale counters would add up."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.unlink(os.path.join(path, name))


def mark_process_dead(pid: int) -> None:
    """gunicorn child_exit hook: drop a dead worker's live gauges (counters keep their totals)."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
