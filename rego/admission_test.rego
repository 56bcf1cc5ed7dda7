package ecs.admission_test

import rego.v1

import data.ecs.admission

privileged := {"rule": "ECS-ISO-002", "path": "/containerDefinitions/0/privileged", "message": "container app runs privileged"}

root_user := {"rule": "ECS-HARD-002", "path": "/containerDefinitions/0/user", "message": "container app runs as root"}

catalog := {
	"ECS-ISO-002": {
		"title": "Container runs privileged",
		"severity": "critical",
		"enforcement": "deny",
		"remediation": "Remove privileged.",
		"docs": "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html",
	},
	"ECS-HARD-002": {
		"title": "Container runs as root",
		"severity": "medium",
		"enforcement": "warn",
		"remediation": "Set user.",
		"docs": "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html",
	},
}

input_for(family) := {"task_definition": {"family": family, "containerDefinitions": []}, "now": "2026-11-27T20:00:00Z"}

rules(entries) := {e.rule | some e in entries}

exemption(fields) := object.union(
	{"rule": "ECS-ISO-002", "family": "agent-*", "justification": "vetted agent", "ticket": "SEC-1", "expires": "2026-12-31"},
	fields,
)

test_violations_carry_catalog_metadata if {
	some v in admission.decide({privileged}, catalog, {}, input_for("web")).violations
	v.rule == "ECS-ISO-002"
	v.severity == "critical"
	v.title == "Container runs privileged"
	v.remediation == "Remove privileged."
	v.path == "/containerDefinitions/0/privileged"
	v.message == "container app runs privileged"
	v.enforcement == "deny"
}

test_no_findings_no_violations if {
	decision := admission.decide(set(), catalog, {}, input_for("web"))
	count(decision.violations) == 0
	count(decision.warnings) == 0
	count(decision.exempted) == 0
}

# The decision's shortcut for a clean task (nothing found) gives what placing no findings gives.
# Catalogue and config are this file's, so a platform team's own settings cannot fail these tests.
test_clean_decision_is_what_placing_nothing_gives if {
	clean := {"violations": [], "warnings": [], "exempted": []}
	admission.decision == clean with admission.all_findings as set()
		with input as input_for("web")
		with data.ecs.catalog as catalog
		with data.ecs.decision_table as {}
		with data.ecs.config as {}
	admission.decision == clean with admission.all_findings as set()
		with input as input_for("agent-x")
		with data.ecs.catalog as catalog
		with data.ecs.decision_table as {}
		with data.ecs.config as {"exemptions": [exemption({})]}
	admission.decide(set(), catalog, {}, input_for("web")) == clean
	admission.decide(set(), catalog, family_config, input_for("batch-report")) == clean
}

test_a_finding_still_goes_through_the_table if {
	decision := admission.decision with admission.all_findings as {privileged, root_user}
		with input as input_for("web")
		with data.ecs.catalog as catalog
		with data.ecs.decision_table as {}
		with data.ecs.config as {}
	rules(decision.violations) == {"ECS-ISO-002"}
	rules(decision.warnings) == {"ECS-HARD-002"}
}

test_catalog_default_warn_is_a_warning if {
	decision := admission.decide({root_user}, catalog, {}, input_for("web"))
	rules(decision.warnings) == {"ECS-HARD-002"}
	count(decision.violations) == 0
}

test_warn_override_moves_rule_to_warnings if {
	decision := admission.decide({privileged}, catalog, {"enforcement": {"ECS-ISO-002": "warn"}}, input_for("web"))
	rules(decision.warnings) == {"ECS-ISO-002"}
	count(decision.violations) == 0
}

test_deny_override_tightens_a_warning if {
	decision := admission.decide({root_user}, catalog, {"enforcement": {"ECS-HARD-002": "deny"}}, input_for("web"))
	rules(decision.violations) == {"ECS-HARD-002"}
}

test_off_override_drops_rule if {
	decision := admission.decide({privileged}, catalog, {"enforcement": {"ECS-ISO-002": "off"}}, input_for("web"))
	count(decision.violations) + count(decision.warnings) + count(decision.exempted) == 0
}

test_misspelt_enforcement_still_denies if {
	decision := admission.decide({privileged}, catalog, {"enforcement": {"ECS-ISO-002": "wran"}}, input_for("web"))
	rules(decision.violations) == {"ECS-ISO-002"}
}

test_rule_without_catalog_entry_denies if {
	some v in admission.decide({privileged}, {}, {}, input_for("web")).violations
	v.rule == "ECS-ISO-002"
	v.severity == "high"
}

# Per task family

family_config := {
	"enforcement": {"ECS-ISO-002": "deny"},
	"family_enforcement": [
		{"family": "batch-*", "enforcement": {"ECS-ISO-002": "warn"}},
		{"family": "batch-legacy*", "enforcement": {"ECS-ISO-002": "off"}},
		{"family": "*", "enforcement": {"ECS-HARD-002": "off"}},
	],
}

test_family_override_applies_to_matching_family if {
	decision := admission.decide({privileged}, catalog, family_config, input_for("batch-report"))
	rules(decision.warnings) == {"ECS-ISO-002"}
	count(decision.violations) == 0
}

test_first_matching_family_override_wins if {
	decision := admission.decide({privileged}, catalog, family_config, input_for("batch-legacy-etl"))
	rules(decision.warnings) == {"ECS-ISO-002"}
}

test_family_override_does_not_apply_to_other_families if {
	decision := admission.decide({privileged}, catalog, family_config, input_for("web-batch-report"))
	rules(decision.violations) == {"ECS-ISO-002"}
}

test_family_override_for_another_rule_falls_through_to_global if {
	decision := admission.decide({privileged, root_user}, catalog, family_config, input_for("web"))
	rules(decision.violations) == {"ECS-ISO-002"}
	count(decision.warnings) == 0
}

test_missing_family_matches_only_catch_all_patterns if {
	decision := admission.decide({privileged}, catalog, family_config, {"task_definition": {}, "now": "2026-11-27T20:00:00Z"})
	rules(decision.violations) == {"ECS-ISO-002"}
}

# Exemptions

test_active_exemption_moves_finding_to_exempted if {
	decision := admission.decide({privileged}, catalog, {"exemptions": [exemption({})]}, input_for("agent-datadog"))
	count(decision.violations) == 0
	some e in decision.exempted
	e.rule == "ECS-ISO-002"
	e.enforcement == "deny"
	e.exemption == {"family": "agent-*", "justification": "vetted agent", "ticket": "SEC-1", "expires": "2026-12-31"}
}

test_exemption_applies_through_its_expiry_day if {
	decision := admission.decide({privileged}, catalog, {"exemptions": [exemption({"expires": "2026-11-27"})]}, input_for("agent-x"))
	rules(decision.exempted) == {"ECS-ISO-002"}
}

test_expired_exemption_no_longer_applies if {
	decision := admission.decide({privileged}, catalog, {"exemptions": [exemption({"expires": "2026-11-26"})]}, input_for("agent-x"))
	rules(decision.violations) == {"ECS-ISO-002"}
	count(decision.exempted) == 0
}

test_exemption_for_other_family_or_rule_does_not_apply if {
	other_family := admission.decide({privileged}, catalog, {"exemptions": [exemption({})]}, input_for("web"))
	rules(other_family.violations) == {"ECS-ISO-002"}
	other_rule := admission.decide({privileged}, catalog, {"exemptions": [exemption({"rule": "ECS-HARD-002"})]}, input_for("agent-x"))
	rules(other_rule.violations) == {"ECS-ISO-002"}
}

test_exemption_without_a_readable_now_does_not_apply if {
	no_now := admission.decide({privileged}, catalog, {"exemptions": [exemption({})]}, {"task_definition": {"family": "agent-x"}})
	rules(no_now.violations) == {"ECS-ISO-002"}
	bad_now := admission.decide({privileged}, catalog, {"exemptions": [exemption({})]}, {"task_definition": {"family": "agent-x"}, "now": "yesterday"})
	rules(bad_now.violations) == {"ECS-ISO-002"}
}

test_exemption_with_unreadable_expiry_does_not_apply if {
	decision := admission.decide({privileged}, catalog, {"exemptions": [exemption({"expires": "31/12/2026"})]}, input_for("agent-x"))
	rules(decision.violations) == {"ECS-ISO-002"}
}

test_exempted_warning_is_listed_as_exempted if {
	config := {"exemptions": [exemption({"rule": "ECS-HARD-002"})]}
	decision := admission.decide({root_user}, catalog, config, input_for("agent-x"))
	count(decision.warnings) == 0
	rules(decision.exempted) == {"ECS-HARD-002"}
}

test_rule_switched_off_is_not_listed_as_exempted if {
	config := {"enforcement": {"ECS-ISO-002": "off"}, "exemptions": [exemption({})]}
	decision := admission.decide({privileged}, catalog, config, input_for("agent-x"))
	count(decision.exempted) == 0
}

# The shipped policy set

test_shipped_catalog_covers_every_rule_the_checks_name if {
	every rule_id in {
		"ECS-TRUST-001", "ECS-TRUST-002", "ECS-TRUST-003", "ECS-TRUST-004", "ECS-TRUST-005",
		"ECS-TRUST-006", "ECS-EXEC-001", "ECS-EXEC-002", "ECS-EXEC-003",
		"ECS-ROLE-001", "ECS-ROLE-002", "ECS-ROLE-003", "ECS-ROLE-004", "ECS-ROLE-005", "ECS-ROLE-006", "ECS-ROLE-007",
		"ECS-ISO-001", "ECS-ISO-002", "ECS-ISO-003", "ECS-ISO-004", "ECS-ISO-005", "ECS-ISO-006", "ECS-ISO-007",
		"ECS-ISO-008", "ECS-ISO-009",
		"ECS-HARD-001", "ECS-HARD-002", "ECS-HARD-003", "ECS-HARD-004", "ECS-HARD-005", "ECS-HARD-006",
		"ECS-HARD-007", "ECS-HARD-008",
		"ECS-PERM-001", "ECS-PERM-002", "ECS-PERM-003", "ECS-PERM-004", "ECS-PERM-005", "ECS-PERM-006",
		"ECS-POLICY-001",
	} {
		is_object(data.ecs.catalog[rule_id])
	}
}

precomputed := {"ECS-ISO-002": {"bucket": "warnings", "meta": {"severity": "low", "title": "t", "remediation": "r", "docs": "d", "enforcement": "warn"}}}

test_a_precomputed_table_is_used_for_the_config_it_was_made_for if {
	admission.global_table == precomputed with data.ecs.decision_table as {"config": {"enforcement": {}}, "table": precomputed}
		with data.ecs.config as {"enforcement": {}}
		with data.ecs.catalog as catalog
}

test_a_table_made_for_another_config_is_not_used if {
	table := admission.global_table with data.ecs.decision_table as {"config": {"enforcement": {"ECS-ISO-002": "warn"}}, "table": precomputed}
		with data.ecs.config as {"enforcement": {}}
		with data.ecs.catalog as catalog
	table["ECS-ISO-002"].bucket == "violations"
	table == admission.rule_table(catalog, {"enforcement": {}})
}

# A rule's proposed fix travels with its finding into the decision (docs/fixes.md).
test_violations_carry_the_rules_fix if {
	fix := [{"op": "remove", "path": "/containerDefinitions/0/privileged"}]
	some v in admission.decide({object.union(privileged, {"fix": fix})}, catalog, {}, input_for("web")).violations
	v.fix == fix
	some w in admission.decide({privileged}, catalog, {}, input_for("web")).violations
	not w.fix
}

# The check packages: the list the engine reads off the modules when it has one, else enumerated.

test_listed_check_packages_are_the_ones_evaluated if {
	packages := admission.check_packages with data.ecs.check_packages as ["hardening", "trust"]
		with data.ecs.catalog as {}
	packages == {"hardening", "trust"}
}

test_the_catalogue_adds_its_packages_to_a_list if {
	packages := admission.check_packages with data.ecs.check_packages as ["trust"]
		with data.ecs.catalog as {"ECS-HARD-001": {"package": "hardening"}}
	packages == {"trust", "hardening"}
}

test_the_catalogued_packages_come_from_the_decision_table_when_it_has_them if {
	packages := admission.catalogued_packages with data.ecs.decision_table as {"config": {}, "table": {}, "packages": ["acme"]}
		with data.ecs.catalog as {"ECS-HARD-001": {"package": "hardening"}}
	packages == {"acme"}
	scanned := admission.catalogued_packages with data.ecs.decision_table as {"config": {}, "table": {}}
		with data.ecs.catalog as {"ECS-HARD-001": {"package": "hardening"}, "X-1": {"package": 7}}
	scanned == {"hardening"}
}

test_without_a_list_every_check_package_is_enumerated if {
	packages := admission.check_packages with data.ecs.check_packages as null
	every concern in {"execution", "hardening", "isolation", "permissions", "roles", "template", "trust"} {
		concern in packages
	}
}

# A finding in the shipped shape is kept as it is (less its other fields); any other shape is read
# field by field: both give the same object.
test_a_finding_in_the_shipped_shape_reads_as_the_general_case_would if {
	fix := [{"op": "remove", "path": "/x"}]
	admission.readable_finding("acme", "findings", {"rule": "R-1", "path": "/x", "message": "m", "fix": fix, "extra": 1}) == {"rule": "R-1", "path": "/x", "message": "m", "fix": fix}
	admission.readable_finding("acme", "findings", {"rule": "R-1", "path": "/x", "message": "m", "fix": "no"}) == {"rule": "R-1", "path": "/x", "message": "m"}
	admission.readable_finding("acme", "deny", {"msg": "m", "path": 3}) == {"rule": "acme.deny", "path": "/", "message": "m"}
	admission.readable_finding("acme", "deny", "m") == {"rule": "acme.deny", "path": "/", "message": "m"}
	not admission.readable_finding("acme", "deny", {"rule": "R-1", "path": "/x"})
}
