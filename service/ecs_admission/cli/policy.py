"""`ecs-admission policy test|list`: the loop of the people who edit the rules.

`policy test` runs every `test_` rule of the policy directory's `*_test.rego` files on OPA's
evaluator, in-process, and reports them as `opa test` does (`-v`, `--coverage`); `policy list` prints the rule
catalogue (table, JSON, or the Markdown that docs/rules.md is generated from).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ecs_admission.engines.embedded import compiles
from ecs_admission.errors import EngineError
from ecs_admission.policy.catalogue import rule_catalogue
from ecs_admission.policy.loader import DATA_ROOT, PolicyError, PolicySet, load_policy_set

if TYPE_CHECKING:  # imported where used: `check` registers these commands but never runs them
    from ecs_admission.engines.rego_tests import Coverage, RegoTestResult

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
RESULTS_MARKER = "ecs-admission-test-results: "


def _load(policy_dir: Path | None, stderr: TextIO) -> PolicySet | None:
    try:
        return load_policy_set(policy_dir)
    except PolicyError as exc:
        print(f"ecs-admission: policies do not load: {exc}", file=stderr)
        return None


# --- policy test -----------------------------------------------------------------------------


def cmd_policy_test(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    """Like `opa test`: failures (every test with -v) by file, then PASS/FAIL/SKIPPED counts."""
    if args.fixes:
        from ecs_admission.cli.fix import run_fix_checks

        return run_fix_checks(args.fixes, args.policy_dir, stdout, stderr)
    policy = _load(args.policy_dir, stderr)
    if policy is None:
        return EXIT_USAGE
    pattern = None
    if args.run:
        try:
            pattern = re.compile(args.run)
        except re.error as exc:
            print(f"ecs-admission: --run {args.run!r} is not a regular expression: {exc}", file=stderr)
            return EXIT_USAGE
    from ecs_admission.engines.rego_tests import Coverage, run_tests

    coverage = Coverage() if args.coverage else None
    try:
        results = run_tests(
            policy, coverage=coverage, only=pattern, capture_prints=args.verbose or args.format == "json"
        )
    except EngineError as exc:
        # The set does not compile: a usage error (exit 2, docs/cli.md), not a failing test.
        print(f"ecs-admission: {exc.reason}", file=stderr)
        return EXIT_USAGE
    if not results:
        print(f"no tests found in {policy.directory} (test_ rules in *_test.rego files)", file=stdout)
        return EXIT_FAILED
    if args.format == "json":
        report: dict[str, Any] = {"revision": policy.revision, "tests": [_result_json(r) for r in results]}
        if coverage is not None:
            report["coverage"] = _coverage_json(coverage)
        print(json.dumps(report, indent=2), file=stdout)
    else:
        _print_results(results, args.verbose, stdout)
        if coverage is not None:
            _print_coverage(coverage, stdout)
    return EXIT_FAILED if any(not r.passed for r in results) else EXIT_OK


def _status(result: RegoTestResult) -> str:
    return "SKIPPED" if result.skipped else "PASS" if result.passed else "FAIL"


def _print_results(results: list[RegoTestResult], verbose: bool, stdout: TextIO) -> None:
    shown = results if verbose else [r for r in results if not r.passed]
    current_file = None
    for result in shown:
        if result.file != current_file:
            current_file = result.file
            print(f"{result.file}:", file=stdout)
        print(f"{result.qualified_name}: {_status(result)}", file=stdout)
        if not result.passed:
            print(f"  {result.location}: {result.detail}", file=stdout)
        for line in result.output:
            print(f"  {line}", file=stdout)
    if shown:
        print("-" * 80, file=stdout)
    total = len(results)
    for status in ("PASS", "FAIL", "SKIPPED"):
        count = sum(1 for r in results if _status(r) == status)
        if count:
            print(f"{status}: {count}/{total}", file=stdout)


def _print_coverage(coverage: Coverage, stdout: TextIO) -> None:
    files = coverage.files()
    print("-" * 80, file=stdout)
    print("COVERAGE", file=stdout)
    width = max((len(name) for name in files), default=4)
    covered_total = missing_total = 0
    for name, (covered, missing, percent) in files.items():
        covered_total, missing_total = covered_total + covered, missing_total + missing
        print(f"{name:<{width}}  {covered:>4}/{covered + missing:<4} lines  {percent:5.1f}%", file=stdout)
    lines = covered_total + missing_total
    percent = 100.0 * covered_total / (lines or 1)
    print(f"{'total':<{width}}  {covered_total:>4}/{lines:<4} lines  {percent:5.1f}%", file=stdout)


def _result_json(result: RegoTestResult) -> dict[str, Any]:
    return {
        "name": result.qualified_name,
        "location": result.location,
        "status": _status(result),
        "detail": result.detail,
        "output": list(result.output),
    }


def _coverage_json(coverage: Coverage) -> dict[str, Any]:
    return {
        "files": {
            name: {
                "covered_lines": covered,
                "not_covered_lines": missing,
                "coverage": round(percent, 2),
                "not_covered": sorted(coverage.not_covered.get(name, set()) - coverage.covered.get(name, set())),
            }
            for name, (covered, missing, percent) in coverage.files().items()
        }
    }


# --- policy list -----------------------------------------------------------------------------


def catalogue_rows(policy: PolicySet) -> list[dict[str, Any]]:
    """The catalogue as `policy list` shows it: by check package (rules outside one last), then id."""
    rules = rule_catalogue(policy.data[DATA_ROOT])
    return sorted(rules, key=lambda r: (r.get("package") is None, r.get("package") or "", r["id"]))


def render_table(rows: list[dict[str, Any]]) -> str:
    header = ("ID", "ENFORCEMENT", "SEVERITY", "TITLE")
    lines = [(r["id"], r["enforcement"], r["severity"], r["title"]) for r in rows]
    widths = [max(len(str(row[i])) for row in (header, *lines)) for i in range(3)]
    return "\n".join(
        f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}" for row in (header, *lines)
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(rows: list[dict[str, Any]], config: dict[str, Any]) -> str:
    """docs/rules.md: generated, so the catalogue stays the one source (a test checks it is current)."""
    out = [
        "# Rules",
        "",
        "<!-- Generated by `ecs-admission policy list --format markdown > docs/rules.md` from the",
        "     METADATA annotations beside the rules in rego/*.rego; edit those, not this file",
        "     (tests/policy/test_policy_cli.py checks it is current). -->",
        "",
        "Every rule the shipped policies enforce, by concern. **Enforcement** is the default; the",
        "platform team changes it in `rego/config.yaml` (globally or per task family) and grants",
        "time-limited exemptions there ([policies.md](policies.md#configyaml-the-platform-teams-settings)).",
        "**Anchors** are the equivalent checks of other tools; **beyond the anchors** says what this",
        "rule catches that they miss.",
        "",
        "**Fix** says whether the rule proposes a machine-applicable fix (`ecs-admission fix`,",
        "[fixes.md](fixes.md)).",
        "",
        "| id | enforcement | severity | title | fix |",
        "|---|---|---|---|---|",
    ]
    out += [
        f"| [{r['id']}](#{r['id'].lower()}) | {r['enforcement']} | {r['severity']} | {_cell(r['title'])} "
        f"| {'yes' if r.get('fix') else ''} |"
        for r in rows
    ]
    by_concern: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_concern.setdefault(row.get("package") or "other", []).append(row)
    for concern, concern_rows in by_concern.items():
        out += ["", f"## {concern_rows[0]['package_title']}"]
        if concern_rows[0].get("package"):
            out[-1] += f" (`ecs.checks.{concern}`)"
        for row in concern_rows:
            enforcement = row["enforcement"]
            if enforcement != row["default_enforcement"]:
                enforcement += f" (catalogue default {row['default_enforcement']}, changed in config.yaml)"
            out += [
                "",
                f"### {row['id']}",
                "",
                f"**{_cell(row['title'])}**. Severity {row['severity']}, enforcement {enforcement}.",
                "",
                *([_cell(row["description"]), ""] if row.get("description") else []),
                f"- Fix: {_cell(row['remediation'])}",
                f"- AWS documentation: <{row['docs']}>",
                f"- Anchors: {', '.join(row['anchors']) if row['anchors'] else 'none found'}",
            ]
            if row.get("source"):
                out.append(f"- Written in: `rego/{row['source'].split(':')[0]}`")
            if row.get("beyond_anchors"):
                out.append(f"- Beyond the anchors: {_cell(row['beyond_anchors'])}")
            if row.get("fix"):
                out.append(f"- Machine-applicable fix: {_cell(row['fix'])}")
    overrides = config.get("family_enforcement") or []
    exemptions = config.get("exemptions") or []
    if overrides or exemptions:
        out += ["", "## Configured overrides and exemptions", ""]
        out += [f"- family `{o['family']}`: {o['enforcement']}" for o in overrides]
        out += [
            f"- exemption {e['rule']} for family `{e['family']}` until {e['expires']} ({e['ticket']}): "
            f"{_cell(e['justification'])}"
            for e in exemptions
        ]
    return "\n".join(out) + "\n"


def cmd_policy_list(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    policy = _load(args.policy_dir, stderr)
    if policy is None:
        return EXIT_USAGE
    try:
        compiles(policy)  # a catalogue of rules that would never run is not a catalogue
    except EngineError as exc:
        print(f"ecs-admission: {exc.reason}", file=stderr)
        return EXIT_USAGE
    rows = catalogue_rows(policy)
    config = policy.data[DATA_ROOT].get("config") or {}
    if args.format == "json":
        print(json.dumps({"revision": policy.revision, "rules": rows}, indent=2), file=stdout)
    elif args.format == "markdown":
        stdout.write(render_markdown(rows, config))
    else:
        print(render_table(rows), file=stdout)
    return EXIT_OK


def add_policy_commands(commands: Any) -> Any:
    """Register `policy test` and `policy list`; returns the group's subparsers so other policy
    subcommands can join it."""
    policy = commands.add_parser("policy", help="test, list and bundle the policies")
    policy.set_defaults(handler=_policy_command_required)
    group = policy.add_subparsers(dest="policy_command", parser_class=type(policy))

    test = group.add_parser("test", help="run every test_ rule of the *_test.rego files")
    test.add_argument("--policy-dir", type=Path, help="directory of .rego policies (default: shipped policies)")
    test.add_argument("--run", metavar="REGEX", help="only tests whose data.<package>.<name> matches")
    test.add_argument("-v", "--verbose", action="store_true", help="every test with its result, not only failures")
    test.add_argument("--coverage", action="store_true", help="report the lines of each file the tests evaluated")
    test.add_argument("--format", choices=("pretty", "json"), default="pretty")
    test.add_argument(
        "--fixes",
        nargs="+",
        metavar="FILE",
        help="instead of the Rego tests: apply every fix proposed for the task definitions (or case files) "
        "in FILE, each alone and all together, and check each finding goes and no new one comes",
    )
    test.set_defaults(handler=cmd_policy_test)

    listing = group.add_parser("list", help="print the rule catalogue")
    listing.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    listing.add_argument("--policy-dir", type=Path, help="directory of .rego policies (default: shipped policies)")
    listing.set_defaults(handler=cmd_policy_list)
    return group


def _policy_command_required(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    print(
        "ecs-admission: a policy command is required: test, list, bundle, mask-bundle "
        "(see ecs-admission policy --help)",
        file=stderr,
    )
    return EXIT_USAGE
