"""Human-readable report: the verdict, then one line per reason and its fix."""

from __future__ import annotations

from collections.abc import Sequence

from ecs_admission.formats.patches import patch_text
from ecs_admission.formats.result import CheckResult, RenderContext

VERDICTS = {"allowed": "ALLOWED", "denied": "DENIED", "would deny (dry-run)": "WOULD DENY (dry-run)"}


def render_result(result: CheckResult) -> str:
    decision = result.decision
    assert decision is not None
    family = decision.task_definition.family or "?"
    lines = [
        f"{result.name}: {VERDICTS[result.verdict]} (family {family}, {len(decision.violations)} violation(s), "
        f"{len(decision.warnings)} warning(s), decision {decision.decision_id})"
    ]
    account = decision.deploy_account or {}
    if account.get("source") == "task-definition":
        # Not configured nor sent: say which account the rules assumed, and why.
        lines.append(f"  deploy account {account['account']}: {account.get('detail', '')}")
    for label, findings in (("deny", decision.violations), ("warn", decision.warnings), ("exempt", decision.exempted)):
        for finding in findings:
            lines.append(f"  {label:6} {finding.rule:13} {finding.severity:8} {finding.path}: {finding.message}")
            lines.append(f"         fix: {finding.remediation}")
            patch = patch_text(finding)
            if patch:
                lines.append(f"         patch: {patch}")
    return "\n".join(lines)


def render(results: Sequence[CheckResult], context: RenderContext) -> str:
    """Decided inputs only: errors are one line each on stderr, printed by the CLI."""
    return "\n".join(render_result(r) for r in results if r.decision is not None)
