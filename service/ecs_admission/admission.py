"""The gate: one normalised request in, one Decision out. Shared by every face (HTTP, CLI, pipelines)."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from typing import Any, Protocol

from .config import Settings
from .decision import Decision, TaskDefinitionSummary
from .engines import Engine
from .engines.factory import build_engine
from .facts.gather import RoleFactsProvider
from .facts.iam import IamLookup, resolve_mode
from .facts.judge import judge_roles
from .facts.roles import build_task_roles
from .inputs import AdmissionRequest

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
    ):
        self.engine = engine
        self.default_mode = default_mode
        self.facts = facts or CallerSuppliedFacts()
        self.default_context = {k: v for k, v in (default_context or {}).items() if v}

    def input_document(
        self, request: AdmissionRequest, now: dt.datetime, timings: dict[str, float] | None = None
    ) -> dict[str, Any]:
        """The document the Rego policies see as `input` (docs/policies.md "The policy input")."""
        context = {**self.default_context, **request.context}
        return {
            "task_definition": request.task_definition,
            "task_roles": self.facts.gather(request, context, timings),
            "context": context,
            "source": request.source,
            "placeholders": request.placeholders,
            "template": request.template,
            "now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def decide(self, request: AdmissionRequest, dry_run: bool | None = None) -> Decision:
        """Evaluate the request; EngineError propagates so the caller can fail closed."""
        started = time.perf_counter()
        if dry_run is None:
            dry_run = request.dry_run if request.dry_run is not None else self.default_mode == "dry-run"
        timings: dict[str, float] = {}
        document = self.input_document(request, utc_now(), timings)
        engine_started = time.perf_counter()
        raw = self.engine.evaluate(document)
        engine_ms = (time.perf_counter() - engine_started) * 1000
        allowed = not raw.violations
        return Decision(
            decision_id=str(uuid.uuid4()),
            allowed=allowed,
            enforced=not dry_run,
            mode="dry-run" if dry_run else "enforce",
            violations=list(raw.violations),
            warnings=list(raw.warnings),
            exempted=list(raw.exempted),
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
        )


def build_gate(settings: Settings, engine: Engine | None = None) -> Gate:
    """The gate every face uses, configured from settings; compiles the policies unless given an engine."""
    return Gate(
        engine or build_engine(settings),
        default_mode=settings.default_mode,
        facts=build_facts(settings),
        default_context={"account": settings.default_account, "region": settings.default_region},
    )
