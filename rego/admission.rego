# The decision document: the one entry point both engines evaluate.
#
# Check packages under data.ecs.checks each expose `findings`, a set of bare findings
# {rule, path, message}. `decide` joins each with its catalog metadata (data.ecs.catalog) and the
# platform team's enforcement settings (data.ecs.config) and sorts them into violations and
# warnings. Python adds only framing, so OPA and the embedded engine return the same decision.
package ecs.admission

import rego.v1

raw_findings contains finding if {
	some concern
	some finding in data.ecs.checks[concern].findings
}

# Read as whole documents (not via data.ecs, which would include this package: recursion).
catalog := data.ecs.catalog if is_object(data.ecs.catalog) else := {}

config := data.ecs.config if is_object(data.ecs.config) else := {}

decision := decide(raw_findings, catalog, config)

decide(findings, catalog, config) := {
	"violations": [entry |
		some entry in detailed(findings, catalog, config)
		# Anything that is not exactly "warn" or "off" denies, so a typo in the settings fails closed.
		not entry.enforcement in {"warn", "off"}
	],
	"warnings": [entry |
		some entry in detailed(findings, catalog, config)
		entry.enforcement == "warn"
	],
	"exempted": [],
}

detailed(findings, catalog, config) := {entry |
	some finding in findings
	meta := metadata(finding.rule, catalog)
	entry := {
		"rule": finding.rule,
		"severity": meta.severity,
		"title": meta.title,
		"message": finding.message,
		"path": finding.path,
		"remediation": meta.remediation,
		"docs": meta.docs,
		"enforcement": enforcement(finding.rule, meta, config),
	}
}

# A rule without a catalog entry still denies: a missing entry must not hide a finding.
default_metadata(rule_id) := {
	"severity": "high",
	"title": rule_id,
	"remediation": concat("", ["Rule ", rule_id, " has no catalog entry; add one to catalog.yaml."]),
	"docs": "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html",
	"enforcement": "deny",
}

metadata(rule_id, catalog) := object.union(default_metadata(rule_id), catalog[rule_id]) if {
	is_object(catalog[rule_id])
} else := default_metadata(rule_id)

enforcement(rule_id, meta, config) := config.enforcement[rule_id] if {
	is_string(config.enforcement[rule_id])
} else := meta.enforcement
