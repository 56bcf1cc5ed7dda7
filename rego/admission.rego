# The decision document: the one entry point both engines evaluate.
#
# Check packages under data.ecs.checks each expose `findings`, a set of bare findings
# {rule, path, message}. `decide` joins each with its catalog metadata (data.ecs.catalog) and the
# platform team's settings (data.ecs.config: enforcement overrides, global and per task family,
# and exemptions) and sorts them into violations, warnings and exempted. Python adds only
# framing, so OPA and the embedded engine return the same decision.
package ecs.admission

import rego.v1

# The check packages: the loader lists every ecs.checks.* package of the policy directory in
# data.ecs.check_packages (reading them by name is much cheaper on the embedded engine than
# enumerating data.ecs.checks). A bundle built without that list falls back to enumerating.
# Packages the catalogue names are included too, so a renamed or broken one is reported.
check_packages := listed_packages | catalogued_packages

listed_packages := {concern | some concern in data.ecs.check_packages} if {
	is_array(data.ecs.check_packages)
} else := {concern |
	some concern
	data.ecs.checks[concern]
}

catalogued_packages := {concern |
	some rule_id
	concern := catalog[rule_id].package
	is_string(concern)
}

# Every package's findings, evaluated once: {concern: findings}.
package_findings := {concern: found |
	some concern in check_packages
	found := data.ecs.checks[concern].findings
}

raw_findings := {finding |
	some found in package_findings
	some finding in found
}

# Read as whole documents (not via data.ecs, which would include this package: recursion).
catalog := data.ecs.catalog if is_object(data.ecs.catalog) else := {}

config := data.ecs.config if is_object(data.ecs.config) else := {}

# A package the catalogue names whose findings are undefined (renamed, or failing to evaluate)
# would otherwise vanish from every decision: report it as a finding of its own.
silent_packages := {concern |
	some concern in check_packages
	not package_findings[concern]
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

decide(findings, catalog, config, doc) := assemble(findings, rule_table(findings, catalog, config, overrides_for(config, task_family(doc), today_of(doc))))

# The config narrowed to this task, once per decision: for each rule, the level of the first
# family_enforcement entry whose pattern matches the family, and the exemptions for this family
# that have not expired (`expires` is the last day one applies). Usually both are empty.
overrides_for(config, family, today) := {"levels": levels, "exemptions": exemptions} if {
	matching := [override |
		some override in object.get(config, "family_enforcement", [])
		glob.match(override.family, [], family)
	]
	levels := {rule: candidates[0] |
		some override in matching
		some rule
		object.get(override, "enforcement", {})[rule]
		candidates := [level |
			some earlier in matching
			level := object.get(object.get(earlier, "enforcement", {}), rule, null)
			is_string(level)
		]
	}
	active := [exemption |
		some exemption in object.get(config, "exemptions", [])
		glob.match(exemption.family, [], family)
		today != ""
		regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`, exemption.expires)
		today <= exemption.expires
	]
	exemptions := {rule: summaries |
		some first in active
		rule := first.rule
		summaries := [{
			"family": exemption.family,
			"justification": object.get(exemption, "justification", ""),
			"ticket": object.get(exemption, "ticket", ""),
			"expires": exemption.expires,
		} |
			some exemption in active
			exemption.rule == rule
		]
	}
}

# {rule id: {bucket, meta}}, worked out once per rule id rather than once per finding, with
# builtins only (the embedded engine charges far more for a user-defined function call than for
# a builtin). A separate function on purpose: regopy re-evaluates a local comprehension inside
# later comprehensions of the same body.
rule_table(findings, catalog, config, overrides) := {rule: setting |
	global_levels := object.get(config, "enforcement", {})
	some rule in {finding.rule | some finding in findings}
	entry := object.get(catalog, rule, {})
	# Most specific first: the task family's override, then the global enforcement map, then the
	# catalogue default.
	level := object.get(overrides.levels, rule, object.get(global_levels, rule, object.get(entry, "enforcement", "deny")))
	meta := {
		# A rule without a catalog entry still denies: a missing entry must not hide a finding.
		"severity": object.get(entry, "severity", "high"),
		"title": object.get(entry, "title", rule),
		"remediation": object.get(entry, "remediation", "This rule has no catalog entry; add one to catalog.yaml."),
		"docs": object.get(entry, "docs", "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html"),
		"enforcement": level,
	}
	setting := placement(level, meta, object.get(overrides.exemptions, rule, []))
}

# Where a rule's findings go, decided once per rule: exempted (still visible, with the
# exemption), dropped ("off"), a warning, or a violation. Anything that is not exactly "warn" or
# "off" denies, so a typo in the settings fails closed.
placement("off", meta, active) := {"bucket": "off", "meta": meta}

placement(level, meta, active) := {"bucket": "exempted", "meta": object.union(meta, {"exemption": active[0]})} if {
	level != "off"
	count(active) > 0
} else := {"bucket": "warnings", "meta": meta} if {
	level == "warn"
} else := {"bucket": "violations", "meta": meta} if {
	level != "off"
}

assemble(findings, table) := {bucket: entries |
	some bucket in ["violations", "warnings", "exempted"]
	entries := [entry |
		some finding in findings
		setting := table[finding.rule]
		setting.bucket == bucket
		entry := object.union(setting.meta, {"rule": finding.rule, "message": finding.message, "path": finding.path})
	]
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
