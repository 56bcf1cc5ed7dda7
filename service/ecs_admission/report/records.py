"""Decision records: one JSON line per decision on stdout, for CloudWatch Logs and audits.

A record says who asked (the token's name, never the token), about what (family, revision,
input shape and a digest of the normalised task definition), what the gate answered (verdict,
mode, rule ids, HTTP status), with which policies (engine, revision) and how long it took.
It holds no values from the task definition beyond its family, so it cannot leak an environment
variable; the free-text fields a caller controls (family, review uid, engine error) are masked
for credential-looking text as the record is built. (Masking each field rather than the whole
line keeps the cost per decision to a few microseconds instead of tens.)

docs/configuration.md "Decision records and redaction" documents the fields.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

from ecs_admission.decision import Decision
from ecs_admission.parsing import compact_json
from ecs_admission.report.redaction import RedactingFormatter, mask_text

LOGGER_NAME = "ecs_admission.decisions"
RECORD_VERSION = 1
MAX_FIELD_CHARS = 256  # a family of 900 KB is refused by no schema; the record keeps it short

decision_log = logging.getLogger(LOGGER_NAME)


@dataclass(frozen=True)
class Caller:
    """Who made a request: a token's or signing secret's configured name, never the credential."""

    name: str
    method: str  # "bearer", "signature" or "none"


ANONYMOUS = Caller("anonymous", "none")


def input_digest(task_definition: Any, canonical: str | None = None) -> str:
    """SHA-256 of the canonical JSON of the normalised task definition.

    Canonical: keys sorted, no whitespace, UTF-8 (non-ASCII not escaped). The same task definition
    gives the same digest whatever shape or format it was sent in, so a record can be matched to
    the registered revision: `python -c 'import json,sys,hashlib; d=json.load(sys.stdin);
    print(hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False).encode()).hexdigest())' < taskdef.json` for a register-shaped file.
    `canonical`: that text, where the request already wrote it (AdmissionRequest.canonical).
    """
    if canonical is None:
        canonical = json.dumps(task_definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _bounded(value: Any) -> Any:
    """A string from configuration or the policies (caller name, rule id): only bounded."""
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
        return value[:MAX_FIELD_CHARS] + "..."
    return value


def _short(value: Any) -> Any:
    """A caller-controlled string made safe for a record: credential-looking text masked, bounded."""
    if not isinstance(value, str):
        return value
    if len(value) > MAX_FIELD_CHARS:
        value = value[:MAX_FIELD_CHARS] + "..."
    return mask_text(value)


def _timestamp(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def verdict_of(decision: Decision) -> str:
    return "allow" if decision.allowed else "deny"


def durations(decision: Decision, total_ms: float) -> dict[str, float]:
    """total (the whole request), decide (the gate), and whatever the gate timed (engine, iam)."""
    result = {"total": round(total_ms, 3), "decide": round(decision.duration_ms, 3)}
    for name, value in decision.timings_ms.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            result[name] = round(float(value), 3)
    return result


def decision_record(
    decision: Decision,
    caller: Caller,
    status: int,
    total_ms: float,
    digest: str | None,
    uid: str | None = None,
    break_glass: tuple[str, ...] = (),
) -> dict[str, Any]:
    summary = decision.task_definition
    record: dict[str, Any] = {
        "record": "decision",
        "version": RECORD_VERSION,
        "decision_id": decision.decision_id,
        "time": _timestamp(),
        "caller": _bounded(caller.name),
        "auth": caller.method,
        "task_definition": {
            "family": _short(summary.family),
            "revision": summary.revision,
            "source": summary.source,
            "envelope": summary.envelope,
        },
        "verdict": verdict_of(decision),
        "allowed": decision.allowed,
        "enforced": decision.enforced,
        "mode": decision.mode,
        "status": status,
        "violations": [_bounded(f.rule) for f in decision.violations],
        "warnings": [_bounded(f.rule) for f in decision.warnings],
        "exempted": [_bounded(f.rule) for f in decision.exempted],
        "durations_ms": durations(decision, total_ms),
        "policy": {"engine": decision.engine, "revision": decision.revision},
        "input_sha256": digest,
    }
    if uid is not None:
        record["review_uid"] = _short(uid)
    if decision.engine_decision_id:
        record["policy"]["decision_id"] = decision.engine_decision_id
    return _with_break_glass(record, break_glass)


def _with_break_glass(record: dict[str, Any], modes: tuple[str, ...]) -> dict[str, Any]:
    """Name the break-glass modes in force (gate/breakglass.py); absent when the gate was closed."""
    if modes:
        record["break_glass"] = list(modes)
    return record


def failure_record(
    reason: str,
    engine: str,
    caller: Caller,
    status: int,
    total_ms: float,
    mode: str | None,
    family: str | None,
    digest: str | None,
    verdict: str = "error",
    break_glass: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A request the engine could not decide (fail closed, or fail open under an `ignore` policy)."""
    record = {
        "record": "decision",
        "version": RECORD_VERSION,
        "decision_id": None,
        "time": _timestamp(),
        "caller": _bounded(caller.name),
        "auth": caller.method,
        "task_definition": {"family": _short(family)},
        "verdict": verdict,
        "allowed": verdict == "fail_open",
        "mode": mode,
        "status": status,
        "error": _short(reason),
        "durations_ms": {"total": round(total_ms, 3)},
        "policy": {"engine": engine},
        "input_sha256": digest,
    }
    return _with_break_glass(record, break_glass)


def emit(record: dict[str, Any]) -> None:
    """Write one record as one line on stdout; build it with decision_record / failure_record."""
    if decision_log.isEnabledFor(logging.INFO):
        decision_log.info(compact_json.dumps(record, default=str).decode("utf-8"))


class _StdStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout / sys.stderr is at emit time, not at creation: test runners
    and gunicorn swap the stream objects, and a handler holding a closed one fails noisily."""

    def __init__(self, name: str):
        self._stream_name = name
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return getattr(sys, self._stream_name)

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class _NotDecisions(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(LOGGER_NAME)


_HANDLER_MARK = "_ecs_admission_handler"


def configure_logging(decision_log_enabled: bool = True) -> None:
    """Decision records as bare JSON lines on stdout; the service's other logs on stderr.

    Idempotent (each gunicorn worker and each test app calls it). Both handlers redact. Records
    still propagate, so pytest's caplog and any root handler an operator adds see them too.
    """
    decision_log.setLevel(logging.INFO if decision_log_enabled else logging.CRITICAL + 1)
    if not any(getattr(h, _HANDLER_MARK, False) for h in decision_log.handlers):
        records = _StdStreamHandler("stdout")
        records.setFormatter(logging.Formatter("%(message)s"))  # fields are masked as the record is built
        setattr(records, _HANDLER_MARK, True)
        decision_log.addHandler(records)
    service_log = logging.getLogger("ecs_admission")
    if service_log.level == logging.NOTSET:
        service_log.setLevel(logging.INFO)
    if not any(getattr(h, _HANDLER_MARK, False) for h in service_log.handlers):
        errors = _StdStreamHandler("stderr")
        errors.setFormatter(RedactingFormatter("%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"))
        errors.addFilter(_NotDecisions())
        setattr(errors, _HANDLER_MARK, True)
        service_log.addHandler(errors)
