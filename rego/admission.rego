# The decision document: the one entry point OPA evaluates, in-process or as the sidecar.
#
# Check packages under data.ecs.checks each expose findings: `findings` {rule, path, message}, or
# conftest's / Gatekeeper's `deny`, `violation`, `warn` messages. `decide` joins each with its catalog metadata (data.ecs.catalog) and the
# platform team's settings (data.ecs.config: enforcement overrides, global and per task family,
# and exemptions) and sorts them into violations, warnings and exempted. Python adds only framing.
package ecs.admission

import rego.v1

# The check packages: every ecs.checks.* package, and every package the catalogue names, so a
# renamed or broken one is reported rather than silently skipped.
check_packages := declared_packages | catalogued_packages

# Enumerating data.ecs.checks makes OPA evaluate every rule of every check package, helpers
# included, only to learn which packages exist: most of a decision. The in-process engine reads
# the list off the modules' package statements when it loads them and hands it over as
# data.ecs.check_packages. Without that list (an OPA sidecar with a bundle, which may hold a module
# added by hand) the packages are enumerated, so none is ever left out.
declared_packages := {concern | some concern in data.ecs.check_packages} if {
	is_array(data.ecs.check_packages)
} else := {concern |
	some concern
	data.ecs.checks[concern]
}

# It depends on the catalogue only, and a scan of it in every decision cost a tenth of a clean one:
# the engine works it out with the decision table (global_table below) when it loads the policies,
# and it is worked out here when the table does not carry it.
catalogued_packages := {concern | some concern in data.ecs.decision_table.packages} if {
	is_array(data.ecs.decision_table.packages)
} else := {concern |
	some rule_id
	concern := catalog_document[rule_id].package
	is_string(concern)
}

# What a check package may expose, in the conventions OPA users already have (docs/writing-rules.md):
# `findings`, objects {rule, path, message}; conftest's `deny`, `violation` and `warn`, strings or
# objects with `msg`; Gatekeeper's `violation`, objects {msg, details}.
readable_rules := ["findings", "deny", "violation", "warn"]

# The readable rules each package exposes as a set or an array, looked up once: {concern: [name]}.
# Findings that are not a set (or an array) cannot be read: a package exposing none counts as silent.
package_rules := {concern: exposed |
	some concern in check_packages
	exposed := [name | some name in readable_rules; type_name(data.ecs.checks[concern][name]) in {"set", "array"}]
	count(exposed) > 0
}

# Every finding of every package, read in one pass: each entry of a readable rule becomes a finding,
# or, when it is neither a message nor an object with msg or message, an ECS-POLICY-001 finding
# that says so. A package exposing none of the readable rules is reported (package_failures).
joined_findings contains finding if {
	some concern, exposed in package_rules
	some name in exposed
	some item in data.ecs.checks[concern][name]
	finding := package_finding(concern, name, item)
}

package_finding(concern, name, item) := readable_finding(concern, name, item) if {
	finding_message(item)
} else := {
	"rule": "ECS-POLICY-001",
	"path": "/",
	"message": sprintf(
		"ecs.checks.%s.%s holds %v, which is neither a message nor an object with msg or message",
		[concern, name, item],
	),
}

# A finding already in the shape this reads ({rule, path, message} strings, an array fix), as
# every shipped package writes them, is kept as it is without its other fields: the same object
# the general case below builds, for a fifth of the work.
readable_finding(concern, name, item) := kept if {
	is_object(item)
	kept := object.filter(item, finding_fields)
	is_string(kept.rule)
	is_string(kept.path)
	is_string(kept.message)
	is_array(object.get(kept, "fix", []))
} else := object.union(
	{
		"rule": finding_rule(concern, name, item),
		"path": finding_path(item),
		"message": finding_message(item),
	},
	finding_fix(item),
)

finding_fields := {"rule", "path", "message", "fix"}

# A finding's proposed fix (docs/fixes.md): RFC 6902 operations against the task definition, passed
# on as the rule wrote them; the gate checks them and places them in the submitted document.
finding_fix(item) := {"fix": item.fix} if is_array(item.fix) else := {}

finding_message(item) := item if {
	is_string(item)
} else := item.message if {
	is_string(item.message)
} else := item.msg if {
	is_string(item.msg)
}

finding_rule(concern, name, item) := item.rule if {
	is_string(item.rule)
} else := rule_id(concern, name)

finding_path(item) := item.path if {
	is_string(item.path)
} else := "/"

# The id a conftest or Gatekeeper message is reported under: the one its rule's METADATA
# annotation declares (custom.id), else `<package>.<rule>` under data.ecs.checks (acme.deny).
rule_id(concern, name) := id if {
	ids := {id |
		some id, entry in catalog_document
		entry.package == concern
		entry.rego_rule == name
	}
	count(ids) == 1
	some id in ids
} else := sprintf("%s.%s", [concern, name])

# Read as whole documents (not via data.ecs, which would include this package: recursion).
catalog_document := data.ecs.catalog if is_object(data.ecs.catalog) else := {}

config := data.ecs.config if is_object(data.ecs.config) else := {}

# The decision over the check packages' findings.
decision := {"violations": [], "warnings": [], "exempted": []} if {
	# Nothing found, nothing to place: only the overrides are still read, so a config they cannot
	# be read from fails a clean decision as it fails one with findings.
	count(all_findings) == 0
	task_overrides(config, input)
} else := decide_rows(all_findings, found_rows, config, input)

# The table rows of the rules that found something, read here in a rule: a whole table handed to
# a function as an argument cost OPA 6% of a clean decision (bench/instructions.py).
found_rows := {rule: global_table[rule] | some rule in found_rules}

found_rules := {finding.rule | some finding in all_findings}

# The catalogue joined with config.yaml's global enforcement ({rule: {bucket, meta}}, rule_table
# below). It depends on data only, and working it out cost more than the rest of a decision, so the
# engine evaluates rule_table once when it loads the policies and hands the result over as
# data.ecs.decision_table, with the config it was worked out for (a bundle carries it too). A table
# for another config (a bundle's config edited by hand) is not used: it is worked out here instead.
global_table := data.ecs.decision_table.table if {
	data.ecs.decision_table.config == config
} else := rule_table(catalog_document, config)

all_findings := joined_findings | package_failures

# METADATA
# title: A check package produced no findings (its rules did not run)
# custom:
#   id: ECS-POLICY-001
#   severity: critical
#   enforcement: deny
#   remediation: >-
#     Run `ecs-admission policy test`; fix or restore the package named in the message: it must expose
#     findings, deny, violation or warn as a set of findings or messages (docs/writing-rules.md).
#   docs: https://www.openpolicyagent.org/docs/latest/policy-language/
#   beyond_anchors: >-
#     Fail closed on a broken policy set instead of allowing everything it would have checked.
package_failures contains finding if {
	some concern in check_packages
	not package_rules[concern]
	finding := {
		"rule": "ECS-POLICY-001",
		"path": "/",
		"message": sprintf(
			"the check package ecs.checks.%s produced no findings: %s, so its rules were not evaluated",
			[concern, silence_reason(concern)],
		),
	}
}

# Why a package yields nothing readable: the rule names looked for, or what one of them holds.
silence_reason(concern) := sprintf("its %s is %s, not a set of findings or messages", [name, type_name(value)]) if {
	defined := [name | some name in readable_rules; data.ecs.checks[concern][name] == data.ecs.checks[concern][name]]
	name := defined[0]
	value := data.ecs.checks[concern][name]
} else := sprintf("it defines none of %s", [concat(", ", readable_rules)])

decide(findings, catalog, config, doc) := decide_rows(findings, rows, config, doc) if {
	table := rule_table(catalog, config)
	rows := {rule: table[rule] | some finding in findings; rule := finding.rule}
}

# {rule id: {bucket, meta}} for every catalogued rule under the global settings: the catalogue
# joined with config.yaml's enforcement map, and where its findings go when no family override or
# exemption applies.
rule_table(catalog, config) := {rule: setting |
	global_levels := object.get(config, "enforcement", {})
	some rule
	entry := catalog[rule]
	setting := rule_setting(rule, entry, object.get(global_levels, rule, object.get(entry, "enforcement", "deny")))
}

# A rule without a catalog entry still denies: a missing entry must not hide a finding.
rule_setting(rule, entry, level) := {"bucket": placement_bucket(level), "meta": {
	"severity": object.get(entry, "severity", "high"),
	"title": object.get(entry, "title", rule),
	"remediation": object.get(entry, "remediation", "This rule has no catalog entry; add one to catalog.yaml."),
	"docs": object.get(entry, "docs", "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html"),
	"enforcement": level,
}}

# Anything that is not exactly "warn" or "off" denies, so a typo in the settings fails closed.
placement_bucket("off") := "off"

placement_bucket(level) := "warnings" if level == "warn"

placement_bucket(level) := "violations" if not level in {"off", "warn"}

# `rows`: the table rows of the rules that found something (a rule without a row is uncatalogued).
decide_rows(findings, rows, config, doc) := assemble(findings, rows, task_table(rules, rows, config, task_overrides(config, doc))) if {
	rules := {finding.rule | some finding in findings}
}

no_overrides := {"levels": {}, "exemptions": {}}

# Usually there are no family overrides nor exemptions at all: nothing to narrow.
task_overrides(config, doc) := no_overrides if {
	count(object.get(config, "family_enforcement", [])) == 0
	count(object.get(config, "exemptions", [])) == 0
} else := overrides_for(config, task_family(doc), today_of(doc))

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

# The settings this task's findings are placed by where the table does not say: rules without a
# catalog entry, and (only when a family override or an exemption applies) each rule worked out
# again with them. Most specific first: the family's override, then the global enforcement map,
# then the catalogue default.
task_table(rules, table, config, overrides) := uncatalogued(rules - object.keys(table), config) if {
	overrides == no_overrides
} else := {rule: setting |
	global_levels := object.get(config, "enforcement", {})
	some rule in rules
	entry := object.get(table, [rule, "meta"], {})
	level := object.get(overrides.levels, rule, object.get(global_levels, rule, object.get(entry, "enforcement", "deny")))
	setting := placement(level, object.get(rule_setting(rule, entry, level), "meta", {}), object.get(overrides.exemptions, rule, []))
}

uncatalogued(missing, config) := {rule: setting |
	global_levels := object.get(config, "enforcement", {})
	some rule in missing
	setting := rule_setting(rule, {}, object.get(global_levels, rule, "deny"))
}

# Where a rule's findings go once an exemption may apply: exempted (still visible, with the
# exemption), dropped ("off"), a warning, or a violation.
placement(level, meta, active) := {"bucket": "off", "meta": meta} if {
	level == "off"
} else := {"bucket": "exempted", "meta": object.union(meta, {"exemption": active[0]})} if {
	count(active) > 0
} else := {"bucket": placement_bucket(level), "meta": meta}

# One pass over the findings, then a split by bucket.
assemble(findings, table, task) := split_buckets([[setting.bucket, entry] |
	some finding in findings
	setting := object.get(task, finding.rule, object.get(table, finding.rule, null))
	entry := object.union_n([
		setting.meta,
		{"rule": finding.rule, "message": finding.message, "path": finding.path},
		object.filter(finding, {"fix"}),
	])
])

split_buckets(placed) := {
	"violations": [entry | some ["violations", entry] in placed],
	"warnings": [entry | some ["warnings", entry] in placed],
	"exempted": [entry | some ["exempted", entry] in placed],
}

task_family(doc) := family if {
	family := doc.task_definition.family
	is_string(family)
} else := ""

# The date exemptions are judged on: input.now (RFC 3339, set by the gate) cut to YYYY-MM-DD.
# Without a readable date no exemption applies (fail closed).
today_of(doc) := substring(doc.now, 0, 10) if {
	is_string(doc.now)
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}`, doc.now)
} else := ""
