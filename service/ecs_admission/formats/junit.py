"""JUnit XML: one test suite per task definition, one test case per rule.

CodeBuild report groups (file-format JUNITXML), Jenkins and GitLab read it. A rule that fired
as a violation is a failure (also in dry-run, so a report-only rollout shows what would fail);
a warning passes with the message in system-out; a rule switched off or an exempted finding is
skipped. An input that could not be checked is one errored test case.

The document is valid against junit-10.xsd, the schema Jenkins' xunit plugin validates with:
the file is an attribute of the test suite (testcase@file is not in it) and named in each
failure's text, and the test-suites element carries no skipped count.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from ecs_admission.decision import Finding
from ecs_admission.formats.result import CheckResult, RenderContext

# XML 1.0 cannot carry most control characters, even escaped; a message must not break the report.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
TOOL = "ecs-admission"


def _clean(value: str) -> str:
    return _INVALID_XML.sub("\ufffd", value)


def _describe(result: CheckResult, finding: Finding) -> str:
    line = result.line(finding.path)
    where = f"{finding.path} (line {line})" if line else finding.path
    if result.source is not None:
        where = f"{result.source.repo_path()}: {where}"
    return (
        f"{finding.rule} [{finding.severity}] {where}: {finding.message}\n"
        f"fix: {finding.remediation}\ndocs: {finding.docs}"
    )


def _rule_ids(results: Sequence[CheckResult], context: RenderContext) -> list[str]:
    ids = [rule["id"] for rule in context.rules if rule.get("id")]
    for result in results:
        ids.extend(finding.rule for _, finding in result.findings())
    return sorted(set(ids))


def _suite(result: CheckResult, rule_ids: list[str], context: RenderContext) -> ET.Element:
    decision = result.decision
    family = decision.task_definition.family if decision and decision.task_definition.family else "?"
    suite = ET.Element("testsuite", name=_clean(f"{result.name} ({family})"))
    if result.source is not None:
        suite.set("file", _clean(result.source.repo_path()))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    classname = f"{TOOL}.{family}"
    if decision is not None and decision.task_definition.source == "terraform" and decision.task_definition.logical_id:
        classname = f"{TOOL}.{decision.task_definition.logical_id}"  # the Terraform address

    if decision is None:
        case = ET.SubElement(suite, "testcase", name=TOOL, classname=classname, time="0")
        counts["tests"] += 1
        if result.failed_open:
            ET.SubElement(case, "skipped", message=_clean(result.error or "not checked"))
            counts["skipped"] += 1
        else:
            error = ET.SubElement(case, "error", type="error", message=_clean(result.error or "error"))
            error.text = _clean(result.error or "")
            counts["errors"] += 1
    else:
        properties = ET.SubElement(suite, "properties")
        for name, value in (
            ("decision_id", decision.decision_id),
            ("mode", decision.mode),
            ("allowed", str(decision.allowed).lower()),
            ("policy_engine", decision.engine),
            ("policy_revision", decision.revision),
        ):
            ET.SubElement(properties, "property", name=name, value=_clean(value))
        by_rule: dict[str, list[tuple[str, Finding]]] = {}
        for kind, finding in result.findings():
            by_rule.setdefault(finding.rule, []).append((kind, finding))
        for rule_id in rule_ids:
            entry = context.rule(rule_id) or {}
            found = by_rule.get(rule_id, [])
            title = entry.get("title") or next((f.title for _, f in found), rule_id)
            case = ET.SubElement(suite, "testcase", name=_clean(f"{rule_id}: {title}"), classname=classname, time="0")
            counts["tests"] += 1
            violations = [f for kind, f in found if kind in ("deny", "would-deny")]
            warnings = [f for kind, f in found if kind == "warn"]
            exempted = [f for kind, f in found if kind == "exempt"]
            if violations:
                kind = "deny" if decision.enforced else "would-deny (dry-run)"
                failure = ET.SubElement(
                    case, "failure", type=kind, message=_clean("; ".join(f.message for f in violations)[:1000])
                )
                failure.text = _clean("\n\n".join(_describe(result, f) for f in violations))
                counts["failures"] += 1
            elif exempted and not warnings:
                ET.SubElement(case, "skipped", message=_clean(f"exempted: {exempted[0].message}"))
                counts["skipped"] += 1
            elif not found and entry.get("enforcement") == "off":
                ET.SubElement(case, "skipped", message="rule enforcement is off")
                counts["skipped"] += 1
            if warnings:
                out = ET.SubElement(case, "system-out")
                out.text = _clean("\n\n".join("warning: " + _describe(result, f) for f in warnings))
        suite.set("time", f"{decision.duration_ms / 1000:.3f}")
    for name, value in counts.items():
        suite.set(name, str(value))
    return suite


def render(results: Sequence[CheckResult], context: RenderContext) -> str:
    rule_ids = _rule_ids(results, context)
    root = ET.Element("testsuites", name=TOOL)
    suites = [_suite(result, rule_ids, context) for result in results]
    root.extend(suites)
    for name in ("tests", "failures", "errors"):  # junit-10.xsd has no skipped count here
        root.set(name, str(sum(int(suite.get(name, "0")) for suite in suites)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
