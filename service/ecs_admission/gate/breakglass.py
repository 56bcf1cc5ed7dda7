"""Break-glass: the server-wide settings that open the gate, and the trace they leave.

Two settings let every caller's deploys through (docs/operations.md, "Break-glass"):

- `ECS_ADMISSION_MODE=dry-run` ("dry-run"): every decision is still made and reported, none blocks;
- `ECS_ADMISSION_FAILURE_POLICY=ignore` ("fail-open"): a request the engine cannot decide is allowed
  with warning ECS-GATE-001 instead of answered 503.

Either one in force must be visible afterwards, to the on-call engineer now and to an audit later,
so each worker that starts with one: logs a WARNING naming it, sets the gauge
`ecs_admission_break_glass{mode=...}` to 1 (an alarm watches it), and every decision record it writes
carries `"break_glass": [...]` naming the modes in force. A record without the field was made with
the gate closed.
"""

from __future__ import annotations

import logging

from ecs_admission import metrics
from ecs_admission.config import Settings

log = logging.getLogger(__name__)

DRY_RUN = "dry-run"
FAIL_OPEN = "fail-open"
MODES = (DRY_RUN, FAIL_OPEN)

_EXPLANATIONS = {
    DRY_RUN: "ECS_ADMISSION_MODE=dry-run: decisions are reported but nothing is blocked unless a request asks "
    "to enforce",
    FAIL_OPEN: "ECS_ADMISSION_FAILURE_POLICY=ignore: a request the engine cannot decide is allowed (warning "
    "ECS-GATE-001) instead of refused with 503",
}


def active_modes(settings: Settings) -> tuple[str, ...]:
    """The break-glass modes these settings put in force, in MODES order (empty: the gate is closed)."""
    in_force = {DRY_RUN: settings.default_mode == "dry-run", FAIL_OPEN: settings.failure_policy == "ignore"}
    return tuple(mode for mode in MODES if in_force[mode])


def announce(settings: Settings) -> tuple[str, ...]:
    """At a worker's start: the WARNING and the gauge; returns the modes for the decision records."""
    modes = active_modes(settings)
    metrics.break_glass({mode: mode in modes for mode in MODES})
    for mode in modes:
        log.warning("BREAK-GLASS %s IS ON: %s; every decision record names it", mode.upper(), _EXPLANATIONS[mode])
    return modes
