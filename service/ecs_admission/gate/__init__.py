"""The gate: one normalised request in, one Decision out. Shared by every face (HTTP, CLI, pipelines)."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from typing import Any, Protocol

from ecs_admission.config import Settings
from ecs_admission.decision import Decision, TaskDefinitionSummary
from ecs_admission.engines import Engine
from ecs_admission.engines.factory import build_engine
from ecs_admission.engines.fifo_lock import FifoLock
from ecs_admission.errors import TIMEOUT, EngineError
from ecs_admission.facts.account import DeployAccount, deploy_account
from ecs_admission.facts.gather import RoleFactsProvider
from ecs_admission.facts.iam import IamLookup, resolve_mode
from ecs_admission.facts.judge import judge_roles
from ecs_admission.facts.roles import build_task_roles
from ecs_admission.gate.answers import bound_findings
from ecs_admission.gate.fixes import relocate, under_root
from ecs_admission.inputs import AdmissionRequest
from ecs_admission.inputs.fields import unknown_key_findings
from ecs_admission.policy.catalogue import INPUT_RULES, effective_enforcement

log = logging.getLogger(__name__)


class FactsProvider(Protocol):
    """Supplies `input.task_roles` for a request (caller-supplied, template, IAM lookups)."""

    def gather(
        self, request: AdmissionRequest, context: dict[str, str], timings: dict[str, float] | None = None
    ) -> dict[str, dict[str, Any]]: ...


class CallerSuppliedFacts:
    """Only what the request envelope carries, judged by the policy evaluator."""

    def gather(
        self, request: AdmissionRequest, context: dict[str, str], timings: dict[str, float] | None = None
    ) -> dict[str, dict[str, Any]]:
        task_roles = build_task_roles(request.task_definition, request.roles, context.get("account"))
        for entry in task_roles.values():
            entry.setdefault("details", None)
        judge_roles(task_roles, request.task_definition, context)
        return task_roles


def build_facts(settings: Settings) -> FactsProvider:
    """Caller, template and (when enabled) IAM facts; docs/iam-facts.md says when they are on."""
    mode = resolve_mode(settings)
    log.info("IAM role lookups %s: %s", "on" if mode.enabled else "off", mode.reason)
    if mode.enabled:
        return RoleFactsProvider(IamLookup(settings))
    return RoleFactsProvider(None, lookup_off_reason=mode.reason)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Gate:
    def __init__(
        self,
        engine: Engine,
        default_mode: str = "enforce",
        facts: FactsProvider | None = None,
        default_context: dict[str, str] | None = None,
        queue_timeout: float | None = None,
    ):
        self.engine = engine
        # How long a request may wait for its turn at the engine before it fails closed (None: as
        # long as it takes). The evaluation deadline bounds each evaluation, not the queue: without
        # this, the fifth of five slow inputs would wait four deadlines before its own began.
        self.queue_timeout = queue_timeout
        # gthread workers (web/worker.py) serve requests in threads: one evaluation at a time per worker,
        # as under sync workers, so no engine has to be thread-safe. Reads, IAM lookups and answers
        # still overlap; only the engine's own (CPU-bound) part is serialised, first come first
        # served (a threading.Lock let late arrivals overtake: engines/fifo_lock.py).
        self._evaluating = FifoLock()
        self.default_mode = default_mode
        self.facts = facts or CallerSuppliedFacts()
        self.default_context = {k: v for k, v in (default_context or {}).items() if v}

    def input_document(
        self,
        request: AdmissionRequest,
        now: dt.datetime,
        timings: dict[str, float] | None = None,
        account: DeployAccount | None = None,
    ) -> dict[str, Any]:
        """The document the Rego policies see as `input` (docs/policies.md "The policy input")."""
        context = self.context(request, account)
        return {
            "task_definition": request.task_definition,
            "task_roles": self.facts.gather(request, context, timings),
            "context": context,
            "source": request.source,
            "placeholders": request.placeholders,
            "template": request.template,
            "now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def _enforcement(self, rule_id: str) -> str:
        """config.yaml's enforcement of an input-layer rule (the catalogue's default: warn)."""
        try:
            data = self.engine.policy_data()
        except EngineError:
            return "warn"  # the engine has just decided; its data only moves this finding, never drops it
        entry = (data.get("catalog") or {}).get(rule_id) or INPUT_RULES.get(rule_id) or {"enforcement": "warn"}
        return effective_enforcement(rule_id, entry, data.get("config") or {})

    def deploy_account(self, request: AdmissionRequest) -> DeployAccount:
        return deploy_account(
            request.context.get("account"),
            self.default_context.get("account"),
            request.task_definition,
            request.task_definition_arn,
        )

    def context(self, request: AdmissionRequest, account: DeployAccount | None = None) -> dict[str, str]:
        """`input.context`: the request's, over the configured one, with the deploy account and its source."""
        context = {**self.default_context, **request.context}
        found = account or self.deploy_account(request)
        context.pop("account", None)
        if found.account:
            context["account"] = found.account
        context["account_source"] = found.source
        return context

    def decide(self, request: AdmissionRequest, dry_run: bool | None = None) -> Decision:
        """Evaluate the request; EngineError propagates so the caller can fail closed."""
        started = time.perf_counter()
        if dry_run is None:
            dry_run = request.dry_run if request.dry_run is not None else self.default_mode == "dry-run"
        timings: dict[str, float] = {}
        account = self.deploy_account(request)
        document = self.input_document(request, utc_now(), timings, account)
        if not self._evaluating.acquire(timeout=-1 if self.queue_timeout is None else self.queue_timeout):
            raise EngineError(
                f"waited {self.queue_timeout:g} s for the engine, busy with earlier requests "
                "(ECS_ADMISSION_EVAL_TIMEOUT; docs/hardening.md)",
                "gate",
                kind=TIMEOUT,
            )
        try:
            engine_started = time.perf_counter()  # the engine's time, not the wait for another thread's turn
            raw = self.engine.evaluate(document)
            engine_ms = (time.perf_counter() - engine_started) * 1000
        finally:
            self._evaluating.release()
        violations, warnings = list(raw.violations), list(raw.warnings)
        # Findings of the input layer (not of a Rego rule), placed by config.yaml's enforcement.
        levels: dict[str, str] = {}  # the sidecar's policy_data() is a request: once per rule, not per finding
        for finding in unknown_key_findings(request.task_definition):
            if finding.rule not in levels:
                levels[finding.rule] = self._enforcement(finding.rule)
            if levels[finding.rule] != "off":
                (violations if levels[finding.rule] == "deny" else warnings).append(finding)
        # Sorted and, however many findings the rules produce, bounded (docs/hardening.md).
        violations, warnings, exempted = bound_findings(violations, warnings, raw.exempted)
        # Proposed fixes, checked and moved to where the task definition sits in the submitted document.
        if any("fix" in f.extra for f in (*violations, *warnings, *exempted)):
            place = under_root(request.root)
            violations, warnings = relocate(violations, place), relocate(warnings, place)
            exempted = relocate(exempted, place)
        return Decision(
            decision_id=str(uuid.uuid4()),
            allowed=not violations,
            enforced=not dry_run,
            mode="dry-run" if dry_run else "enforce",
            violations=violations,
            warnings=warnings,
            exempted=exempted,
            task_definition=TaskDefinitionSummary(
                family=request.family,
                source=request.source,
                envelope=request.envelope,
                revision=request.revision,
            ),
            engine=raw.engine,
            revision=raw.revision,
            engine_decision_id=raw.engine_decision_id,
            duration_ms=(time.perf_counter() - started) * 1000,
            timings_ms={"engine": engine_ms, **timings},
            deploy_account=account.to_dict(),
        )


def build_gate(settings: Settings, engine: Engine | None = None) -> Gate:
    """The gate every face uses, configured from settings; compiles the policies unless given an engine."""
    return Gate(
        engine or build_engine(settings),
        default_mode=settings.default_mode,
        facts=build_facts(settings),
        default_context={"account": settings.default_account, "region": settings.default_region},
        # Half the evaluation deadline for the wait, so the slowest answer is at most 1.5 deadlines
        # (3 s at the default 2 s) however many slow inputs arrive together.
        queue_timeout=settings.eval_timeout / 2,
    )
