"""The rule catalogue as people read it: each rule with its effective enforcement.

The catalogue (data.ecs.catalog) is generated from the METADATA annotations beside the rules
(policy/metadata.py); `source` says where a rule is written.
"""

from __future__ import annotations

from typing import Any

ENFORCEMENTS = ("deny", "warn", "off")

# Rules the gate's input layer produces in Python, before any policy runs, so they have no Rego rule
# to carry a METADATA annotation. Listed, documented and configurable (config.yaml `enforcement`)
# like the annotated rules; an annotation of the same id would win.
INPUT_RULES: dict[str, dict[str, Any]] = {
    "ECS-INPUT-001": {
        "title": "Unknown task definition field",
        "package": None,
        "severity": "low",
        "enforcement": "warn",
        "remediation": (
            "Rename the key to the field the ECS API defines (the closest one is named) or remove it: "
            "ECS refuses unknown fields and some tools drop them silently, so the setting is not applied."
        ),
        "docs": "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html",
        "anchors": [],
        "beyond_anchors": (
            "The AWS CLI and SDKs refuse unknown parameters, but Terraform's provider drops them silently "
            "and scanners read the misspelt key as if it were the field (Checkov reads `privilege`); here "
            "the key is named with the field ECS knows (from botocore's ECS service model)."
        ),
    },
}


def effective_enforcement(rule_id: str, entry: dict[str, Any], config: dict[str, Any]) -> str:
    """Mirror admission.rego: the config override, else the catalog default; unknown words deny.
    (Per-family overrides in config family_enforcement apply per task; this is the global value.)"""
    overrides = config.get("enforcement") or {}
    value = overrides.get(rule_id, entry.get("enforcement", "deny"))
    return value if value in ENFORCEMENTS else "deny"


def rule_catalogue(policy_data: dict[str, Any]) -> list[dict[str, Any]]:
    catalog = {**INPUT_RULES, **(policy_data.get("catalog") or {})}
    config = policy_data.get("config") or {}
    rules = []
    for rule_id in sorted(catalog):
        entry = catalog[rule_id] if isinstance(catalog[rule_id], dict) else {}
        rules.append(
            {
                "id": rule_id,
                "title": entry.get("title", rule_id),
                "package": entry.get("package"),
                "severity": entry.get("severity", "high"),
                "enforcement": effective_enforcement(rule_id, entry, config),
                "default_enforcement": entry.get("enforcement", "deny"),
                "remediation": entry.get("remediation", ""),
                "docs": entry.get("docs", ""),
                "anchors": list(entry.get("anchors") or []),
                "beyond_anchors": entry.get("beyond_anchors", ""),
                # What the rule's machine-applicable fix does (docs/fixes.md); "" when it proposes none.
                "fix": entry.get("fix", ""),
                "description": entry.get("description", ""),
                "package_title": entry.get("package_title") or (entry.get("package") or "other").capitalize(),
                "source": entry.get("source", ""),
            }
        )
    return rules
