"""What the detective reads from an EventBridge "AWS API Call via CloudTrail" event for ECS.

The event is AWS's (EventBridge user guide, "AWS service events delivered via CloudTrail"):
`detail` is the CloudTrail record, with `eventName`, `userIdentity`, `requestParameters`,
`responseElements`, and `errorCode` when the call failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DETAIL_TYPE = "AWS API Call via CloudTrail"
REGISTER, DEREGISTER = "RegisterTaskDefinition", "DeregisterTaskDefinition"
CREATE_SERVICE, UPDATE_SERVICE = "CreateService", "UpdateService"
EVENT_NAMES = (REGISTER, DEREGISTER, CREATE_SERVICE, UPDATE_SERVICE)
# us-east-1, us-gov-west-1, cn-north-1, eu-central-2: what the event's Region is used for (an
# endpoint) must never be built from anything else (`us-east-1/../x` reached botocore).
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")
LOG_CHARS = 200  # a caller-controlled string in a log line or an error: at most this, and says so


class EventError(ValueError):
    """The event is not one the detective can read: raised, so it is retried and then dead-lettered."""


@dataclass(frozen=True)
class ApiCall:
    name: str  # one of EVENT_NAMES
    revision: str | None  # the task definition revision's ARN (or the reference the caller gave)
    principal: str | None  # the role behind the call (sessionIssuer), else the calling identity's ARN
    region: str | None
    account: str | None
    service: str | None = None  # CreateService/UpdateService: the service's ARN
    skip: str | None = None  # why there is nothing to judge (the call failed, no task definition change)
    event_id: str | None = None

    @property
    def names_a_service(self) -> bool:
        return self.name in (CREATE_SERVICE, UPDATE_SERVICE)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _principal(detail: dict[str, Any]) -> str | None:
    identity = _dict(detail.get("userIdentity"))
    issuer = _dict(_dict(identity.get("sessionContext")).get("sessionIssuer"))
    value = issuer.get("arn") or identity.get("arn")
    return value if isinstance(value, str) and value else None


def short(value: Any, limit: int = LOG_CHARS) -> str:
    """A string from the event made fit for a log line: bounded, saying how much was left out."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


def _region(detail: dict[str, Any], event: dict[str, Any]) -> str | None:
    region = detail.get("awsRegion") or event.get("region")
    if region is None:
        return None
    if not isinstance(region, str) or not REGION_RE.match(region):
        raise EventError(f"awsRegion {short(region, 100)} is not an AWS Region name (such as us-east-1)")
    return region


def parse(event: Any) -> ApiCall:
    """The call the event records; EventError for anything that is not an ECS call this detective handles."""
    if not isinstance(event, dict):
        raise EventError(f"the event is not a JSON object: {type(event).__name__}")
    if event.get("detail-type") != DETAIL_TYPE:
        raise EventError(f"detail-type {str(event.get('detail-type'))[:100]!r} is not {DETAIL_TYPE!r}")
    detail = _dict(event.get("detail"))
    name = detail.get("eventName")
    if detail.get("eventSource") != "ecs.amazonaws.com" or name not in EVENT_NAMES:
        raise EventError(
            f"not an ECS call the detective handles: {str(detail.get('eventSource'))[:100]} "
            f"{str(name)[:100]} (expected one of {', '.join(EVENT_NAMES)})"
        )
    request = _dict(detail.get("requestParameters"))
    response = _dict(detail.get("responseElements"))
    common = {
        "name": name,
        "principal": _principal(detail),
        "region": _region(detail, event),
        "account": detail.get("recipientAccountId") or event.get("account"),
        "event_id": detail.get("eventID") or event.get("id"),
    }
    if detail.get("errorCode"):
        return ApiCall(revision=None, skip=f"the call failed ({str(detail['errorCode'])[:100]})", **common)
    if name in (REGISTER, DEREGISTER):
        revision = _dict(response.get("taskDefinition")).get("taskDefinitionArn") or request.get("taskDefinition")
        if not isinstance(revision, str) or not revision:
            raise EventError(f"{name} event without responseElements.taskDefinition.taskDefinitionArn")
        return ApiCall(revision=revision, **common)
    service = _dict(response.get("service"))
    service_arn = service.get("serviceArn") if isinstance(service.get("serviceArn"), str) else None
    if name == UPDATE_SERVICE and not request.get("taskDefinition"):
        return ApiCall(
            revision=None, service=service_arn, skip="UpdateService did not change the task definition", **common
        )
    revision = service.get("taskDefinition") or request.get("taskDefinition")
    if not isinstance(revision, str) or not revision:
        raise EventError(f"{name} event names no task definition (responseElements.service.taskDefinition)")
    return ApiCall(revision=revision, service=service_arn, **common)
