"""gunicorn's own access and error logs, through the same masking as the service's (report/redaction.py).

gunicorn writes request lines (User-Agent included) and parse errors (an invalid header quoted
whole, a bearer token in it) with its own handlers; without this they reach stderr verbatim.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger

from ecs_admission.report.redaction import mask_text


class MaskingFormatter(logging.Formatter):
    """Whatever another formatter writes, with credential-looking text masked."""

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(self.inner.format(record))


class MaskingLogger(Logger):
    """gunicorn's Logger, every handler of its error and access logs masking what it writes."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not isinstance(handler.formatter, MaskingFormatter):
                    handler.setFormatter(MaskingFormatter(handler.formatter))
