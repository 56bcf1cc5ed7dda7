"""The CodePipeline Lambda's own settings (ECS_ADMISSION_CODEPIPELINE_*), with their documented defaults.

The gate's settings (policies, ECS_ADMISSION_GATE_URL, ECS_ADMISSION_GATE_TOKEN) are
config.Settings as everywhere else; docs/pipelines.md lists these with the stack parameter that sets them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ecs_admission.config import ConfigError, env_setting

PREFIX = "ECS_ADMISSION_CODEPIPELINE_"
HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def parse_hosts(name: str, raw: str) -> tuple[str, ...]:
    """Host names, separated by commas or whitespace; compared exactly (no wildcards), case-insensitively."""
    hosts = []
    for entry in raw.replace(",", " ").split():
        host = entry.lower().rstrip(".")
        if not HOST_RE.match(host):
            raise ConfigError(f"{name}: {entry[:100]!r} is not a host name (gate.example.com, no scheme or port)")
        hosts.append(host)
    return tuple(hosts)


@dataclass(frozen=True)
class PipelineSettings:
    # Hosts a pipeline's UserParameters gateUrl may name besides ECS_ADMISSION_GATE_URL's. Default:
    # none, so gateUrl can only repeat the function's own gate URL.
    gate_hosts: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PipelineSettings:
        env = os.environ if environ is None else environ
        raw = env_setting(env, PREFIX + "GATE_HOSTS")
        return cls(gate_hosts=parse_hosts(PREFIX + "GATE_HOSTS", raw) if raw is not None else ())
