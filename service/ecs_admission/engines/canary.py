"""A small, sound input whose evaluation proves an engine can decide (readiness, fail-open, reload)."""

from __future__ import annotations

from typing import Any

CANARY: dict[str, Any] = {
    "task_definition": {
        "family": "readiness-canary",
        "networkMode": "awsvpc",
        "containerDefinitions": [{"name": "canary", "image": "public.ecr.aws/nginx/nginx:1.27"}],
    },
    "task_roles": {},
    "context": {},
    "source": "register",
    "placeholders": [],
    "now": "2026-01-01T00:00:00Z",
}
