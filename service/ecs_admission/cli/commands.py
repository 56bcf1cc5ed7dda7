"""The `ecs-admission` command: check task definitions (locally or by a remote gate), audit the
registered ones, serve the webhook.

Exit codes (docs/cli.md): 0 all allowed (or dry-run), 1 any denied, 2 usage, configuration or
input error, 3 the engine could not decide or the gate could not be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TextIO

from ecs_admission import __version__
from ecs_admission.cli.fix import add_fix_command
from ecs_admission.cli.paths import read_path
from ecs_admission.cli.playground import add_playground_command
from ecs_admission.cli.policy import add_policy_commands
from ecs_admission.cli.prestart import take as take_prestarted
from ecs_admission.cli.streams import ReaderMayClose, silence
from ecs_admission.config import ConfigError, Settings
from ecs_admission.decision import Decision
from ecs_admission.engines.factory import build_engine
from ecs_admission.errors import EngineError, InputError
from ecs_admission.formats import FORMATS, CheckResult, RenderContext, Source, render
from ecs_admission.formats.result import EXIT_ALLOWED, EXIT_DENIED, EXIT_ENGINE, EXIT_INPUT, workspace
from ecs_admission.formats.text import render_result as render_text
from ecs_admission.gate import Gate, build_gate
from ecs_admission.inputs import normalise, parse_file_bytes
from ecs_admission.inputs.cloudformation.loader import is_template
from ecs_admission.inputs.terraform.plan import is_plan
from ecs_admission.integrations.gate_client import (
    DEFAULT_TIMEOUT,
    GateClient,
    GateError,
    GateUnreachable,
    content_type_for,
)
from ecs_admission.policy.catalogue import rule_catalogue

__all__ = ["EXIT_ALLOWED", "EXIT_DENIED", "EXIT_ENGINE", "EXIT_INPUT", "CheckResult", "main", "render_text"]


def version_text() -> str:
    # The pinned versions, not the loaded library's: --version must answer even where it cannot load.
    from ecs_admission.engines.embedded import BINDINGS_DISTRIBUTION, BINDINGS_VERSION, OPA_VERSION

    return f"ecs-admission {__version__} (OPA {OPA_VERSION} in-process ({BINDINGS_DISTRIBUTION} {BINDINGS_VERSION}))"


Handler = Callable[[argparse.Namespace, TextIO, TextIO, TextIO], int]


class UsageError(Exception):
    """Raised instead of argparse's own exit so every usage error is one line and exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _input_error(name: str, exc: InputError) -> CheckResult:
    where = f" at {exc.field}" if exc.field else ""
    return CheckResult(name, error=f"{name}{where}: {exc.problem}", exit_code=EXIT_INPUT)


class Checker(Protocol):
    """Where decisions come from: the local engine or a remote gate. Rendering is the same for both.

    One result per task definition: a CloudFormation template gives one per AWS::ECS::TaskDefinition,
    named FILE#LogicalId, whose finding paths point into the template.
    """

    notes: list[str]

    def check(self, name: str, raw: bytes, dry_run: bool) -> list[CheckResult]: ...

    def rules(self) -> list[dict]: ...


def _decided(name: str, decision: Decision) -> CheckResult:
    denied = bool(decision.violations) and decision.enforced
    return CheckResult(name, decision=decision, exit_code=EXIT_DENIED if denied else EXIT_ALLOWED)


def _engine_error(name: str, exc: EngineError) -> CheckResult:
    return CheckResult(name, error=f"{name}: policy engine could not decide: {exc.reason}", exit_code=EXIT_ENGINE)


class LocalChecker:
    def __init__(self, gate: Gate):
        self.gate = gate
        self.notes: list[str] = []

    def check(self, name: str, raw: bytes, dry_run: bool) -> list[CheckResult]:
        try:
            document = parse_file_bytes(raw, name)
            if is_template(document):
                return self._check_template(name, document, dry_run)
            if is_plan(document):
                return self._check_plan(name, document, dry_run)
            request = normalise(document)
        except InputError as exc:
            return [_input_error(name, exc)]
        try:
            decision = self.gate.decide(request, dry_run=True if dry_run else None)
        except InputError as exc:  # found while gathering facts: past the evaluator's budget
            return [_input_error(name, exc)]
        except EngineError as exc:
            return [_engine_error(name, exc)]
        return [_decided(name, decision)]

    def _check_template(self, name: str, document: dict, dry_run: bool) -> list[CheckResult]:
        # Imported when a template is checked: a cold `check` of a task definition need not load them.
        from ecs_admission.gate.templates import decide_template
        from ecs_admission.inputs.cloudformation import load_template

        template = load_template(document, self.gate.default_context)
        try:
            judged = decide_template(self.gate, template, dry_run=True if dry_run else None)
        except EngineError as exc:
            return [_engine_error(name, exc)]
        for skipped in template.skipped:
            self.notes.append(f"{name}#{skipped['logical_id']} skipped: {skipped['reason']}")
        return [_decided(f"{name}#{logical_id}", decision) for logical_id, decision in judged.results]

    def _check_plan(self, name: str, document: dict, dry_run: bool) -> list[CheckResult]:
        """A Terraform plan: FILE#<address> per aws_ecs_task_definition created or updated (docs/terraform.md)."""
        from ecs_admission.gate.terraform import decide_plan
        from ecs_admission.inputs.terraform import load_plan

        plan = load_plan(document)
        try:
            judged = decide_plan(self.gate, plan, dry_run=True if dry_run else None)
        except EngineError as exc:
            return [_engine_error(name, exc)]
        for skipped in plan.skipped:
            self.notes.append(f"{name}#{skipped['logical_id']} skipped: {skipped['reason']}")
        if not judged.results:
            self.notes.append(f"{name}: no aws_ecs_task_definition is created or updated by this plan")
        return [_decided(f"{name}#{address}", decision) for address, decision in judged.results]

    def rules(self) -> list[dict]:
        return rule_catalogue(self.gate.engine.policy_data())


class RemoteChecker:
    def __init__(self, client: GateClient, fail_open: bool):
        self.client = client
        self.fail_open = fail_open
        self.notes: list[str] = []
        self._down: str | None = None  # set once a connection failed: later files would only wait again

    def check(self, name: str, raw: bytes, dry_run: bool) -> list[CheckResult]:
        try:
            if self._down:
                raise GateUnreachable(f"{self._down} (not retried)")
            decisions = self.client.admit_all(raw, content_type_for(name, raw), dry_run=dry_run)
        except InputError as exc:
            return [_input_error(name, exc)]
        except GateUnreachable as exc:
            if exc.connection_failed:
                self._down = exc.reason
            if self.fail_open:
                return [
                    CheckResult(
                        name,
                        error=f"{name} was NOT checked: {exc.reason}; failing open (--fail-open-on-unreachable)",
                        exit_code=EXIT_ALLOWED,
                        failed_open=True,
                    )
                ]
            return [CheckResult(name, error=f"{name}: {exc.reason}", exit_code=EXIT_ENGINE)]
        except GateError as exc:
            return [CheckResult(name, error=f"{name}: {exc.reason}", exit_code=EXIT_ENGINE)]
        return [_decided(f"{name}#{logical_id}" if logical_id else name, d) for logical_id, d in decisions]

    def rules(self) -> list[dict]:
        return self.client.policies()


SECURITYHUB = "securityhub"  # --report securityhub (audit): findings to AWS Security Hub


def _report_spec(value: str) -> tuple[str, Path | None]:
    if value == SECURITYHUB:
        return SECURITYHUB, None  # audit only: findings go to Security Hub, not to a file
    fmt, sep, path = value.partition("=")
    if not sep or fmt not in FORMATS or not path:
        raise argparse.ArgumentTypeError(
            f"expected FORMAT=FILE with FORMAT one of {', '.join(FORMATS)} (or securityhub for audit), got {value!r}"
        )
    return fmt, Path(path)


def _take_securityhub(args: argparse.Namespace, command: str) -> bool:
    """Whether `--report securityhub` was given (removed from args.report, which lists files to write)."""
    wanted = any(fmt == SECURITYHUB for fmt, _ in args.report)
    if wanted and command != "audit":
        raise UsageError("--report securityhub is for audit (it reports registered revisions)")
    args.report = [(fmt, path) for fmt, path in args.report if fmt != SECURITYHUB]
    return wanted


def _report_securityhub(
    args: argparse.Namespace, region: str, judged: list[tuple[str, CheckResult]], stderr: TextIO
) -> int:
    """Sync each judged revision's Security Hub findings, as the detective Lambda does; exit 3 if that fails."""
    from ecs_admission.report.securityhub import SecurityHubError, findings_client, sync_judged

    try:
        hub = findings_client(Settings.from_env(), region)
        decided = [(arn, result.decision) for arn, result in judged if result.decision is not None]
        result = sync_judged(hub, decided, latest_only=not args.all_revisions)
    except SecurityHubError as exc:
        print(f"ecs-admission: cannot report to Security Hub in {region}: {exc.reason}", file=stderr)
        return EXIT_ENGINE
    active, resolved = len(result.active), len(result.resolved)
    print(f"ecs-admission: Security Hub ({region}): {active} active finding(s), {resolved} resolved", file=stderr)
    return EXIT_ALLOWED


def _checker(args: argparse.Namespace, stderr: TextIO) -> Checker:
    if not args.url:
        if args.token_env or args.fail_open_on_unreachable:
            raise UsageError("--token-env and --fail-open-on-unreachable need --url")
        settings = Settings.from_env().with_overrides(policy_dir=args.policy_dir)
        # A check of a few files decides a few times: the engine need not prepare for many (cold start).
        expected = len(args.paths) if getattr(args, "paths", None) else None
        engine = take_prestarted(settings, expected)  # cli/prestart.py: built on a thread of its own
        if engine is None:
            engine = build_engine(settings, expected_decisions=expected)
        return LocalChecker(build_gate(settings, engine))
    if args.policy_dir:
        raise UsageError("--policy-dir evaluates locally; a gate at --url decides with its own policies")
    token = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            raise UsageError(f"--token-env {args.token_env}: that environment variable is not set or empty")
    timeout = args.timeout if args.timeout is not None else Settings.from_env().gate_timeout
    if timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    try:
        client = GateClient(args.url, token=token, timeout=timeout)
    except ValueError as exc:
        raise UsageError(f"--url: {exc}") from None
    if client.token_over_plain_http:
        print(f"ecs-admission: warning: sending a bearer token to {args.url} over plain http", file=stderr)
    return RemoteChecker(client, args.fail_open_on_unreachable)


def _rules(checker: Checker, stderr: TextIO) -> list[dict]:
    try:
        return checker.rules()
    except (EngineError, GateError) as exc:
        reason = exc.reason
        print(
            f"ecs-admission: warning: rule catalogue unavailable ({reason}); reports list only rules that fired",
            file=stderr,
        )
        return []


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            handle.write(text + ("\n" if text and not text.endswith("\n") else ""))
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


# The formats whose consumers need a location in the repository (annotations, code scanning, test reports).
LOCATED_FORMATS = frozenset({"github", "sarif", "junit"})


def _source_of(path: str, raw: bytes, notes: list[str]) -> Source:
    """Where findings in `path` are reported: the file itself, or the repository file it was rendered from."""
    source = Source("stdin", raw, stdin=True) if path == "-" else Source(path, raw)
    if source.in_repository():
        return source
    from ecs_admission.formats.origin import find_origin

    name = "standard input" if path == "-" else path
    origin = find_origin(raw, path)
    if origin is None:
        notes.append(
            f"{name} is outside the repository and no one repository file is what it was rendered from: "
            f"reports name it {source.repo_path()!r} (--source-file names the file it was rendered from)"
        )
        return source
    notes.append(f"{name} is outside the repository; findings point at {origin.as_posix()}, rendered from it")
    return Source(str(workspace() / origin), (workspace() / origin).read_bytes())


def cmd_check(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    _take_securityhub(args, "check")
    if args.source_file and len(args.paths) != 1:
        raise UsageError("--source-file needs exactly one PATH")
    checker = _checker(args, stderr)
    located = bool(LOCATED_FORMATS & {args.format, *(fmt for fmt, _ in args.report)})
    results: list[CheckResult] = []
    for path in args.paths:
        name = "<stdin>" if path == "-" else path
        try:
            raw = read_path(path, stdin)
        except InputError as exc:
            results.append(_input_error(name, exc))
            continue
        checked = checker.check(name, raw, args.dry_run)
        if args.source_file:
            try:
                source = Source(str(args.source_file), args.source_file.read_bytes())
            except OSError as exc:
                raise UsageError(f"--source-file {args.source_file}: {exc.strerror}") from None
        elif located and any(result.decision is not None for result in checked):
            source = _source_of(path, raw, checker.notes)
        else:
            # No finding to place (text or json output, or nothing decided): the file as given.
            source = Source("stdin", raw, stdin=True) if path == "-" else Source(path, raw)
        for result in checked:
            result.source = source
            results.append(result)
    return _report(args, checker, results, stdout, stderr)


def _report(
    args: argparse.Namespace, checker: Checker, results: list[CheckResult], stdout: TextIO, stderr: TextIO
) -> int:
    """Print notes and errors, render the results as --format (and each --report), return the exit code."""
    for note in checker.notes:
        print(f"ecs-admission: note: {note}", file=stderr)
    for result in results:
        if result.failed_open:
            print(f"ecs-admission: WARNING: FAILING OPEN: {result.error}", file=stderr)
        elif result.error:
            print(f"ecs-admission: {result.error}", file=stderr)

    formats = [args.format, *(fmt for fmt, _ in args.report)]
    context = RenderContext(
        rules=_rules(checker, stderr) if {"sarif", "junit"} & set(formats) else [],
        gate_url=args.url,
        step_summary=(os.environ.get("GITHUB_STEP_SUMMARY") or None) if args.format == "github" else None,
    )
    output = render(args.format, results, context)
    if args.output:
        _write(args.output, output)
    elif output:
        print(output, file=stdout)
    for fmt, path in args.report:
        _write(path, render(fmt, results, context))
    if context.step_summary:
        from ecs_admission.formats.github import step_summary

        try:
            with open(context.step_summary, "a", encoding="utf-8") as handle:
                handle.write(step_summary(results, context))
        except OSError as exc:
            # The summary is a convenience: losing it must not turn a verdict into an error.
            print(f"ecs-admission: warning: cannot write GITHUB_STEP_SUMMARY: {exc.strerror}", file=stderr)
    return max((r.exit_code for r in results), default=EXIT_ALLOWED)


def cmd_audit(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    from ecs_admission.cli.progress import AuditProgress
    from ecs_admission.report.audit import AuditError, ecs_client, registered_task_definitions

    try:
        client = ecs_client(Settings.from_env(), args.region)
    except AuditError as exc:
        raise UsageError(exc.reason) from None
    region = client.meta.region_name
    securityhub = _take_securityhub(args, "audit")
    checker = _checker(args, stderr)
    results: list[CheckResult] = []
    judged: list[tuple[str, CheckResult]] = []  # (revision ARN, its result) for --report securityhub
    failure = None
    progress = AuditProgress.for_stream(stderr, quiet=args.quiet)
    try:
        for registered in registered_task_definitions(client, args.family_prefix, args.all_revisions, progress):
            progress.task_definition_judged()
            if registered.body is None:
                results.append(
                    CheckResult(registered.name, error=f"{registered.name}: {registered.error}", exit_code=EXIT_ENGINE)
                )
                continue
            checked = checker.check(registered.name, registered.body, args.dry_run)
            judged.extend((registered.arn or registered.name, result) for result in checked)
            results.extend(checked)
    except AuditError as exc:
        # Fail closed: what was judged is still reported, and the exit says the audit is incomplete.
        failure = f"cannot list the task definitions in {region}: {exc.reason}"
    finally:
        progress.finish()
    if not results and failure is None:
        print(
            f"ecs-admission: note: no ACTIVE task definitions in {region}"
            + (f" with family prefix {args.family_prefix!r}" if args.family_prefix else ""),
            file=stderr,
        )
    code = _report(args, checker, results, stdout, stderr)
    if securityhub:
        code = max(code, _report_securityhub(args, region, judged, stderr))
    if failure:
        print(f"ecs-admission: {failure}", file=stderr)
        return EXIT_ENGINE
    return code


def cmd_serve(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    from ecs_admission.web.server import PortUnavailable, run_gunicorn
    from ecs_admission.web.tempdir import TemporaryDirectoryUnavailable

    settings = Settings.from_env().with_overrides(
        host=args.host, port=args.port, workers=args.workers, policy_dir=args.policy_dir
    )
    try:
        return run_gunicorn(settings)
    except (PortUnavailable, TemporaryDirectoryUnavailable) as exc:
        print(f"ecs-admission: {exc}", file=stderr)
        return EXIT_INPUT


def _add_decision_options(command: argparse.ArgumentParser) -> None:
    """How a command decides (locally or by a gate at --url) and reports: shared by check and audit."""
    command.add_argument("--format", choices=tuple(FORMATS), default="text")
    command.add_argument("--output", type=Path, metavar="FILE", help="write the --format report to FILE, not stdout")
    command.add_argument(
        "--report",
        type=_report_spec,
        action="append",
        default=[],
        metavar="FORMAT=FILE",
        help="also write the same decisions as FORMAT to FILE (repeatable), e.g. sarif=results.sarif; audit also "
        "takes 'securityhub': each denied revision as Security Hub findings (docs/bypass.md)",
    )
    command.add_argument("--dry-run", action="store_true", help="report the verdict but exit 0")
    command.add_argument("--policy-dir", type=Path, help="directory of .rego policies (default: shipped policies)")
    command.add_argument("--url", help="ask the gate at URL (POST URL/v1/admit) instead of evaluating locally")
    command.add_argument("--token-env", metavar="NAME", help="send 'Authorization: Bearer $NAME' to the gate")
    command.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"gate timeout (default ECS_ADMISSION_GATE_TIMEOUT or {DEFAULT_TIMEOUT:g})",
    )
    command.add_argument(
        "--fail-open-on-unreachable",
        action="store_true",
        help="exit 0 with a warning, not 3, when the gate cannot be reached or answers 5xx",
    )


def _bundle_command(name: str) -> Handler:
    """engines/bundle.py's command `name`, imported when it runs: only `policy bundle` needs tarfile and gzip."""

    def handler(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
        from ecs_admission.engines import bundle

        command: Handler = getattr(bundle, name)
        return command(args, stdout, stderr, stdin)

    return handler


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ecs-admission", description="Policy gate for Amazon ECS task definitions.")
    parser.add_argument("--version", action="version", version=version_text())
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    check = commands.add_parser("check", help="evaluate task definition files, locally or by a remote gate")
    check.add_argument("paths", nargs="+", metavar="PATH", help="task definition file(s); - reads standard input")
    _add_decision_options(check)
    check.add_argument(
        "--source-file",
        type=Path,
        metavar="FILE",
        help="attribute findings to lines of FILE (the template PATH was rendered from)",
    )
    check.set_defaults(handler=cmd_check)
    add_fix_command(commands)

    audit = commands.add_parser(
        "audit", help="evaluate the task definitions already registered in an account and Region (read-only)"
    )
    audit.add_argument("--region", help="AWS Region (default ECS_ADMISSION_REGION, AWS_REGION or AWS_DEFAULT_REGION)")
    audit.add_argument("--family-prefix", metavar="PREFIX", help="only task definition families starting with PREFIX")
    audit.add_argument(
        "--all-revisions", action="store_true", help="every ACTIVE revision, not only the latest of each family"
    )
    audit.add_argument(
        "--quiet", action="store_true", help="no progress line on stderr (drawn only when stderr is a terminal)"
    )
    _add_decision_options(audit)
    audit.set_defaults(handler=cmd_audit)

    serve = commands.add_parser("serve", help="serve the webhook under gunicorn")
    serve.add_argument("--host", help="bind address (default ECS_ADMISSION_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default ECS_ADMISSION_PORT or 8080)")
    serve.add_argument("--workers", type=int, help="worker processes (default ECS_ADMISSION_WORKERS or 2)")
    serve.add_argument("--policy-dir", type=Path, help="directory of .rego policies")
    serve.set_defaults(handler=cmd_serve)

    add_playground_command(commands)
    policy_commands = add_policy_commands(commands)
    bundle = policy_commands.add_parser("bundle", help="write the policies as an OPA bundle (.tar.gz)")
    bundle.add_argument("--policy-dir", type=Path, help="directory of .rego policies (default: shipped policies)")
    bundle.add_argument("-o", "--output", required=True, metavar="FILE", help="bundle file to write; - for stdout")
    bundle.add_argument("--revision", help="manifest revision (default: the policies' content hash)")
    bundle.set_defaults(handler=_bundle_command("cmd_policy_bundle"))
    mask = policy_commands.add_parser(
        "mask-bundle", help="write OPA's decision-log mask (package system.log) as a bundle of its own"
    )
    mask.add_argument("mask", metavar="FILE", help="the mask policy, e.g. deploy/opa/log-mask.rego")
    mask.add_argument("-o", "--output", required=True, metavar="FILE", help="bundle file to write")
    mask.add_argument("--revision", help="manifest revision (default: the file's content hash)")
    mask.set_defaults(handler=_bundle_command("cmd_policy_mask_bundle"))
    return parser


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    # `ecs-admission check ... | head`: once the reader is gone, output stops quietly and the
    # command still exits with its verdict.
    stdout = stdout or ReaderMayClose(sys.stdout)  # type: ignore[assignment]
    stderr, stdin = stderr or sys.stderr, stdin or sys.stdin
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            raise UsageError("a command is required: check, fix, audit, serve, playground, policy")
        code = args.handler(args, stdout, stderr, stdin)
        stdout.flush()
        return code
    except UsageError as exc:
        print(f"ecs-admission: {exc} (see ecs-admission --help)", file=stderr)
        return EXIT_INPUT
    except ConfigError as exc:
        print(f"ecs-admission: configuration error: {exc}", file=stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        # Output written past the wrapper (bytes) whose reader left before the end: incomplete.
        silence(sys.stdout)
        print("ecs-admission: standard output was closed before the output was complete", file=stderr)
        return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
