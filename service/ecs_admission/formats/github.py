"""GitHub Actions: workflow-command annotations on the log, the full table in the job summary.

GitHub shows at most 10 error and 10 warning annotations per step, so only the first of each
are annotations; the Markdown table appended to $GITHUB_STEP_SUMMARY lists everything. The text
report is printed inside a log group with workflow commands stopped, so a container name or
message can never be read by the runner as a command.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from ecs_admission.formats.patches import patch_text
from ecs_admission.formats.result import CheckResult, RenderContext
from ecs_admission.formats.text import render_result

MAX_ANNOTATIONS = 10  # per level per step (actions/toolkit; community-confirmed)
MAX_SUMMARY_BYTES = 1024 * 1024  # GitHub refuses a step summary over 1 MiB
TOOL = "ecs-admission"


def escape_data(value: str) -> str:
    """Escape a command's message, as actions/toolkit's escapeData does."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a command property value (file, title, ...), as actions/toolkit's escapeProperty does."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True)
class Annotation:
    level: str  # error | warning | notice
    message: str
    title: str
    file: str | None = None
    line: int | None = None

    def command(self) -> str:
        properties = []
        if self.file:
            properties.append(f"file={escape_property(self.file)}")
        if self.line:
            properties.append(f"line={self.line}")
        properties.append(f"title={escape_property(self.title)}")
        return f"::{self.level} {','.join(properties)}::{escape_data(self.message)}"


def annotations(results: Sequence[CheckResult]) -> list[Annotation]:
    """Every annotation the results call for, in report order, before the per-level caps."""
    found: list[Annotation] = []
    for result in results:
        # An annotation on a file the repository does not have would float free of any line.
        file = result.source.repo_path() if result.source and result.source.in_repository() else None
        if result.decision is None:
            level = "warning" if result.failed_open else "error"
            found.append(Annotation(level, result.error or "not checked", TOOL, file, None))
            continue
        for kind, finding in result.findings():
            if kind == "exempt":
                continue
            level = "error" if kind == "deny" else "warning"
            title = finding.rule if kind != "would-deny" else f"{finding.rule} (would deny)"
            if finding.extra.get("terraform_address"):
                title = f"{title} {finding.extra['terraform_address']}"
            message = f"{finding.title}: {finding.message} [{finding.path}]\nFix: {finding.remediation}"
            patch = patch_text(finding)
            if patch:
                message += f"\nPatch (ecs-admission fix applies it): {patch}"
            found.append(Annotation(level, message, title, file, result.line(finding.path) if file else None))
    return found


def capped(found: list[Annotation], summary_written: bool) -> list[Annotation]:
    kept: list[Annotation] = []
    dropped = {"error": 0, "warning": 0}
    for annotation in found:
        if sum(a.level == annotation.level for a in kept) < MAX_ANNOTATIONS:
            kept.append(annotation)
        else:
            dropped[annotation.level] += 1
    if any(dropped.values()):
        where = "the job summary" if summary_written else "the log above"
        kept.append(
            Annotation(
                "notice",
                f"{dropped['error']} more error(s) and {dropped['warning']} more warning(s) are not annotated "
                f"(GitHub shows {MAX_ANNOTATIONS} of each per step); {where} lists them all",
                TOOL,
            )
        )
    return kept


def render(results: Sequence[CheckResult], context: RenderContext) -> str:
    lines: list[str] = []
    for result in results:
        if result.decision is None:
            continue
        token = uuid.uuid4().hex
        header = render_result(result).split("\n", 1)[0]
        lines.append(f"::group::{escape_data(header)}")
        lines.append(f"::stop-commands::{token}")
        lines.append(render_result(result))
        lines.append(f"::{token}::")
        lines.append("::endgroup::")
    summary_written = bool(context.step_summary)
    lines.extend(a.command() for a in capped(annotations(results), summary_written))
    return "\n".join(lines)


def _cell(value: str) -> str:
    """Markdown table cell: HTML-escaped (placeholders such as <IMAGE1_NAME> must stay visible), one line."""
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _code(value: str) -> str:
    return f"<code>{_cell(value)}</code>" if value else ""


def step_summary(results: Sequence[CheckResult], context: RenderContext) -> str:
    """The full report as GitHub-flavoured Markdown, for $GITHUB_STEP_SUMMARY."""
    worst = max((r.exit_code for r in results), default=0)
    verdict = {0: "passed", 1: "denied", 2: "input error", 3: "gate could not decide"}.get(worst, "failed")
    would_deny = sum(r.verdict == "would deny (dry-run)" for r in results)
    if would_deny:
        verdict += f" (dry-run: {would_deny} would be denied when enforced)"
    if any(r.failed_open for r in results):
        verdict += " (FAILED OPEN: some files were not checked)"
    where = f" by {context.gate_url}" if context.gate_url else ""
    out = [f"## ecs-admission: {verdict}", "", f"Task definitions checked{where}:", ""]
    out += ["| file | verdict | family | violations | warnings | decision |", "|---|---|---|---|---|---|"]
    for result in results:
        decision = result.decision
        if decision is None:
            out.append(f"| {_code(result.name)} | {_cell(result.verdict)}: {_cell(result.error or '')} | | | | |")
            continue
        out.append(
            f"| {_code(result.name)} | {result.verdict} | {_cell(decision.task_definition.family or '?')} "
            f"| {len(decision.violations)} | {len(decision.warnings)} | {_code(decision.decision_id)} |"
        )
    for result in results:
        rows = result.findings()
        if not rows:
            continue
        out += ["", f"### {_code(result.name)}: {result.verdict}", ""]
        out += ["| | rule | severity | field | problem | fix |", "|---|---|---|---|---|---|"]
        for kind, finding in rows:
            line = result.line(finding.path)
            field = _code(finding.path) + (f" (line {line})" if line else "")
            rule = _cell(finding.rule)
            if finding.docs.startswith("https://"):
                rule = f"[{rule}]({finding.docs.replace(')', '%29').replace('|', '%7C').replace(' ', '%20')})"
            out.append(
                f"| {kind} | {rule} | {finding.severity} | {field} | {_cell(finding.title)}: {_cell(finding.message)} "
                f"| {_cell(finding.remediation)} |"
            )
    text = "\n".join(out) + "\n"
    if len(text.encode()) > MAX_SUMMARY_BYTES:
        cut = text.encode()[: MAX_SUMMARY_BYTES - 200].decode("utf-8", "ignore")
        text = cut.rsplit("\n", 1)[0] + "\n\n**Truncated at GitHub's 1 MiB step-summary limit; the log has it all.**\n"
    return text
