"""Rego print() output, as the service writes it down: redacted and bounded per evaluation.

print() is a debugging aid, and a policy author's `print(input.task_definition)` quotes environment
values and secrets' references; a loop of prints wrote 8 MB per decision to stderr. The log handler
masks what looks like a credential (report/redaction.py), but a plain `"value": "hunter2"` does not
look like one. So, before a line is logged:

- every `"value": "<string>"` (an environment entry's value, a secret option's value) is masked,
  and so is every `valueFrom`, whatever the document around it;
- each evaluation logs at most MAX_LINES lines of at most MAX_LINE_CHARS characters; the rest are
  counted in one closing line (`start()` opens an evaluation's budget, `finish()` writes that line).
"""

from __future__ import annotations

import logging
import re
import threading

log = logging.getLogger("ecs_admission.engines.embedded")

MAX_LINES = 20
MAX_LINE_CHARS = 1000
MASK = "***"
_SECRET_FIELDS = re.compile(r'("(?:value|valueFrom|credentialsParameter)"\s*:\s*)"(?:[^"\\]|\\.)*"')


def redact_print(message: str) -> str:
    return _SECRET_FIELDS.sub(lambda match: f'{match.group(1)}"{MASK}"', message)


class PrintSink:
    """The binding's print_handler: redact, bound, log (one budget per evaluation, per thread)."""

    def __init__(self, max_lines: int = MAX_LINES, max_chars: int = MAX_LINE_CHARS):
        self.max_lines = max_lines
        self.max_chars = max_chars
        self._local = threading.local()

    def start(self) -> None:
        self._local.lines = 0
        self._local.dropped = 0

    def __call__(self, message: str, location: str) -> None:
        lines = getattr(self._local, "lines", 0)
        if lines >= self.max_lines:
            self._local.dropped = getattr(self._local, "dropped", 0) + 1
            return
        self._local.lines = lines + 1
        text = message[: self.max_chars * 2]  # redact a bounded prefix, then cut to the bound
        text = redact_print(text)
        if len(message) > self.max_chars or len(text) > self.max_chars:
            text = text[: self.max_chars] + f"... [{len(message)} characters]"
        log.info("rego print %s: %s", location, text)

    def finish(self) -> None:
        dropped = getattr(self._local, "dropped", 0)
        if dropped:
            log.info(
                "rego print: %d more print() line(s) of this evaluation not logged (at most %d)",
                dropped,
                self.max_lines,
            )
        self._local.dropped = 0
        self._local.lines = 0
