"""Whether a policy set may serve: the checks every door applies before its compile and tests.

Start-up (engines/factory.py), poll and SIGHUP reloads and `reload validate` (web/reload.py),
`check --policy-dir` (through the factory) and `policy bundle` call `accept`: the set must be
whole (policy/completeness.py: check packages, only packages the gate reads, no rule of the
running set gone without `retired-rules.txt`) and call no restricted builtin
(engines/capabilities.py). Its Rego tests and the readiness canary are run by the callers, on the
engine they compile. A refusal is an EngineError of kind POLICY: never a reason to fail open.
"""

from __future__ import annotations

from ecs_admission.engines.capabilities import check_builtins
from ecs_admission.errors import POLICY, UNAVAILABLE, EngineError
from ecs_admission.policy.completeness import IncompletePolicySet, check_whole
from ecs_admission.policy.conftest import ConftestConfigError
from ecs_admission.policy.loader import PolicySet


def accept(policy: PolicySet, running: PolicySet | None = None, engine: str = "embedded") -> None:
    try:
        check_whole(policy, running)
    except (IncompletePolicySet, ConftestConfigError) as exc:
        raise EngineError(f"policy set refused: {exc}", engine, kind=POLICY) from None
    try:
        check_builtins(policy, engine)
    except EngineError as exc:
        if exc.kind == UNAVAILABLE:  # OPA's evaluator itself is missing: not the policies' fault
            raise
        raise EngineError(f"policy set refused: {exc.reason}", engine, kind=POLICY) from None
