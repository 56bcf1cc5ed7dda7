"""Run the webhook under gunicorn, configured from Settings (used by `ecs-admission serve`)."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from .config import Settings

log = logging.getLogger(__name__)


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.workers,
        "worker_class": "sync",
        "timeout": int(settings.worker_timeout),
        "graceful_timeout": 10,
        "keepalive": 5,
        # Each worker builds its own app and so compiles the policies itself: regopy objects are
        # native and are not shared across fork.
        "preload_app": False,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
    }


class WebhookApplication(BaseApplication):
    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.settings).items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from .web import create_app

        return create_app(self.settings)


def run_gunicorn(settings: Settings) -> int:
    log.info("serving on http://%s:%d with %d worker(s)", settings.host, settings.port, settings.workers)
    WebhookApplication(settings).run()
    return 0
