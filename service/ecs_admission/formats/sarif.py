"""SARIF 2.1.0 for GitHub code scanning (upload-sarif) and other SARIF viewers.

One run; tool.driver.rules from the rule catalogue (or, without one, from the findings); one
result per finding with the file and line of the offending field. Exempted findings are results
with an external suppression, so a viewer can still show them as reviewed exceptions.

Every result has a physical location relative to %SRCROOT% (the repository): code scanning
refuses results without one (GH1001) and absolute file: URIs (GH1006). A file outside the
repository whose origin is unknown is named by its file name, standard input as `stdin`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from ecs_admission import __version__
from ecs_admission.decision import Finding
from ecs_admission.formats.patches import fix_of, replacements
from ecs_admission.formats.result import STDIN_NAME, CheckResult, RenderContext, workspace

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# A rule's default level follows its severity; a result's level follows its enforcement.
SEVERITY_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
KIND_LEVEL = {"deny": "error", "would-deny": "error", "warn": "warning", "exempt": "note"}
# GitHub code scanning reads properties.security-severity (0-10) to rank security alerts.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def _rule_entry(rule: dict[str, Any]) -> dict[str, Any]:
    severity = rule.get("severity", "high")
    title = rule.get("title") or rule["id"]
    remediation = rule.get("remediation") or title
    entry: dict[str, Any] = {
        "id": rule["id"],
        "name": "".join(part.capitalize() for part in str(title).replace("-", " ").split()),
        "shortDescription": {"text": title},
        "fullDescription": {"text": f"{title} (severity {severity}, enforcement {rule.get('enforcement', 'deny')})"},
        "help": {"text": remediation, "markdown": f"**{title}**\n\n{remediation}"},
        "defaultConfiguration": {
            "level": SEVERITY_LEVEL.get(severity, "error"),
            "enabled": rule.get("enforcement") != "off",
        },
        "properties": {
            "tags": ["security", "ecs", "task-definition"],
            "security-severity": SECURITY_SEVERITY.get(severity, "8.0"),
            "severity": severity,
            "enforcement": rule.get("enforcement", "deny"),
        },
    }
    if rule.get("docs"):
        entry["helpUri"] = rule["docs"]
        entry["help"]["markdown"] += f"\n\n[Documentation]({rule['docs']})"
    if rule.get("anchors"):
        entry["properties"]["anchors"] = list(rule["anchors"])
    return entry


def _rules(results: Sequence[CheckResult], context: RenderContext) -> list[dict[str, Any]]:
    """The catalogue's rules, plus any rule a finding names that the catalogue lacks."""
    rules = [dict(rule) for rule in context.rules if rule.get("id")]
    known = {rule["id"] for rule in rules}
    for result in results:
        for kind, finding in result.findings():
            if finding.rule not in known:
                known.add(finding.rule)
                rules.append(
                    {
                        "id": finding.rule,
                        "title": finding.title,
                        "severity": finding.severity,
                        "remediation": finding.remediation,
                        "docs": finding.docs,
                        "enforcement": "warn" if kind == "warn" else "deny",
                    }
                )
    return [_rule_entry(rule) for rule in sorted(rules, key=lambda r: r["id"])]


def _artifact(path: str) -> dict[str, str]:
    """A repository-relative URI reference against %SRCROOT% (percent-encoded: spaces, #, ...)."""
    return {"uri": quote(path.lstrip("/"), safe="/"), "uriBaseId": "%SRCROOT%"}


def _uri_of(result: CheckResult) -> str:
    return result.source.repo_path() if result.source is not None else STDIN_NAME


def _fingerprint(uri: str, finding: Finding) -> str:
    # Stable across line moves: the file, the rule and the field, not the line number.
    return hashlib.sha256(f"{uri}\0{finding.rule}\0{finding.path}".encode()).hexdigest()


def _result(result: CheckResult, kind: str, finding: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    assert result.decision is not None
    message = f"{finding.title}: {finding.message} ({finding.path}). Fix: {finding.remediation}"
    if kind == "would-deny":
        message = f"[dry-run, would deny] {message}"
    location: dict[str, Any] = {
        "logicalLocations": [
            {
                "name": finding.path.rsplit("/", 1)[-1] or "/",
                "fullyQualifiedName": f"{result.decision.task_definition.family or '?'}{finding.path}",
                "kind": "member",
            }
        ]
    }
    address = finding.extra.get("terraform_address")
    if isinstance(address, str) and address:
        # A Terraform plan's finding: the resource by its address, the attribute path within it.
        location["logicalLocations"] = [{"name": address, "fullyQualifiedName": finding.path, "kind": "resource"}]
    entry: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index[finding.rule],
        "level": KIND_LEVEL[kind],
        "message": {"text": message},
        "locations": [location],
        "properties": {
            "decision_id": result.decision.decision_id,
            "enforcement": kind,
            "severity": finding.severity,
            "pointer": finding.path,
        },
    }
    uri = _uri_of(result)
    location["physicalLocation"] = {
        "artifactLocation": _artifact(uri),
        # SARIF needs a region for a line-level alert; a field we could not find is blamed on line 1.
        "region": {"startLine": result.line(finding.path) or 1},
    }
    entry["partialFingerprints"] = {"ecsAdmissionFinding/v1": _fingerprint(uri, finding)}
    if kind == "exempt":
        entry["suppressions"] = [{"kind": "external", "justification": finding.message}]
    fixes = _fixes(result, finding, uri)
    if fixes:
        entry["fixes"] = fixes
    return entry


def _fixes(result: CheckResult, finding: Finding, uri: str) -> list[dict[str, Any]] | None:
    """The finding's proposed fix as an edit of its source file, when that file is known and the fix
    applies to it (docs/fixes.md)."""
    ops = fix_of(finding)
    source = result.source
    if not ops or source is None or source.stdin:
        return None
    changes = replacements(source.content, source.path, ops)
    if not changes:
        return None
    return [
        {
            "description": {"text": f"Apply the fix {finding.rule} proposes (ecs-admission fix)"},
            "artifactChanges": [{"artifactLocation": _artifact(uri), "replacements": changes}],
        }
    ]


def build(results: Sequence[CheckResult], context: RenderContext) -> dict[str, Any]:
    rules = _rules(results, context)
    rule_index = {rule["id"]: index for index, rule in enumerate(rules)}
    sarif_results = [
        _result(result, kind, finding, rule_index) for result in results for kind, finding in result.findings()
    ]
    notifications = [
        {
            "level": "warning" if result.failed_open else "error",
            "message": {"text": result.error or "not checked"},
            "locations": [{"physicalLocation": {"artifactLocation": _artifact(_uri_of(result))}}],
        }
        for result in results
        if result.decision is None
    ]
    invocation: dict[str, Any] = {
        "executionSuccessful": all(r.decision is not None for r in results),
        "toolExecutionNotifications": notifications,
    }
    # No automationDetails: upload-sarif's `category` only applies to runs that lack one.
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "ecs-admission",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": rules,
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": workspace().as_uri() + "/"}},
        "invocations": [invocation],
        "results": sarif_results,
        "columnKind": "unicodeCodePoints",
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def render(results: Sequence[CheckResult], context: RenderContext) -> str:
    return json.dumps(build(results, context), indent=2)
