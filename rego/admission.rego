# The decision document: the one entry point both engines evaluate.
#
# Check packages under data.ecs.checks each expose `findings`, a set of bare findings
# {rule, path, message}. `decide` joins each with its catalog metadata (data.ecs.catalog) and the
# platform team's settings (data.ecs.config: enforcement overrides, global and per task family,
# and exemptions) and sorts them into violations, warnings and exempted. Python adds only
# framing, so OPA and the embedded engine return the same decision.
package ecs.admission

import rego.v1

raw_findings contains finding if {
	some concern
	some finding in data.ecs.checks[concern].findings
}

# Read as whole documents (not via data.ecs, which would include this package: recursion).
catalog := data.ecs.catalog if is_object(data.ecs.catalog) else := {}

config := data.ecs.config if is_object(data.ecs.config) else := {}

# A package the catalogue names whose findings are undefined (renamed, or failing to evaluate)
# would otherwise vanish from every decision: report it as a finding of its own.
silent_packages contains concern if {
	some rule_id
	concern := catalog[rule_id].package
	is_string(concern)
	not data.ecs.checks[concern].findings
}

package_failures := {finding |
	some concern in silent_packages
	finding := {
		"rule": "ECS-POLICY-001",
		"path": "/",
		"message": concat("", [
			"the check package ecs.checks.", concern,
			" produced no findings: its rules were not evaluated",
		]),
	}
}

decision := decide(raw_findings | package_failures, catalog, config, input)

decide(findings, catalog, config, doc) := result if {
	family := task_family(doc)
	today := today_of(doc)
	entries := detailed(findings, catalog, config, family, today)
	result := {
		"violations": [entry |
			some entry in entries
			not entry.exemption
			# Anything that is not exactly "warn" or "off" denies, so a typo in the settings fails closed.
			level := object.get(entry, "enforcement", "deny")
			not level in {"warn", "off"}
		],
		"warnings": [entry |
			some entry in entries
			not entry.exemption
			entry.enforcement == "warn"
		],
		"exempted": [entry |
			some entry in entries
			entry.exemption
		],
	}
}

task_family(doc) := family if {
	family := doc.task_definition.family
	is_string(family)
} else := ""

# The date exemptions are judged on: input.now (RFC 3339, set by the gate) cut to YYYY-MM-DD.
# Without a readable date no exemption applies (fail closed); no time builtins, so both engines agree.
today_of(doc) := substring(doc.now, 0, 10) if {
	is_string(doc.now)
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}`, doc.now)
} else := ""

detailed(findings, catalog, config, family, today) := {entry |
	some finding in findings
	meta := metadata(finding.rule, catalog)
	level := enforcement(finding.rule, meta, config, family)
	level != "off"
	base := {
		"rule": finding.rule,
		"severity": meta.severity,
		"title": meta.title,
		"message": finding.message,
		"path": finding.path,
		"remediation": meta.remediation,
		"docs": meta.docs,
		"enforcement": level,
	}
	entry := with_exemption(base, active_exemptions(finding.rule, config, family, today))
}

with_exemption(base, exemptions) := object.union(base, {"exemption": exemption_summary(exemptions[0])}) if {
	count(exemptions) > 0
} else := base

exemption_summary(exemption) := {
	"family": exemption.family,
	"justification": object.get(exemption, "justification", ""),
	"ticket": object.get(exemption, "ticket", ""),
	"expires": exemption.expires,
}

# Exemptions for this rule and family that have not expired: `expires` is the last day it applies.
active_exemptions(rule_id, config, family, today) := [exemption |
	exemptions := object.get(config, "exemptions", [])
	some position
	exemption := exemptions[position]
	exemption.rule == rule_id
	glob.match(exemption.family, [], family)
	today != ""
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`, exemption.expires)
	today <= exemption.expires
]

# A rule without a catalog entry still denies: a missing entry must not hide a finding.
default_metadata(rule_id) := {
	"severity": "high",
	"title": rule_id,
	"remediation": concat("", ["Rule ", rule_id, " has no catalog entry; add one to catalog.yaml."]),
	"docs": "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html",
	"enforcement": "deny",
}

metadata(rule_id, catalog) := object.union(default_metadata(rule_id), entry) if {
	entry := object.get(catalog, rule_id, null)
	is_object(entry)
} else := default_metadata(rule_id)

# Most specific first: the first family_enforcement entry whose pattern matches the task family
# and names the rule, then the global enforcement map, then the catalogue default.
enforcement(rule_id, meta, config, family) := levels[0] if {
	levels := family_levels(rule_id, config, family)
	count(levels) > 0
} else := level if {
	level := object.get(object.get(config, "enforcement", {}), rule_id, null)
	is_string(level)
} else := meta.enforcement

family_levels(rule_id, config, family) := [level |
	overrides := object.get(config, "family_enforcement", [])
	some position
	override := overrides[position]
	glob.match(override.family, [], family)
	# object.get, not override.enforcement[rule_id]: regopy treats a function parameter used as a
	# key inside a comprehension as unbound and iterates every key.
	level := object.get(object.get(override, "enforcement", {}), rule_id, null)
	is_string(level)
]
