"""Text that goes into the policy input for rules to quote in their messages.

Reasons built from outside text (an AWS error message, a template expression) end up in finding
messages: keep them to one line of bounded length with plain quotes. (The embedded engine escapes
every input string itself, see engines/embedded.py's to_rego_input, so this is for readability.)
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r'[\x00-\x1f"\\]')
_REPLACEMENT = {'"': "'", "\\": "/"}


def safe_text(text: str, limit: int = 300) -> str:
    text = _UNSAFE.sub(lambda match: _REPLACEMENT.get(match.group(), " "), text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
