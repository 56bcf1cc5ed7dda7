"""Text that goes into the policy input for rules to quote in their messages.

regopy 1.5.2 does not escape `"`, `\\` or control characters in the strings it returns: a finding
message holding one makes the whole decision unreadable (the engine fails closed with a 503). So
reasons built from outside text (an AWS error message, a template expression) are made safe here.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r'[\x00-\x1f"\\]')
_REPLACEMENT = {'"': "'", "\\": "/"}


def safe_text(text: str, limit: int = 300) -> str:
    text = _UNSAFE.sub(lambda match: _REPLACEMENT.get(match.group(), " "), text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
