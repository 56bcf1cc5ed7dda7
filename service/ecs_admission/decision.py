"""The decision model: what every face of the gate (HTTP, CLI, pipelines) reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ecs_admission.errors import EngineError

SEVERITIES = ("critical", "high", "medium", "low")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
FINDING_FIELDS = ("rule", "severity", "title", "message", "path", "remediation", "docs")


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    title: str
    message: str
    path: str
    remediation: str
    docs: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_engine(cls, raw: Any, engine: str) -> Finding:
        """Validate one finding from the policy's decision document.

        Anything malformed is an engine error: a finding we cannot read must not vanish.
        """
        if not isinstance(raw, dict):
            raise EngineError(f"finding is not an object: {raw!r:.200}", engine)
        missing = [name for name in FINDING_FIELDS if not isinstance(raw.get(name), str)]
        if missing:
            raise EngineError(
                f"finding for rule {raw.get('rule')!r} lacks string field(s) {', '.join(missing)}", engine
            )
        if raw["severity"] not in SEVERITY_RANK:
            raise EngineError(f"rule {raw['rule']} has unknown severity {raw['severity']!r}", engine)
        extra = {k: v for k, v in raw.items() if k not in FINDING_FIELDS}
        return cls(**{name: raw[name] for name in FINDING_FIELDS}, extra=extra)

    def sort_key(self) -> tuple[int, str, str, str]:
        return (SEVERITY_RANK[self.severity], self.rule, self.path, self.message)

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in FINDING_FIELDS}
        data.update(self.extra)
        return data


@dataclass(frozen=True)
class RawDecision:
    """What an engine hands back: findings already split by enforcement, plus provenance."""

    violations: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    exempted: tuple[Finding, ...]
    engine: str
    revision: str
    engine_decision_id: str | None = None

    @classmethod
    def from_document(
        cls, document: Any, engine: str, revision: str, engine_decision_id: str | None = None
    ) -> RawDecision:
        if not isinstance(document, dict):
            raise EngineError(f"decision document is not an object: {type(document).__name__}", engine)

        def findings(key: str, required: bool) -> tuple[Finding, ...]:
            value = document.get(key)
            if value is None and not required:
                return ()
            if not isinstance(value, list):
                raise EngineError(f"decision document's {key!r} is not a list", engine)
            return tuple(sorted((Finding.from_engine(item, engine) for item in value), key=Finding.sort_key))

        return cls(
            violations=findings("violations", required=True),
            warnings=findings("warnings", required=True),
            exempted=findings("exempted", required=False),
            engine=engine,
            revision=revision,
            engine_decision_id=engine_decision_id,
        )


SUMMARY_FIELDS = ("family", "source", "envelope", "revision", "logical_id")
_SCALARS = frozenset({str, int, float, bool, type(None)})


@dataclass
class TaskDefinitionSummary:
    family: str | None
    source: str
    envelope: str
    revision: int | None = None
    logical_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # The fields by name when each is a string, a number or None (always, but for a remote
        # gate's answer), which asdict would only copy, at several times the cost.
        values = (self.family, self.source, self.envelope, self.revision, self.logical_id)
        if all(type(value) in _SCALARS for value in values):
            return {k: v for k, v in zip(SUMMARY_FIELDS, values, strict=True) if v is not None}
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Decision:
    decision_id: str
    allowed: bool
    enforced: bool
    mode: str
    violations: list[Finding]
    warnings: list[Finding]
    exempted: list[Finding]
    task_definition: TaskDefinitionSummary
    engine: str
    revision: str
    duration_ms: float
    engine_decision_id: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    # {"account", "source", "detail"}: the account the rules compared with, and where it came from.
    deploy_account: dict[str, Any] | None = None

    @property
    def rule_ids(self) -> list[str]:
        return sorted({f.rule for f in self.violations})

    def to_dict(self) -> dict[str, Any]:
        policy: dict[str, Any] = {"engine": self.engine, "revision": self.revision}
        if self.engine_decision_id:
            policy["decision_id"] = self.engine_decision_id
        return {
            "decision_id": self.decision_id,
            "allowed": self.allowed,
            "enforced": self.enforced,
            "mode": self.mode,
            "violations": [f.to_dict() for f in self.violations],
            "warnings": [f.to_dict() for f in self.warnings],
            "exempted": [f.to_dict() for f in self.exempted],
            "task_definition": self.task_definition.to_dict(),
            "policy": policy,
            **({"deploy_account": self.deploy_account} if self.deploy_account is not None else {}),
            "duration_ms": round(self.duration_ms, 3),
        }
