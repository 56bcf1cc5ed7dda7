"""`ecs-admission fix FILE [-o OUT]`: write the task definition with the fixes the rules propose.

The fixed document goes to standard output (or OUT) in the form it came in: JSON stays JSON with
its indentation, YAML stays YAML with its comments, keys keep their order, a CloudFormation
template is patched in place. Standard error lists each fix applied and each denial left.

Exit codes: 0 nothing left denies, 1 denials remain that no fix covers (listed), 2 bad input,
3 the engine could not decide (or a rule's fix does not apply: a policy bug; nothing is written).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

import yaml

from ecs_admission.cli.paths import read_path
from ecs_admission.config import Settings
from ecs_admission.errors import EngineError, InputError
from ecs_admission.formats.result import EXIT_ALLOWED, EXIT_DENIED, EXIT_ENGINE, EXIT_INPUT
from ecs_admission.gate import build_gate
from ecs_admission.inputs import parse_file_bytes
from ecs_admission.inputs.patch import PatchError


def cmd_fix(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    name = "<stdin>" if args.path == "-" else args.path
    try:
        raw = read_path(args.path, stdin)
    except InputError as exc:
        print(f"ecs-admission: {name}: {exc.problem}", file=stderr)
        return EXIT_INPUT
    # Imported here: a cold `check` registers this command but never runs it.
    from ecs_admission.gate.fixer import fix_file

    gate = build_gate(Settings.from_env().with_overrides(policy_dir=args.policy_dir))
    try:
        result = fix_file(gate, raw, args.path if args.path != "-" else "")
    except InputError as exc:
        where = f" at {exc.field}" if exc.field else ""
        print(f"ecs-admission: {name}{where}: {exc.problem}", file=stderr)
        return EXIT_INPUT
    except EngineError as exc:
        print(f"ecs-admission: {name}: policy engine could not decide: {exc.reason}", file=stderr)
        return EXIT_ENGINE
    except PatchError as exc:
        print(f"ecs-admission: {name}: a rule's fix does not apply ({exc}); nothing written", file=stderr)
        return EXIT_ENGINE
    text = result.written.text
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"ecs-admission: cannot write {args.output}: {exc.strerror}", file=stderr)
            return EXIT_INPUT
    else:
        stdout.write(text)
    for line in result.applied:
        print(f"ecs-admission: fixed {line}", file=stderr)
    if result.written.degraded:
        print(f"ecs-admission: note: written without its comments: {result.written.degraded}", file=stderr)
    if not result.changed:
        print(f"ecs-admission: {name}: nothing to fix", file=stderr)
    for line in result.remaining:
        print(f"ecs-admission: not fixed (no fix proposed): {line}", file=stderr)
    if result.remaining:
        print(f"ecs-admission: {name}: {len(result.remaining)} denial(s) remain that no fix covers", file=stderr)
        return EXIT_DENIED
    return EXIT_ALLOWED


def _inputs(raw: bytes, name: str) -> list[tuple[str, Any]]:
    """The documents of a file: a case file's inputs (tests/cases/*.yaml), else the file itself.

    Case files are test fixtures written with YAML merge keys (`<<: *container` then an override),
    which the gate's strict parser refuses in a task definition; they are read as the case runner
    reads them.
    """
    try:
        document = parse_file_bytes(raw, name)
    except InputError:
        try:
            document = yaml.safe_load(raw)
        except yaml.YAMLError:
            document = None
        if not (isinstance(document, dict) and isinstance(document.get("cases"), list)):
            raise
    cases = document.get("cases") if isinstance(document, dict) else None
    if isinstance(cases, list):
        return [
            (f"{name}: {case.get('name', index)}", case["input"])
            for index, case in enumerate(cases)
            if isinstance(case, dict) and "input" in case
        ]
    return [(name, document)]


def run_fix_checks(paths: list[str], policy_dir: Path | None, stdout: TextIO, stderr: TextIO) -> int:
    """`policy test --fixes FILE...`: every proposed fix on each input, applied and decided again."""
    from ecs_admission.gate.fixer import check_fixes

    gate = build_gate(Settings.from_env().with_overrides(policy_dir=policy_dir))
    checks = []
    for path in paths:
        try:
            documents = _inputs(Path(path).read_bytes(), path)
        except OSError as exc:
            print(f"ecs-admission: {path}: cannot read: {exc.strerror}", file=stderr)
            return EXIT_INPUT
        except InputError as exc:
            print(f"ecs-admission: {path}: {exc.problem}", file=stderr)
            return EXIT_INPUT
        for source, document in documents:
            try:
                checks.extend(check_fixes(gate, source, document))
            except InputError:
                continue  # a case about bad input: no decision, so no fix to test
            except EngineError as exc:
                print(f"ecs-admission: {source}: policy engine could not decide: {exc.reason}", file=stderr)
                return EXIT_ENGINE
    for check in checks:
        what = check.finding or "all fixes together"
        if not check.passed:
            print(f"{check.source}: {what}: FAIL\n  {check.detail}", file=stdout)
    passed = sum(c.passed for c in checks)
    print(f"fixes: PASS: {passed}/{len(checks)}" + (f", FAIL: {len(checks) - passed}" if passed < len(checks) else ""),
          file=stdout)
    if not checks:
        print("no fix was proposed for any input", file=stdout)
    return EXIT_ALLOWED if passed == len(checks) else EXIT_DENIED


def add_fix_command(commands: Any) -> None:
    fix = commands.add_parser("fix", help="write a task definition with the fixes the rules propose applied")
    fix.add_argument("path", metavar="FILE", help="task definition or CloudFormation template; - reads stdin")
    fix.add_argument("-o", "--output", type=Path, metavar="OUT", help="write the fixed file to OUT, not stdout")
    fix.add_argument("--policy-dir", type=Path, help="directory of .rego policies (default: shipped policies)")
    fix.set_defaults(handler=cmd_fix)
