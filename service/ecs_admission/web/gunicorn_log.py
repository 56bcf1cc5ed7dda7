"""gunicorn's own access and error logs, through the same masking as the service's (report/redaction.py).

gunicorn writes request lines (User-Agent included) and parse errors (an invalid header quoted
whole, a bearer token in it) with its own handlers; without this they reach stderr verbatim.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger

from ecs_admission.report.redaction import mask_text

# No query string, referer or basic-auth user: a client that puts a credential in a URL must not
# have it written down (docs/configuration.md "Decision records and redaction").
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'


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

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        """The atoms ACCESS_LOG_FORMAT uses, and only those: gunicorn's own builds one more per
        request header, response header and environ variable (about sixty) for every request."""
        if self.cfg.access_log_format != ACCESS_LOG_FORMAT:
            return super().atoms(resp, req, environ, request_time)
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "t": self.now(),
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "H": environ.get("SERVER_PROTOCOL"),
            "s": status,
            "B": getattr(resp, "sent", None),
            "M": (request_time.seconds * 1000) + int(request_time.microseconds / 1000),
            "a": environ.get("HTTP_USER_AGENT", "-"),
        }
