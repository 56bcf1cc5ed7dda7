"""Detective mode: judge task definitions registered around the gate, as CloudTrail sees them.

Handler: `ecs_admission.integrations.detective.handler`, invoked by an EventBridge rule on ECS's
"AWS API Call via CloudTrail" events (deploy/detective/detective.yaml):

- RegisterTaskDefinition, and CreateService/UpdateService naming a task definition revision: the
  revision is described (ecs:DescribeTaskDefinition) and judged by the same gate and policies as
  the webhook (admission.build_gate), with the same decision record; each rule it breaks is one
  Security Hub finding (report/securityhub.py), resolved once the rule no longer fires.
- DeregisterTaskDefinition: the revision's findings are resolved.
- Calls by the gate's own pipeline roles (ECS_ADMISSION_DETECTIVE_PIPELINE_ROLES) were judged
  already: skipped, with a record saying so.
- Optionally (ECS_ADMISSION_DETECTIVE_RESPONSE) a denied revision is tagged and/or deregistered;
  one that a service runs is deregistered only with ECS_ADMISSION_DETECTIVE_TOUCH_SERVICES=true.
  Services themselves are never updated.

Every failure raises (DetectiveError, EventError): Lambda retries the asynchronous invocation and
then hands the event to the dead-letter queue. Nothing is dropped silently. docs/bypass.md has the
settings and the IAM policy.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from ecs_admission.config import Settings
from ecs_admission.decision import Decision
from ecs_admission.errors import EngineError, InputError
from ecs_admission.facts.iam import READ_ACTIONS
from ecs_admission.gate import Gate, build_gate
from ecs_admission.inputs import normalise
from ecs_admission.integrations import cloudtrail
from ecs_admission.integrations.cloudtrail import ApiCall, EventError, short
from ecs_admission.integrations.detective_config import DetectiveSettings
from ecs_admission.report import records
from ecs_admission.report.audit import AuditError, describe, ecs_client, envelope_of, latest_active
from ecs_admission.report.securityhub import (
    SECURITYHUB_ACTIONS,
    Context,
    FindingsClient,
    Revision,
    SecurityHubError,
    SyncResult,
    findings_client,
)

LOG = logging.getLogger("ecs_admission.detective")

# Exactly the calls the handler makes (deploy/detective/detective.yaml grants these;
# tests/integrations/test_detective.py holds the template to the list). The IAM reads are the gate's role
# lookups; the responses are optional.
DETECTIVE_ACTIONS = ("ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions", *SECURITYHUB_ACTIONS, *READ_ACTIONS)
RESPONSE_ACTIONS = {"tag": "ecs:TagResource", "deregister": "ecs:DeregisterTaskDefinition"}
TAG_VERDICT, TAG_RULES, TAG_DECISION = "ecs-admission:verdict", "ecs-admission:rules", "ecs-admission:decision-id"
TAG_VALUE_LIMIT = 256


class DetectiveError(RuntimeError):
    """The event could not be handled: raised so that Lambda retries it and then dead-letters it."""


@functools.cache
def _gate(settings: Settings) -> Gate:
    """Compile the policies once per Lambda container (settings are frozen, so they key the cache)."""
    return build_gate(settings)


@dataclass
class Outcome:
    """What the handler did with one event; also its return value (JSON)."""

    event: str
    action: str  # judged, resolved, ignored, skipped
    revision: str | None = None
    verdict: str | None = None
    rules: tuple[str, ...] = ()
    findings: SyncResult | None = None
    responses: tuple[str, ...] = ()
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": self.event, "action": self.action, "revision": self.revision}
        if self.verdict:
            data.update(verdict=self.verdict, rules=list(self.rules))
        if self.findings is not None:
            data["findings"] = {"active": self.findings.active, "resolved": self.findings.resolved}
        if self.responses:
            data["responses"] = list(self.responses)
        if self.reason:
            data["reason"] = self.reason
        return data


def detective_record(call: ApiCall, action: str, reason: str, revision: str | None = None) -> dict[str, Any]:
    """A line in the decision log for an event that was not judged, so a skip is never silent."""
    return {
        "record": "detective",
        "version": records.RECORD_VERSION,
        "time": records._timestamp(),
        "event": call.name,
        "event_id": call.event_id,
        "principal": records._short(call.principal),
        "revision": records._short(revision or call.revision),
        "action": action,
        "reason": records._short(reason),
    }


class Detective:
    def __init__(self, settings: Settings, detective: DetectiveSettings, ecs: Any, hub: FindingsClient):
        self.settings = settings
        self.detective = detective
        self.ecs = ecs
        self.hub = hub

    def handle(self, call: ApiCall) -> Outcome:
        if call.skip:
            records.emit(detective_record(call, "skipped", call.skip))
            return Outcome(call.name, "skipped", call.revision, reason=call.skip)
        pattern = self.detective.pipeline_role(call.principal)
        if pattern:
            # The gate judged it in the pipeline already; judging it again would only repeat that.
            reason = f"made by a pipeline role that goes through the gate ({pattern})"
            records.emit(detective_record(call, "ignored", reason))
            return Outcome(call.name, "ignored", call.revision, reason=reason)
        if call.name == cloudtrail.DEREGISTER:
            return self._deregistered(call)
        return self._judge(call, self._describe(call.revision or ""))

    def _describe(self, reference: str) -> dict[str, Any]:
        try:
            return describe(self.ecs, reference)
        except AuditError as exc:
            raise DetectiveError(f"cannot describe {reference}: {exc.reason}") from None

    def _now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def _context(self, call: ApiCall) -> Context:
        event = call.name + (f" {call.service}" if call.service else "")
        return Context("detective", call.principal, event)

    def _deregistered(self, call: ApiCall) -> Outcome:
        revision = _revision(call.revision or "")
        who = f" by {call.principal}" if call.principal else ""
        result = self.hub.sync(revision, None, self._context(call), self._now(), gone_reason=f"deregistered{who}")
        outcome = Outcome(call.name, "resolved", revision.arn, findings=result)
        if self.detective.scope == "latest":
            # The family's newest ACTIVE revision may now be an earlier one, whose findings were
            # resolved as superseded: it is what runs next, so it is judged again.
            try:
                latest = latest_active(self.ecs, revision.family)
            except AuditError as exc:
                raise DetectiveError(f"cannot list the revisions of {revision.family}: {exc.reason}") from None
            if latest:
                judged = self._judge(call, self._describe(latest), supersede=False)
                if judged.findings:
                    result.extend(judged.findings)
        return outcome

    def _judge(self, call: ApiCall, task: dict[str, Any], supersede: bool = True) -> Outcome:
        started = time.perf_counter()
        revision = _revision(str(task.get("taskDefinitionArn", call.revision)))
        context = self._context(call)
        if task.get("status", "ACTIVE") != "ACTIVE":
            result = self.hub.sync(
                revision, None, context, self._now(), gone_reason="deregistered before it was judged"
            )
            return Outcome(call.name, "resolved", revision.arn, findings=result, reason="the revision is INACTIVE")
        decision = self._decide(revision, task)
        self._record(call, decision, task, started)
        result = self.hub.sync(revision, decision, context, self._now())
        if supersede and call.name == cloudtrail.REGISTER and self.detective.scope == "latest":
            result.extend(self.hub.resolve_superseded(revision, self._now()))
        rules = tuple(sorted({f.rule for f in decision.violations}))
        responses = self._respond(call, revision, decision, rules) if rules else ()
        verdict = records.verdict_of(decision)
        LOG.info("%s %s: %s %s", call.name, revision.name, verdict, ",".join(rules) or "no violations")
        return Outcome(call.name, "judged", revision.arn, verdict, rules, result, responses)

    def _decide(self, revision: Revision, task: dict[str, Any]) -> Decision:
        try:
            request = normalise(json.loads(envelope_of(task)))
            # Dry-run: nothing is blocked here; the record and the findings say what the gate would have.
            return _gate(self.settings).decide(request, dry_run=True)
        except InputError as exc:
            where = f" at {exc.field}" if exc.field else ""
            raise DetectiveError(f"{revision.name}: the gate cannot read it{where}: {exc.problem}") from None
        except EngineError as exc:
            raise DetectiveError(f"{revision.name}: the policy engine could not decide: {exc.reason}") from None

    def _record(self, call: ApiCall, decision: Decision, task: dict[str, Any], started: float) -> None:
        if not self.settings.decision_log:
            return
        caller = records.Caller(call.principal or "unknown", "cloudtrail")
        total_ms = (time.perf_counter() - started) * 1000
        record = records.decision_record(decision, caller, 200, total_ms, records.input_digest(task))
        record["detective"] = {"event": call.name, "event_id": call.event_id, "revision": task.get("taskDefinitionArn")}
        if call.service:
            record["detective"]["service"] = call.service
        records.emit(record)

    def _respond(
        self, call: ApiCall, revision: Revision, decision: Decision, rules: tuple[str, ...]
    ) -> tuple[str, ...]:
        done: list[str] = []
        if "tag" in self.detective.responses:
            tags = [
                {"key": TAG_VERDICT, "value": "deny"},
                {"key": TAG_RULES, "value": " ".join(rules)[:TAG_VALUE_LIMIT]},
                {"key": TAG_DECISION, "value": decision.decision_id},
            ]
            self._ecs_call("TagResource", self.ecs.tag_resource, resourceArn=revision.arn, tags=tags)
            done.append("tagged")
        if "deregister" in self.detective.responses:
            if call.names_a_service and not self.detective.touch_services:
                reason = (
                    f"not deregistered: {call.service or 'a service'} runs it (ECS_ADMISSION_DETECTIVE_TOUCH_SERVICES)"
                )
                records.emit(detective_record(call, "kept", reason, revision.arn))
                done.append("kept: a service runs it")
            else:
                self._ecs_call(
                    "DeregisterTaskDefinition", self.ecs.deregister_task_definition, taskDefinition=revision.arn
                )
                done.append("deregistered")
        return tuple(done)

    def _ecs_call(self, operation: str, call: Any, **kwargs: Any) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            call(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise DetectiveError(f"ecs:{operation} failed: {exc}") from None


def _revision(arn: str) -> Revision:
    try:
        return Revision.parse(arn)
    except ValueError as exc:
        raise EventError(str(exc)) from None


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Lambda entry point: one CloudTrail event in; any failure raises, so the event is retried, then dead-lettered."""
    settings = Settings.from_env()
    records.configure_logging(settings.decision_log)
    detective = DetectiveSettings.from_env()
    try:
        call = cloudtrail.parse(event)
    except EventError as exc:
        event_id = short(event.get("id"), 100) if isinstance(event, dict) else None
        LOG.error("cannot read the event (id %s): FAILED: %s", event_id, short(str(exc), 1000))
        raise
    where = f"{call.name} {short(call.revision)} (event {short(call.event_id, 100)})"
    try:
        arn_region = _revision(call.revision).region if (call.revision or "").startswith("arn:") else None
        if arn_region is not None and not cloudtrail.REGION_RE.match(arn_region):
            raise EventError(f"the revision's ARN names Region {short(arn_region, 100)}, which is not an AWS Region")
        region = call.region or arn_region
        ecs = ecs_client(settings, region)
        hub = findings_client(settings, ecs.meta.region_name)
        outcome = Detective(settings, detective, ecs, hub).handle(call)
    except AuditError as exc:
        LOG.error("%s: FAILED: %s", where, short(exc.reason, 1000))
        raise DetectiveError(exc.reason) from None
    except (DetectiveError, SecurityHubError, EventError) as exc:
        LOG.error("%s: FAILED: %s", where, short(str(exc), 1000))
        raise
    except Exception as exc:
        # Anything else (botocore refusing a value from the event, a bug) is still this handler's
        # FAILED line, and still raised, so the event is retried and then dead-lettered.
        LOG.error("%s: FAILED: %s: %s", where, type(exc).__name__, short(str(exc), 1000))
        raise DetectiveError(f"{type(exc).__name__}: {short(str(exc), 1000)}") from None
    return outcome.to_dict()
