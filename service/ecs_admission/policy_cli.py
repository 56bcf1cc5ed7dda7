"""`ecs-admission policy test|list`: the loop of the people who edit the rules.

`policy test` runs every `test_` rule of the policy directory's `*_test.rego` files on the
embedded engine and prints one line per test and a summary; `policy list` prints the rule
catalogue (table, JSON, or the Markdown that docs/rules.md is generated from).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, TextIO

from .catalogue import rule_catalogue
from .policy import DATA_ROOT, PolicyError, PolicySet, load_policy_set
from .rego_tests import RegoTestResult, run_embedded

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
RESULTS_MARKER = "ecs-admission-test-results: "

# Order of the concerns in listings and docs/rules.md: the way a reader meets them.
CONCERN_ORDER = ("trust", "execution", "roles", "isolation", "hardening", "permissions")
CONCERN_TITLES = {
    "trust": "Role trust",
    "execution": "Execution role",
    "roles": "Role fields and facts",
    "isolation": "Credential isolation",
    "hardening": "Hardening",
    "permissions": "Permissions",
}


def _load(policy_dir: Path | None, stderr: TextIO) -> PolicySet | None:
    try:
        return load_policy_set(policy_dir)
    except PolicyError as exc:
        print(f"ecs-admission: policies do not load: {exc}", file=stderr)
        return None


# --- policy test -----------------------------------------------------------------------------


def run_tests_isolated(policy_dir: Path) -> list[RegoTestResult]:
    """Run the tests in a child process: a policy that crashes the native engine must be reported
    as a failure, not take the command down without a word."""
    result = subprocess.run(
        [sys.executable, "-m", "ecs_admission.policy_cli", "--run-tests-json", str(policy_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        raise RuntimeError(f"the embedded engine stopped while running the tests ({reason})")
    # The native engine writes its own diagnostics to stdout; the results are the marked line.
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(RESULTS_MARKER):
            return [RegoTestResult(**item) for item in json.loads(line[len(RESULTS_MARKER) :])]
    raise RuntimeError("the test run produced no results")


def cmd_policy_test(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    policy = _load(args.policy_dir, stderr)
    if policy is None:
        return EXIT_USAGE
    try:
        results = run_tests_isolated(policy.directory)
    except RuntimeError as exc:
        print(f"ecs-admission: {exc}", file=stderr)
        return EXIT_FAILED
    if args.run:
        try:
            pattern = re.compile(args.run)
        except re.error as exc:
            print(f"ecs-admission: --run {args.run!r} is not a regular expression: {exc}", file=stderr)
            return EXIT_USAGE
        results = [r for r in results if pattern.search(r.qualified_name)]
    if not results:
        print(f"no tests found in {policy.directory} (test_ rules in *_test.rego files)", file=stdout)
        return EXIT_FAILED
    for result in results:
        status = "PASS" if result.passed else "FAIL"
        line = f"{status} {result.qualified_name} ({result.file})"
        if not result.passed:
            line += f": {result.detail}"
        print(line, file=stdout)
    failed = sum(1 for r in results if not r.passed)
    passed = len(results) - failed
    engine = f"embedded engine, policy {policy.revision}"
    print(f"{len(results)} tests, {passed} passed, {failed} failed ({engine})", file=stdout)
    return EXIT_FAILED if failed else EXIT_OK


# --- policy list -----------------------------------------------------------------------------


def catalogue_rows(policy: PolicySet) -> list[dict[str, Any]]:
    """The catalogue as `policy list` shows it, ordered by concern then id."""
    rules = rule_catalogue(policy.data[DATA_ROOT])
    order = {name: index for index, name in enumerate(CONCERN_ORDER)}
    return sorted(rules, key=lambda r: (order.get(r.get("package") or "", len(order)), r["id"]))


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
        "<!-- Generated by `ecs-admission policy list --format markdown > docs/rules.md` from",
        "     rego/catalog.yaml; edit the catalogue, not this file (tests/test_policy_cli.py checks it). -->",
        "",
        "Every rule the shipped policies enforce, by concern. **Enforcement** is the default; the",
        "platform team changes it in `rego/config.yaml` (globally or per task family) and grants",
        "time-limited exemptions there ([policies.md](policies.md#configyaml-the-platform-teams-settings)).",
        "**Anchors** are the equivalent checks of other tools; **beyond the anchors** says what this",
        "rule catches that they miss.",
        "",
        "| id | enforcement | severity | title |",
        "|---|---|---|---|",
    ]
    out += [
        f"| [{r['id']}](#{r['id'].lower()}) | {r['enforcement']} | {r['severity']} | {_cell(r['title'])} |"
        for r in rows
    ]
    by_concern: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_concern.setdefault(row.get("package") or "other", []).append(row)
    for concern, concern_rows in by_concern.items():
        out += ["", f"## {CONCERN_TITLES.get(concern, concern.capitalize())}"]
        if concern in CONCERN_TITLES:
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
                f"- Fix: {_cell(row['remediation'])}",
                f"- AWS documentation: <{row['docs']}>",
                f"- Anchors: {', '.join(row['anchors']) if row['anchors'] else 'none found'}",
            ]
            if row.get("beyond_anchors"):
                out.append(f"- Beyond the anchors: {_cell(row['beyond_anchors'])}")
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


def _run_tests_json(policy_dir: str) -> int:
    results = run_embedded(load_policy_set(Path(policy_dir)))
    print(RESULTS_MARKER + json.dumps([dataclasses.asdict(r) for r in results]), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--run-tests-json":
        sys.exit(_run_tests_json(sys.argv[2]))
    sys.exit(EXIT_USAGE)
