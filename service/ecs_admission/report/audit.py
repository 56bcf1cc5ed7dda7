"""The task definitions already registered in an account and Region: what `ecs-admission audit` judges.

The gate decides a task definition before it is registered; an audit asks the same question of
the ones already there (Gatekeeper's audit, Kyverno's background scans), for example before a
rule goes from warn to deny, or to find what a new rule would have stopped. Read-only:
ecs:ListTaskDefinitionFamilies, ecs:ListTaskDefinitions and ecs:DescribeTaskDefinition.

Each registered task definition is handed to the gate as an envelope with the account and Region
it lives in as context, so the rules that compare accounts read the right one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from ecs_admission.config import Settings
from ecs_admission.facts.iam import aws_session, client_config, configured_region

AUDIT_ACTIONS = ("ecs:ListTaskDefinitionFamilies", "ecs:ListTaskDefinitions", "ecs:DescribeTaskDefinition")


class AuditError(RuntimeError):
    """The task definitions could not be listed: nothing can be said about them."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RegisteredTaskDefinition:
    name: str  # family:revision, as ECS names it
    body: bytes | None  # an envelope: the described task definition and its account and Region
    error: str | None = None  # why it could not be read (deregistered meanwhile, access denied)
    arn: str | None = None  # the revision's ARN, once described


def ecs_client(settings: Settings, region: str | None = None) -> Any:
    """An ECS client for `region`, else the Region in force; AuditError when there is none."""
    session = aws_session()
    region = region or configured_region(settings, session)
    if not region:
        raise AuditError("no AWS Region: pass --region or set AWS_REGION")
    return session.client("ecs", region_name=region, config=client_config(settings))


def _describe_error(exc: Exception, operation: str) -> str:
    from botocore.exceptions import ClientError, NoCredentialsError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"ecs:{operation} failed: {error.get('Code', '?')}: {error.get('Message', '')}".rstrip(": ")
    if isinstance(exc, NoCredentialsError):
        return f"ecs:{operation} failed: no AWS credentials were found"
    return f"ecs:{operation} failed: {exc}"


def _call(operation: str, call: Any, **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call(**kwargs)
    except (BotoCoreError, ClientError) as exc:
        raise AuditError(_describe_error(exc, operation)) from None


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[str]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    except (BotoCoreError, ClientError) as exc:
        name = "".join(part.title() for part in operation.split("_"))
        raise AuditError(_describe_error(exc, name)) from None


class Progress(Protocol):
    """Told how many families there are and when each is done (progress.AuditProgress draws it)."""

    def start(self, families: int) -> None: ...

    def family_done(self) -> None: ...


def registered_task_definitions(
    client: Any, family_prefix: str | None = None, all_revisions: bool = False, progress: Progress | None = None
) -> Iterator[RegisteredTaskDefinition]:
    """The ACTIVE task definitions (the latest revision of each family, or every ACTIVE revision).

    Listing failures raise AuditError; a task definition that cannot be described is yielded with
    its error, so one missing permission or a revision deregistered meanwhile does not hide the rest.
    The families are listed first (a page holds up to 100 names), so progress has a total.
    """
    prefix = {"familyPrefix": family_prefix} if family_prefix else {}
    families = list(_pages(client, "list_task_definition_families", "families", status="ACTIVE", **prefix))
    if progress is not None:
        progress.start(len(families))
    for family in families:
        if all_revisions:
            # ListTaskDefinitions' familyPrefix takes a whole family name (the families listing, a prefix).
            references = list(
                _pages(
                    client,
                    "list_task_definitions",
                    "taskDefinitionArns",
                    status="ACTIVE",
                    sort="ASC",
                    familyPrefix=family,
                )
            )
        else:
            references = [family]  # DescribeTaskDefinition with a bare family reads its latest ACTIVE revision
        yield from _described(client, references)
        if progress is not None:
            progress.family_done()


def describe(client: Any, reference: str) -> dict[str, Any]:
    """The described task definition (a family, family:revision or ARN); AuditError when it cannot be read.

    Shared with the detective Lambda, which judges one revision per CloudTrail event.
    """
    described = _call("DescribeTaskDefinition", client.describe_task_definition, taskDefinition=reference)
    return described.get("taskDefinition") or {}


def latest_active(client: Any, family: str) -> str | None:
    """The ARN of the family's newest ACTIVE revision, None when it has none; AuditError when it cannot be listed.

    Listed rather than described by bare family name, so the answer is ACTIVE whatever the endpoint.
    """
    listed = _call(
        "ListTaskDefinitions",
        client.list_task_definitions,
        familyPrefix=family,
        status="ACTIVE",
        sort="DESC",
        maxResults=10,
    )

    def number(arn: str) -> int:
        tail = arn.rsplit(":", 1)[-1]
        return int(tail) if tail.isdigit() else -1

    arns = [arn for arn in listed.get("taskDefinitionArns", []) if _short_name(arn).rsplit(":", 1)[0] == family]
    return max(arns, key=number, default=None)


def envelope_of(task: dict[str, Any]) -> bytes:
    """What the gate is handed for a described task definition: it and the account and Region it lives in."""
    envelope = {"taskDefinition": task, "context": _context_of(task.get("taskDefinitionArn", ""))}
    return json.dumps(envelope, default=str).encode()


def _described(client: Any, references: list[str]) -> Iterator[RegisteredTaskDefinition]:
    for reference in references:
        try:
            task = describe(client, reference)
        except AuditError as exc:
            yield RegisteredTaskDefinition(_short_name(reference), None, exc.reason)
            continue
        arn = task.get("taskDefinitionArn", reference)
        if task.get("status", "ACTIVE") != "ACTIVE":
            continue  # deregistered between the listing and the read: nothing can run it any more
        yield RegisteredTaskDefinition(_short_name(arn), envelope_of(task), arn=arn)


def _short_name(reference: str) -> str:
    """family:revision from an ARN (arn:aws:ecs:REGION:ACCOUNT:task-definition/family:revision)."""
    return reference.rsplit("task-definition/", 1)[-1]


def _context_of(arn: str) -> dict[str, str]:
    parts = arn.split(":")
    if len(parts) > 5 and parts[0] == "arn":
        return {key: value for key, value in (("region", parts[3]), ("account", parts[4])) if value}
    return {}
