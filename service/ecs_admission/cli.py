"""The `ecs-admission` command: check task definitions locally, serve the webhook.

Exit codes (README "CLI"): 0 all allowed (or dry-run), 1 any denied, 2 usage or input error,
3 the engine could not decide.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .admission import Gate, build_gate
from .config import ConfigError, Settings
from .decision import Decision
from .errors import EngineError, InputError
from .inputs import normalise, parse_file_bytes
from .policy_cli import add_policy_commands

EXIT_ALLOWED, EXIT_DENIED, EXIT_INPUT, EXIT_ENGINE = 0, 1, 2, 3


class UsageError(Exception):
    """Raised instead of argparse's own exit so every usage error is one line and exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


@dataclass
class CheckResult:
    name: str
    decision: Decision | None = None
    error: str | None = None
    exit_code: int = EXIT_ALLOWED


def _read(path: str, stdin: TextIO) -> bytes:
    if path == "-":
        return stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", field=None, error="not_found") from None
    except IsADirectoryError:
        raise InputError("is a directory", error="not_a_file") from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", error="unreadable") from None


def check_one(gate: Gate, path: str, dry_run: bool | None, stdin: TextIO) -> CheckResult:
    name = "<stdin>" if path == "-" else path
    try:
        request = normalise(parse_file_bytes(_read(path, stdin), name))
    except InputError as exc:
        where = f" at {exc.field}" if exc.field else ""
        return CheckResult(name, error=f"{name}{where}: {exc.problem}", exit_code=EXIT_INPUT)
    try:
        decision = gate.decide(request, dry_run=dry_run)
    except EngineError as exc:
        return CheckResult(name, error=f"{name}: policy engine could not decide: {exc.reason}", exit_code=EXIT_ENGINE)
    denied = bool(decision.violations) and decision.enforced
    return CheckResult(name, decision=decision, exit_code=EXIT_DENIED if denied else EXIT_ALLOWED)


def render_text(result: CheckResult) -> str:
    decision = result.decision
    assert decision is not None
    if not decision.violations:
        verdict = "ALLOWED"
    elif decision.enforced:
        verdict = "DENIED"
    else:
        verdict = "WOULD DENY (dry-run)"
    family = decision.task_definition.family or "?"
    lines = [
        f"{result.name}: {verdict} (family {family}, {len(decision.violations)} violation(s), "
        f"{len(decision.warnings)} warning(s), decision {decision.decision_id})"
    ]
    for label, findings in (("deny", decision.violations), ("warn", decision.warnings), ("exempt", decision.exempted)):
        for finding in findings:
            lines.append(f"  {label:6} {finding.rule:13} {finding.severity:8} {finding.path}: {finding.message}")
            lines.append(f"         fix: {finding.remediation}")
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    settings = Settings.from_env().with_overrides(policy_dir=args.policy_dir)
    gate = build_gate(settings)
    results = [check_one(gate, path, True if args.dry_run else None, stdin) for path in args.paths]
    for result in results:
        if result.error:
            print(f"ecs-admission: {result.error}", file=stderr)
    decided = [r for r in results if r.decision is not None]
    if args.format == "json":
        objects = [r.decision.to_dict() for r in decided if r.decision]
        if objects:
            payload = objects[0] if len(args.paths) == 1 else objects
            print(json.dumps(payload, indent=2), file=stdout)
    else:
        for result in decided:
            print(render_text(result), file=stdout)
    return max(r.exit_code for r in results)


def cmd_serve(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    from .server import run_gunicorn

    settings = Settings.from_env().with_overrides(
        host=args.host, port=args.port, workers=args.workers, policy_dir=args.policy_dir
    )
    return run_gunicorn(settings)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ecs-admission", description="Policy gate for Amazon ECS task definitions.")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    check = commands.add_parser("check", help="evaluate task definition files locally")
    check.add_argument("paths", nargs="+", metavar="PATH", help="task definition file(s); - reads standard input")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--dry-run", action="store_true", help="report the verdict but exit 0")
    check.add_argument("--policy-dir", type=Path, help="directory of .rego policies (default: shipped policies)")
    check.set_defaults(handler=cmd_check)

    serve = commands.add_parser("serve", help="serve the webhook under gunicorn")
    serve.add_argument("--host", help="bind address (default ECS_ADMISSION_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default ECS_ADMISSION_PORT or 8080)")
    serve.add_argument("--workers", type=int, help="worker processes (default ECS_ADMISSION_WORKERS or 2)")
    serve.add_argument("--policy-dir", type=Path, help="directory of .rego policies")
    serve.set_defaults(handler=cmd_serve)

    add_policy_commands(commands)
    return parser


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    stdout, stderr, stdin = stdout or sys.stdout, stderr or sys.stderr, stdin or sys.stdin
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            raise UsageError("a command is required: check, serve, policy")
        return args.handler(args, stdout, stderr, stdin)
    except UsageError as exc:
        print(f"ecs-admission: {exc} (see ecs-admission --help)", file=stderr)
        return EXIT_INPUT
    except ConfigError as exc:
        print(f"ecs-admission: configuration error: {exc}", file=stderr)
        return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
