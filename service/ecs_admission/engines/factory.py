"""Choose and build the engine a worker uses, failing closed when it cannot be built."""

from __future__ import annotations

import logging

from ecs_admission.config import Settings
from ecs_admission.engines import Engine, UnavailableEngine
from ecs_admission.engines.embedded import EmbeddedEngine
from ecs_admission.errors import POLICY, UNAVAILABLE, EngineError
from ecs_admission.policy.loader import PolicyError, PolicySet, load_policy_set

log = logging.getLogger(__name__)


def build_engine(settings: Settings, self_check: bool = False, expected_decisions: int | None = None) -> Engine:
    """The OPA sidecar engine when ECS_ADMISSION_OPA_URL is set, else the embedded one.

    `self_check` (the web app sets it) runs the policy directory's Rego unit tests before an
    embedded engine is trusted; a failure makes the engine unavailable, naming the test.
    ECS_ADMISSION_FAILURE_POLICY=ignore wraps whichever engine in the fail-open wrapper.
    `expected_decisions` says the caller is a `check` of that many files: no decision table worked
    out in advance, and no readiness canary (each of its decisions fails closed by itself).
    """
    engine = _build_opa(settings) if settings.opa_url else _build_embedded(settings, self_check, expected_decisions)
    if settings.failure_policy == "ignore":
        from ecs_admission.engines.failopen import FailOpenEngine

        log.warning("ECS_ADMISSION_FAILURE_POLICY=ignore: requests are allowed when the engine cannot decide")
        return FailOpenEngine(engine)
    return engine


def _build_opa(settings: Settings) -> Engine:
    # Imported here so the embedded path never needs the HTTP client stack loaded.
    from ecs_admission.engines.opa import OpaEngine

    try:
        return OpaEngine.from_settings(settings)
    except EngineError as exc:
        log.error("policy engine unavailable: %s", exc.reason)
        return UnavailableEngine("opa", exc.reason)


def _build_embedded(settings: Settings, self_check: bool, expected_decisions: int | None = None) -> Engine:
    """Load, accept, compile, self-check and canary the set, all within policy_load_timeout.

    A set slow on every input would otherwise hold the worker's start-up (and gunicorn's boot)
    indefinitely; past the deadline the worker fails closed, saying why, and the abandoned build
    finishes (or not) on its own thread.
    """
    from ecs_admission.engines.deadline import run_with_deadline

    try:
        engine = run_with_deadline(
            lambda: _build_embedded_now(settings, self_check, expected_decisions),
            settings.policy_load_timeout,
            "loading the policies (ECS_ADMISSION_POLICY_LOAD_TIMEOUT)",
        )
    except EngineError as exc:
        log.error("policy engine unavailable: %s", exc.reason)
        return UnavailableEngine("embedded", exc.reason, kind=POLICY)
    if isinstance(engine, UnavailableEngine):
        return engine
    return with_deadline(engine, settings, expected_decisions)


def with_deadline(engine: EmbeddedEngine, settings: Settings, expected_decisions: int | None = None) -> Engine:
    """The embedded engine behind its evaluation deadline (engines/deadline.py)."""
    from ecs_admission.engines.deadline import DeadlineEngine

    def rebuild(policy: PolicySet) -> EmbeddedEngine:
        return EmbeddedEngine(policy, expected_decisions)

    return DeadlineEngine(engine, settings.eval_timeout, rebuild=rebuild)


def _build_embedded_now(settings: Settings, self_check: bool, expected_decisions: int | None = None) -> Engine:
    from ecs_admission.engines.acceptance import accept
    from ecs_admission.engines.canary import CANARY

    try:
        # A `check` (expected_decisions) reads the set through the policy cache (policy/cache.py).
        policy = load_policy_set(settings.policy_dir, cached=expected_decisions is not None)
    except PolicyError as exc:
        log.error("policy engine unavailable: %s", exc)
        return UnavailableEngine("embedded", str(exc))
    try:
        accept(policy)
        engine = EmbeddedEngine(policy, expected_decisions)
    except EngineError as exc:
        log.error("policy engine unavailable: %s", exc.reason)
        # A missing evaluator is the engine being down; a set refused or not compiling is not.
        return UnavailableEngine("embedded", exc.reason, kind=UNAVAILABLE if exc.kind == UNAVAILABLE else POLICY)
    if self_check:
        from ecs_admission.engines.selfcheck import self_check as run_self_check
        from ecs_admission.engines.selfcheck_record import checked_once

        check, recorded = checked_once(policy, run_self_check)
        if not check.passed:
            reason = f"startup self-check failed: {check.reason}"
            log.error("policy engine unavailable: %s", reason)
            engine.close()
            return UnavailableEngine("embedded", reason, kind=POLICY)
        if recorded:
            log.info("startup self-check: %d Rego unit tests passed in another worker for these policies", check.tests)
        else:
            log.info("startup self-check: %d Rego unit tests passed in %.0f ms", check.tests, check.duration_ms)
    if expected_decisions is not None:
        # A `check` decides its few inputs and exits. Each decision fails closed on its own (an
        # engine error, an undefined or malformed decision: exit 3 with the reason), so the canary,
        # one decision more on a cold start, would refuse nothing that the first decision does not.
        return engine
    try:
        # The readiness canary, at start-up as at reload: a set that cannot decide a small sound
        # task definition (an eval_conflict_error on every input) is refused before it serves.
        engine.evaluate(CANARY)
    except EngineError as exc:
        reason = f"startup canary failed: {exc.reason}"
        log.error("policy engine unavailable: %s", reason)
        engine.close()
        return UnavailableEngine("embedded", reason, kind=POLICY)
    return engine
