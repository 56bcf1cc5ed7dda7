"""Denied task definition revisions as AWS Security Hub findings (ASFF), kept in step with each judgement.

One finding per rule and revision, with an Id derived from the revision's ARN and the rule id, so
judging a revision again updates its findings instead of adding copies; the detective Lambda and
`ecs-admission audit --report securityhub` produce the same Ids. A rule that no longer fires on a
revision, and every rule of a deregistered revision, is resolved: RecordState ARCHIVED, Compliance
PASSED, Workflow RESOLVED.

Calls made (docs/bypass.md lists them with the IAM policy): securityhub:GetFindings (the revision's
active findings, to resolve the ones no longer true and keep their CreatedAt) and
securityhub:BatchImportFindings. Every failure raises SecurityHubError: a finding that was not
imported must not look as if it had been.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ecs_admission.decision import Decision, Finding
from ecs_admission.report.redaction import mask_text

SECURITYHUB_ACTIONS = ("securityhub:BatchImportFindings", "securityhub:GetFindings")
SCHEMA_VERSION = "2018-10-08"
GENERATOR_PREFIX = "ecs-admission/"
FINDING_TYPE = "Software and Configuration Checks/AWS Security Best Practices/ecs-admission"
RESOURCE_TYPE = "AwsEcsTaskDefinition"
IMPORT_BATCH = 100  # BatchImportFindings takes at most 100 findings a call
MAX_ID = 512
# ASFF field limits (characters).
TITLE_LIMIT, DESCRIPTION_LIMIT, REMEDIATION_LIMIT, PRODUCT_FIELD_LIMIT = 256, 1024, 512, 2048


class SecurityHubError(RuntimeError):
    """Findings could not be read or imported."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Revision:
    """A task definition revision named by its ARN: arn:PARTITION:ecs:REGION:ACCOUNT:task-definition/FAMILY:N."""

    arn: str
    partition: str
    region: str
    account: str
    family: str
    number: int

    @classmethod
    def parse(cls, arn: str) -> Revision:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "ecs" or not parts[5].startswith("task-definition/"):
            raise ValueError(f"not a task definition revision ARN: {arn[:200]!r}")
        family, sep, number = parts[5].removeprefix("task-definition/").rpartition(":")
        if not sep or not family or not number.isdigit():
            raise ValueError(f"not a task definition revision ARN (no :revision): {arn[:200]!r}")
        return cls(arn, parts[1], parts[3], parts[4], family, int(number))

    @property
    def name(self) -> str:
        return f"{self.family}:{self.number}"

    @property
    def family_prefix(self) -> str:
        """The ARN up to and including the colon before the revision number: every revision of the family."""
        return self.arn[: -len(str(self.number))]

    def product_arn(self) -> str:
        """The account's own default product: where a customer's findings are imported."""
        return f"arn:{self.partition}:securityhub:{self.region}:{self.account}:product/{self.account}/default"


def finding_id(arn: str, rule: str) -> str:
    """Stable: the same revision and rule always name the same finding (readable while it fits ASFF's 512)."""
    readable = f"{arn}/{GENERATOR_PREFIX}{rule}"
    if len(readable) <= MAX_ID:
        return readable
    digest = hashlib.sha256(arn.encode()).hexdigest()
    return f"{GENERATOR_PREFIX}{digest}/{rule}"[:MAX_ID]


def _iso(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _clip(text: str, limit: int) -> str:
    """Bounded to ASFF's limit, and masked: a policy message that quotes a credential must not carry it off."""
    text = mask_text(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _by_rule(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for item in findings:
        grouped.setdefault(item.rule, []).append(item)
    return grouped


@dataclass(frozen=True)
class Context:
    """Where a judgement came from, for the finding's ProductFields (who registered it, which event)."""

    source: str  # "detective" or "audit"
    principal: str | None = None  # the registering identity (CloudTrail's sessionIssuer or user ARN)
    event: str | None = None  # e.g. "RegisterTaskDefinition" or "UpdateService arn:aws:ecs:...:service/c/s"


def build_finding(
    revision: Revision,
    rule: str,
    findings: list[Finding],
    decision: Decision,
    context: Context,
    now: dt.datetime,
    created_at: str | None = None,
) -> dict[str, Any]:
    """One ASFF finding for one rule on one revision: its severity, every JSON pointer it fired at, the fix."""
    first = findings[0]
    paths = sorted({item.path for item in findings})
    description = f"{revision.name}: {first.message}"
    if len(findings) > 1:
        description += f" (and {len(findings) - 1} more at {', '.join(paths[1:])})"
    description += f" JSON pointer: {paths[0]}"
    product_fields = {
        "ecs-admission/RuleId": rule,
        "ecs-admission/Path": paths[0],
        "ecs-admission/Paths": " ".join(paths),
        "ecs-admission/Severity": first.severity,
        "ecs-admission/DecisionId": decision.decision_id,
        "ecs-admission/PolicyRevision": decision.revision,
        "ecs-admission/Engine": decision.engine,
        "ecs-admission/Source": context.source,
    }
    if first.docs:
        product_fields["ecs-admission/Docs"] = first.docs
    if context.principal:
        product_fields["ecs-admission/RegisteredBy"] = context.principal
    if context.event:
        product_fields["ecs-admission/Event"] = context.event
    stamp = _iso(now)
    label = first.severity.upper()
    recommendation: dict[str, str] = {"Text": _clip(first.remediation or first.title, REMEDIATION_LIMIT)}
    if first.docs.startswith(("https://", "http://")):
        recommendation["Url"] = first.docs
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(revision.arn, rule),
        "ProductArn": revision.product_arn(),
        "GeneratorId": GENERATOR_PREFIX + rule,
        "AwsAccountId": revision.account,
        "Types": [FINDING_TYPE],
        "CreatedAt": created_at or stamp,
        "UpdatedAt": stamp,
        "Severity": {"Label": label, "Original": first.severity},
        "FindingProviderFields": {"Severity": {"Label": label, "Original": first.severity}, "Types": [FINDING_TYPE]},
        "Title": _clip(f"{rule}: {first.title}", TITLE_LIMIT),
        "Description": _clip(description, DESCRIPTION_LIMIT),
        "Remediation": {"Recommendation": recommendation},
        "ProductFields": {key: _clip(str(value), PRODUCT_FIELD_LIMIT) for key, value in product_fields.items()},
        "Resources": [
            {
                "Type": RESOURCE_TYPE,
                "Id": revision.arn,
                "Partition": revision.partition,
                "Region": revision.region,
                "Details": {"AwsEcsTaskDefinition": {"Family": revision.family}},
            }
        ],
        "Compliance": {"Status": "FAILED"},
        "RecordState": "ACTIVE",
    }


def resolved(finding: dict[str, Any], reason: str, now: dt.datetime) -> dict[str, Any]:
    """The same finding, resolved: the revision is gone or the rule no longer fires on it."""
    updated = {key: value for key, value in finding.items() if key not in ("Note", "UserDefinedFields")}
    fields = dict(updated.get("ProductFields") or {})
    fields["ecs-admission/Resolution"] = _clip(reason, PRODUCT_FIELD_LIMIT)
    updated.update(
        UpdatedAt=_iso(now),
        ProductFields=fields,
        Compliance={"Status": "PASSED"},
        Workflow={"Status": "RESOLVED"},
        RecordState="ARCHIVED",
    )
    return updated


@dataclass
class SyncResult:
    """What one sync did: the Ids it imported as active findings, and the Ids it resolved."""

    active: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)

    def extend(self, other: SyncResult) -> None:
        self.active.extend(other.active)
        self.resolved.extend(other.resolved)


class FindingsClient:
    """Security Hub for one account and Region, through a boto3 client (retries and timeouts from client_config)."""

    def __init__(self, client: Any):
        self.client = client

    def _error(self, exc: Exception, operation: str) -> SecurityHubError:
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            return SecurityHubError(
                f"securityhub:{operation} failed: {error.get('Code', '?')}: {error.get('Message', '')}".rstrip(": ")
            )
        return SecurityHubError(f"securityhub:{operation} failed: {exc}")

    def active_findings(self, product_arn: str, resource_prefix: str, exact: bool) -> Iterator[dict[str, Any]]:
        """Our ACTIVE findings on the resource (exact) or on every resource whose Id starts with the prefix.

        The filters are applied again here: a finding that is not ours, or not on that resource, is
        never touched whatever the service returned.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        filters = {
            "ProductArn": [{"Value": product_arn, "Comparison": "EQUALS"}],
            "GeneratorId": [{"Value": GENERATOR_PREFIX, "Comparison": "PREFIX"}],
            "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
            "ResourceId": [{"Value": resource_prefix, "Comparison": "EQUALS" if exact else "PREFIX"}],
        }
        try:
            for page in self.client.get_paginator("get_findings").paginate(Filters=filters):
                for finding in page.get("Findings", []):
                    ids = [resource.get("Id", "") for resource in finding.get("Resources", [])]
                    on_resource = any(i == resource_prefix if exact else i.startswith(resource_prefix) for i in ids)
                    if (
                        finding.get("ProductArn") == product_arn
                        and str(finding.get("GeneratorId", "")).startswith(GENERATOR_PREFIX)
                        and finding.get("RecordState", "ACTIVE") == "ACTIVE"
                        and on_resource
                    ):
                        yield finding
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, "GetFindings") from None

    def import_findings(self, findings: list[dict[str, Any]]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        for start in range(0, len(findings), IMPORT_BATCH):
            batch = findings[start : start + IMPORT_BATCH]
            try:
                answer = self.client.batch_import_findings(Findings=batch)
            except (BotoCoreError, ClientError) as exc:
                raise self._error(exc, "BatchImportFindings") from None
            failed = answer.get("FailedFindings") or []
            if answer.get("FailedCount") or failed:
                first = failed[0] if failed else {}
                raise SecurityHubError(
                    f"securityhub:BatchImportFindings refused {answer.get('FailedCount', len(failed))} of "
                    f"{len(batch)} finding(s): {first.get('Id', '?')}: {first.get('ErrorCode', '?')}: "
                    f"{first.get('ErrorMessage', '')}"
                )

    def sync(
        self,
        revision: Revision,
        decision: Decision | None,
        context: Context,
        now: dt.datetime,
        gone_reason: str = "",
    ) -> SyncResult:
        """Make the revision's findings say what `decision` says (None: the revision is gone, resolve all).

        Active findings for the rules that fire, created or updated in place; resolved for the
        rules that no longer fire.
        """
        existing = {
            f["Id"]: f for f in self.active_findings(revision.product_arn(), revision.arn, exact=True) if "Id" in f
        }
        result = SyncResult()
        batch: list[dict[str, Any]] = []
        if decision is not None:
            for rule, findings in sorted(_by_rule(decision.violations).items()):
                identifier = finding_id(revision.arn, rule)
                created = (existing.get(identifier) or {}).get("CreatedAt")
                batch.append(build_finding(revision, rule, findings, decision, context, now, created_at=created))
                result.active.append(identifier)
        for identifier, finding in sorted(existing.items()):
            if identifier in result.active:
                continue
            decided = f" (decision {decision.decision_id})" if decision is not None else ""
            reason = gone_reason or f"{revision.name} no longer breaks this rule{decided}"
            batch.append(resolved(finding, reason, now))
            result.resolved.append(identifier)
        self.import_findings(batch)
        return result

    def resolve_superseded(self, revision: Revision, now: dt.datetime) -> SyncResult:
        """Resolve the findings of the family's earlier revisions: the latest one is what is judged."""
        result = SyncResult()
        batch = []
        for finding in self.active_findings(revision.product_arn(), revision.family_prefix, exact=False):
            older = []
            for resource in finding.get("Resources", []):
                try:
                    other = Revision.parse(resource.get("Id", ""))
                except ValueError:
                    continue
                if other.family == revision.family and other.number < revision.number:
                    older.append(other)
            if older:
                batch.append(resolved(finding, f"superseded by {revision.name}, the family's latest revision", now))
                result.resolved.append(finding["Id"])
        self.import_findings(batch)
        return result


def sync_judged(
    hub: FindingsClient, judged: Iterable[tuple[str, Decision]], latest_only: bool, now: dt.datetime | None = None
) -> SyncResult:
    """`ecs-admission audit --report securityhub`: the findings of each judged revision, as the detective keeps them.

    latest_only (an audit of each family's latest revision): earlier revisions' findings are
    resolved as superseded, as the detective does under its default scope.
    """
    now = now or dt.datetime.now(dt.UTC)
    result = SyncResult()
    for arn, decision in judged:
        try:
            revision = Revision.parse(arn)
        except ValueError as exc:
            raise SecurityHubError(str(exc)) from None
        result.extend(hub.sync(revision, decision, Context("audit"), now))
        if latest_only:
            result.extend(hub.resolve_superseded(revision, now))
    return result


def findings_client(settings: Any, region: str) -> FindingsClient:
    """Security Hub in `region`, honouring AWS_ENDPOINT_URL and the project's retry and timeout settings."""
    from ecs_admission.facts.iam import aws_session, client_config

    return FindingsClient(aws_session().client("securityhub", region_name=region, config=client_config(settings)))
