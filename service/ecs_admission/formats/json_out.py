"""The decision object as the webhook answers it: one object for one input, an array for several."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ecs_admission.formats.result import CheckResult, RenderContext


def render(results: Sequence[CheckResult], context: RenderContext) -> str:
    objects = [r.decision.to_dict() for r in results if r.decision is not None]
    if not objects:
        return ""
    return json.dumps(objects[0] if len(results) == 1 else objects, indent=2)
