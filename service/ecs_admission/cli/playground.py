"""`ecs-admission playground`: the decision playground with a Rego editor, for rule authors.

The same page as the webhook's GET /playground, plus an editor for the policy directory's rules
(web/playground/authoring.py): evaluate the input with an unsaved edit, run the policy tests with coverage,
see compile errors at file:line, save. It binds 127.0.0.1 only (there is no --host) and runs with
authentication off, as a local tool; `serve` never offers the editor (docs/playground.md).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from ecs_admission.config import Settings
from ecs_admission.policy.loader import default_policy_dir

HOST = "127.0.0.1"
DEFAULT_PORT = 8081
EXIT_OK, EXIT_USAGE = 0, 2


def add_playground_command(commands: Any) -> None:
    playground = commands.add_parser(
        "playground", help="the decision playground with a Rego editor, on http://127.0.0.1 (for rule authors)"
    )
    playground.add_argument(
        "--policy-dir",
        type=Path,
        help="directory of .rego policies to edit and save "
        "(default ECS_ADMISSION_POLICY_DIR, else the shipped policies, read-only)",
    )
    playground.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})"
    )
    playground.set_defaults(handler=cmd_playground)


def build_app(policy_dir: Path | None, port: int) -> Any:
    """The local playground's app: the webhook's, authentication off, the playground and the editor on."""
    # Imported here: every `ecs-admission` command registers this one, and Flask (with the HTTP
    # client and server it brings) would add to the cold start of `check` (tests/cli/test_cold_start.py).
    from ecs_admission.web import create_app
    from ecs_admission.web.playground import authoring

    settings = Settings.from_env().with_overrides(policy_dir=policy_dir)
    settings = replace(settings, host=HOST, port=port, auth="none", playground=True, decision_log=False)
    app = create_app(settings)
    # The directory named by --policy-dir or ECS_ADMISSION_POLICY_DIR is the author's to save into;
    # the shipped policies (inside the installed package) are shown read-only.
    directory = settings.policy_dir if settings.policy_dir is not None else default_policy_dir()
    authoring.install(app, directory, port, writable=settings.policy_dir is not None)
    return app


def cmd_playground(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    from werkzeug.serving import make_server

    from ecs_admission.web.playground import authoring

    if not 0 < args.port < 65536:
        print("ecs-admission: --port must be between 1 and 65535", file=stderr)
        return EXIT_USAGE
    if args.policy_dir is not None and not args.policy_dir.is_dir():
        print(f"ecs-admission: --policy-dir {args.policy_dir}: not a directory", file=stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = build_app(args.policy_dir, args.port)
    try:
        server = make_server(HOST, args.port, app, threaded=True)
    except OSError as exc:
        print(f"ecs-admission: cannot listen on {HOST}:{args.port}: {exc.strerror}", file=stderr)
        return EXIT_USAGE
    editor = app.extensions["ecs_admission"][authoring.EXTENSION_KEY]
    editing = (
        editor["policy_dir"] if editor["writable"] else f"{editor['policy_dir']} (the shipped policies, read-only)"
    )
    print(f"ecs-admission playground on http://{HOST}:{args.port}/playground, editing {editing}", file=stdout)
    stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return EXIT_OK
