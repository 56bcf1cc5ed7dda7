package ecs.admission_test

import rego.v1

import data.ecs.admission

privileged := {"rule": "ECS-ISO-002", "path": "/containerDefinitions/0/privileged", "message": "container app runs privileged"}

catalog := {"ECS-ISO-002": {
	"title": "Container runs privileged",
	"severity": "critical",
	"enforcement": "deny",
	"remediation": "Remove privileged.",
	"docs": "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html",
}}

rules(entries) := {e.rule | some e in entries}

test_violations_carry_catalog_metadata if {
	some v in admission.decide({privileged}, catalog, {}).violations
	v.rule == "ECS-ISO-002"
	v.severity == "critical"
	v.title == "Container runs privileged"
	v.remediation == "Remove privileged."
	v.path == "/containerDefinitions/0/privileged"
	v.message == "container app runs privileged"
}

test_no_findings_no_violations if {
	decision := admission.decide(set(), catalog, {})
	count(decision.violations) == 0
	count(decision.warnings) == 0
}

test_warn_override_moves_rule_to_warnings if {
	decision := admission.decide({privileged}, catalog, {"enforcement": {"ECS-ISO-002": "warn"}})
	rules(decision.warnings) == {"ECS-ISO-002"}
	count(decision.violations) == 0
}

test_off_override_drops_rule if {
	decision := admission.decide({privileged}, catalog, {"enforcement": {"ECS-ISO-002": "off"}})
	count(decision.violations) + count(decision.warnings) == 0
}

test_misspelt_enforcement_still_denies if {
	decision := admission.decide({privileged}, catalog, {"enforcement": {"ECS-ISO-002": "wran"}})
	rules(decision.violations) == {"ECS-ISO-002"}
}

test_rule_without_catalog_entry_denies if {
	some v in admission.decide({privileged}, {}, {}).violations
	v.rule == "ECS-ISO-002"
	v.severity == "high"
}

test_shipped_catalog_covers_shipped_rules if {
	every rule_id in {"ECS-ISO-001", "ECS-ISO-002", "ECS-ISO-003", "ECS-EXEC-001", "ECS-ROLE-001"} {
		is_object(data.ecs.catalog[rule_id])
	}
}
