"""The detective Lambda's own settings (ECS_ADMISSION_DETECTIVE_*), with their documented defaults.

The gate's settings (policies, IAM lookups, retries) are config.Settings as everywhere else;
docs/bypass.md lists these with the CloudFormation parameters that set them.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass

from ecs_admission.config import ConfigError, env_setting, parse_bool, parse_choice

PREFIX = "ECS_ADMISSION_DETECTIVE_"
RESPONSES = ("tag", "deregister")
SCOPES = ("latest", "all")


def parse_patterns(name: str, raw: str) -> tuple[str, ...]:
    """Role ARNs or patterns (`*` and `?` as in IAM), separated by commas or newlines; `#` starts a comment."""
    patterns = []
    for entry in raw.replace(",", "\n").splitlines():
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        if not entry.startswith("arn:"):
            raise ConfigError(f"{name}: {entry[:100]!r} is not an ARN or ARN pattern (arn:aws:iam::ACCOUNT:role/NAME)")
        patterns.append(entry)
    return tuple(patterns)


def parse_responses(name: str, raw: str) -> frozenset[str]:
    """`none`, or `tag`, `deregister` or both, comma-separated."""
    words = {word.strip().lower() for word in raw.split(",") if word.strip()}
    if words <= {"none"}:
        return frozenset()
    unknown = sorted(words - set(RESPONSES))
    if unknown or "none" in words:
        raise ConfigError(f"{name}={raw!r}: expected none, or one or both of {', '.join(RESPONSES)}")
    return frozenset(words)


@dataclass(frozen=True)
class DetectiveSettings:
    # Registrations by these principals went through the gate already and are skipped (recorded as
    # such). Matched against CloudTrail's userIdentity.sessionContext.sessionIssuer.arn (the role),
    # else userIdentity.arn. Default: none, every registration is judged.
    pipeline_roles: tuple[str, ...] = ()
    # What to do to a denied revision besides the finding: nothing (default), "tag", "deregister", or both.
    responses: frozenset[str] = frozenset()
    # Second opt-in: also deregister a denied revision named by CreateService/UpdateService, i.e. one
    # a service runs. Off: such a revision gets its findings (and tag), never a deregistration.
    touch_services: bool = False
    # "latest" (Security Hub's and AWS Config's ECS controls): a family's newest ACTIVE revision is what
    # is judged, so registering one resolves the findings of earlier revisions. "all": every revision
    # keeps its findings until it is deregistered or passes.
    scope: str = "latest"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DetectiveSettings:
        env = os.environ if environ is None else environ

        def get(suffix: str) -> str | None:
            return env_setting(env, PREFIX + suffix)

        values: dict[str, object] = {}
        if (raw := get("PIPELINE_ROLES")) is not None:
            values["pipeline_roles"] = parse_patterns(PREFIX + "PIPELINE_ROLES", raw)
        if (raw := get("RESPONSE")) is not None:
            values["responses"] = parse_responses(PREFIX + "RESPONSE", raw)
        if (raw := get("TOUCH_SERVICES")) is not None:
            values["touch_services"] = parse_bool(PREFIX + "TOUCH_SERVICES", raw)
        if (raw := get("SCOPE")) is not None:
            values["scope"] = parse_choice(PREFIX + "SCOPE", raw, SCOPES)
        return cls(**values)  # type: ignore[arg-type]

    def pipeline_role(self, principal: str | None) -> str | None:
        """The configured pattern `principal` matches, if any (case-sensitive, as ARNs are)."""
        if not principal:
            return None
        return next((p for p in self.pipeline_roles if fnmatch.fnmatchcase(principal, p)), None)
