"""ECS_ADMISSION_FAILURE_POLICY=ignore: the explicit, visible opt-in to fail open.

Gatekeeper's `failurePolicy: Ignore`, made loud: when the engine cannot decide, the answer is
allowed but carries warning ECS-GATE-001 saying no policy was evaluated and why; each such answer
is logged and counted (`FAIL_OPEN.value`, and `ecs_admission_fail_open_total` on /metrics).
Readiness stays honest: this wrapper never makes a broken engine look ready.

Failing open is for the engine's own unavailability only, never for something the request did:
an input that makes a healthy engine fail would otherwise let the caller choose an allow. So
- only an EngineError of kind "unavailable" (the engine cannot be reached, or was never built) may
  fail open; a timeout (a slow input, or an overloaded engine), an evaluation error and a refused
  policy set always fail closed (503);
- and even then the wrapper first asks the engine to decide the canary, on the engine's own canary
  path when it has one (the sidecar's: a connection of its own, never queued behind requests); if
  the canary is decided, the engine is up, this input is what failed, and the error stands.
The input layer refuses such input with a 400 first (docs/hardening.md); this is the line behind it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ecs_admission import metrics
from ecs_admission.decision import Finding, RawDecision
from ecs_admission.engines import Engine
from ecs_admission.engines.canary import CANARY
from ecs_admission.errors import UNAVAILABLE, EngineError

log = logging.getLogger(__name__)

GATE_RULE = "ECS-GATE-001"


class Counter:
    """A monotonically increasing, thread-safe count (exported later as a Prometheus counter)."""

    def __init__(self, name: str, help_text: str):
        self.name = name
        self.help = help_text
        self._value = 0
        self._lock = threading.Lock()

    def inc(self) -> None:
        with self._lock:
            self._value += 1

    @property
    def value(self) -> int:
        return self._value


FAIL_OPEN = Counter(
    "ecs_admission_fail_open_total",
    "Requests allowed without policy evaluation because the engine failed and the failure policy is ignore",
)


def not_evaluated_warning(engine: str, reason: str) -> Finding:
    return Finding(
        rule=GATE_RULE,
        severity="high",
        title="No policy was evaluated (failure policy ignore)",
        message=(
            f"no policy was evaluated: the {engine} engine could not decide ({reason}); "
            "allowed only because ECS_ADMISSION_FAILURE_POLICY=ignore"
        ),
        path="",
        remediation=(
            "Restore the policy engine (GET /readyz says what is wrong) and re-check this task definition; "
            "set ECS_ADMISSION_FAILURE_POLICY=fail to refuse deploys while the engine is down."
        ),
        docs="https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#failure-policy",
    )


class FailOpenEngine:
    def __init__(self, inner: Engine):
        self.inner = inner
        self.name = inner.name

    @property
    def revision(self) -> str:
        return self.inner.revision

    def evaluate(self, input_document: dict[str, Any]) -> RawDecision:
        try:
            return self.inner.evaluate(input_document)
        except EngineError as exc:
            if exc.kind != UNAVAILABLE:
                # The engine answered, or was reached and was slow: this input (or the policies)
                # made it fail. A timeout is never proof that the engine is down (issue 21: a slow
                # input through the sidecar made the canary queue behind it and time out too).
                log.warning(
                    "%s: not failing open: the %s engine is up (%s), so the error stands: %s",
                    GATE_RULE,
                    exc.engine,
                    exc.kind,
                    exc.reason,
                )
                raise
            if self._engine_decides():
                log.warning(
                    "%s: not failing open: the %s engine decides the canary, so this input made it fail: %s",
                    GATE_RULE,
                    exc.engine,
                    exc.reason,
                )
                raise
            FAIL_OPEN.inc()
            metrics.fail_open(exc.engine)
            log.warning(
                "%s: allowing without policy evaluation (ECS_ADMISSION_FAILURE_POLICY=ignore): %s engine: %s",
                GATE_RULE,
                exc.engine,
                exc.reason,
            )
            return RawDecision(
                violations=(),
                warnings=(not_evaluated_warning(exc.engine, exc.reason),),
                exempted=(),
                engine=self.name,
                revision=self.inner.revision,
            )

    def _engine_decides(self) -> bool:
        # An engine's own canary path (the sidecar's: a connection of its own, so the probe never
        # waits behind request evaluations in the pool), else an ordinary evaluation.
        probe = getattr(self.inner, "canary", None) or self.inner.evaluate
        try:
            probe(CANARY)
        except EngineError:
            return False
        return True

    def policy_data(self) -> dict[str, Any]:
        return self.inner.policy_data()

    def ready(self, canary: dict[str, Any]) -> None:
        """The inner engine's readiness, unsoftened: failing open is for requests, not for probes."""
        ready = getattr(self.inner, "ready", None)
        if ready is not None:
            ready(canary)
        else:
            self.inner.evaluate(canary)
