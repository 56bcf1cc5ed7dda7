"""Gunicorn configuration module for `gunicorn -c python:ecs_admission.gunicorn_conf`.

The container image uses it; every value comes from the same ECS_ADMISSION_* settings as
`ecs-admission serve`, so both entry points behave the same.
"""

from ecs_admission.config import Settings
from ecs_admission.web.server import gunicorn_options

_options = gunicorn_options(Settings.from_env())
bind = _options["bind"]
workers = _options["workers"]
worker_class = _options["worker_class"]
threads = _options["threads"]
timeout = _options["timeout"]
graceful_timeout = _options["graceful_timeout"]
keepalive = _options["keepalive"]
preload_app = _options["preload_app"]
accesslog = _options["accesslog"]
access_log_format = _options["access_log_format"]
errorlog = _options["errorlog"]
loglevel = _options["loglevel"]
logger_class = _options["logger_class"]
on_starting = _options["on_starting"]
on_reload = _options["on_reload"]
child_exit = _options["child_exit"]
on_exit = _options["on_exit"]
wsgi_app = "ecs_admission.web:create_app()"
