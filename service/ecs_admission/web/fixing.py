"""`POST /v1/admit?fix=true` (or `"fix": true` in the envelope): the answer carries the combined
RFC 6902 patch of every fix the rules propose, against the document exactly as it was sent.

The verdict is still the verdict on the submitted document: the patch says how to make it pass,
it is not applied. AdmissionReview answers carry it as a Kubernetes mutating webhook does:
`patchType: "JSONPatch"` and `patch`, the patch's JSON in base64 (docs/fixes.md).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from ecs_admission.decision import Decision
from ecs_admission.gate.fixes import combined_patch

PATCH_TYPE = "JSONPatch"


def requested(query_value: bool | None, envelope_value: bool | None) -> bool:
    """The query's `fix`, else the envelope's; off unless one says true."""
    if query_value is not None:
        return query_value
    return bool(envelope_value)


def with_patch(body: dict[str, Any], decisions: Iterable[Decision]) -> dict[str, Any]:
    body["patch"] = combined_patch(decisions)
    return body


def review_patch(response: dict[str, Any], decision: Decision) -> dict[str, Any]:
    patch = combined_patch([decision])
    response["patchType"] = PATCH_TYPE
    response["patch"] = base64.b64encode(json.dumps(patch, separators=(",", ":")).encode()).decode("ascii")
    return response
