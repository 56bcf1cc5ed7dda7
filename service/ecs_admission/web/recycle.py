"""A gunicorn worker whose evaluations are stuck past their deadline asks to be replaced.

An in-process evaluation cannot be stopped (engines/deadline.py): each one abandoned at its
deadline keeps a core busy until it ends on its own. The deadline wrapper replaces the stuck engine
so the worker keeps deciding, but once `max_abandoned` such evaluations run at once, the worker
sends itself SIGTERM: gunicorn's graceful shutdown lets the requests in flight finish (within
graceful_timeout) and the master starts a fresh worker, which serves the newest accepted policies
(web/accepted.py).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from ecs_admission.engines import unwrap
from ecs_admission.engines.deadline import DeadlineEngine

log = logging.getLogger(__name__)


def deadline_engine(engine: Any) -> DeadlineEngine | None:
    engine = unwrap(engine, lambda candidate: isinstance(candidate, DeadlineEngine))
    return engine if isinstance(engine, DeadlineEngine) else None


def recycle_when_stuck(engine: Any) -> None:
    wrapper = deadline_engine(engine)
    if wrapper is not None:
        wrapper.on_exhausted = _recycle_once()
        wrapper.keep_spare()


def _recycle_once() -> Any:
    asked = threading.Event()

    def recycle() -> None:
        if asked.is_set():
            return
        asked.set()
        log.error(
            "asking gunicorn to replace this worker (pid %d): evaluations are stuck past their deadline", os.getpid()
        )
        os.kill(os.getpid(), signal.SIGTERM)

    return recycle
