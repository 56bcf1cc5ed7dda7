"""What the unauthenticated /readyz may say about policies: which revision serves, the newest one
accepted, and why a reload was refused, without quoting any policy source or file content.

A refused reload's full message (OPA's, the YAML parser's, with the offending source line and a
caret) goes to the service log; /readyz shows its first line only, with quoted text elided and a
length bound: `config.yaml: not valid YAML: while scanning a quoted scalar` says what and where;
the line it quotes could be a secret, or (through a link, before links were refused) /etc/passwd.
"""

from __future__ import annotations

import re
from typing import Any

from ecs_admission.web import accepted

MAX_CHARS = 300
_QUOTED = re.compile(r"'[^'\n]{0,2000}'|\"[^\"\n]{0,2000}\"|`[^`\n]{0,2000}`")


def public_error(error: str | None) -> str | None:
    if not error:
        return error
    parts = []
    for part in error.split("; "):
        first = part.strip().splitlines()[0] if part.strip() else ""
        if first:
            parts.append(_QUOTED.sub("'…'", first))
    text = "; ".join(parts)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + "…"
    return text + " (full message in the service log)" if text != error else text


def reload_error_view(last_error: dict[str, Any]) -> dict[str, Any]:
    return {**last_error, "error": public_error(last_error.get("error"))}


def accepted_view(serving: str) -> dict[str, Any]:
    """`latest_accepted` (and `stale` when this worker serves another revision), under gunicorn."""
    newest = accepted.current()
    if not newest or not newest.get("revision"):
        return {}
    view: dict[str, Any] = {"latest_accepted": newest["revision"]}
    if newest["revision"] != serving:
        view["stale"] = True
    return view
