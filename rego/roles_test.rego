package ecs.checks.roles_test

import rego.v1

import data.ecs.checks.roles

account := "111122223333"

arn(name) := concat("", ["arn:aws:iam::", account, ":role/", name])

trust := {"Statement": [{"Effect": "Allow", "Principal": {"Service": ["ecs-tasks.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}]}

# A fully known role: every fact present, as the gate builds it.
known(field, name, overrides) := object.union(
	{
		"field": field, "reference": arn(name), "arn": arn(name), "name": name, "account": account,
		"valid": true, "placeholder": false, "status": "known", "source": "caller", "reason": "",
		"trust_policy": trust, "policies": [], "permissions_boundary": null,
		"permissions": {"admin_equivalent": false, "escalation_paths": [], "passrole_any": false, "assumerole_any": false, "wildcard_data_access": [], "beyond_execution_baseline": []},
		"access": [],
	},
	overrides,
)

roles_input(task_definition, task_roles) := {
	"task_definition": object.union({"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx:1"}]}, task_definition),
	"task_roles": task_roles,
	"context": {"account": account},
}

with_task_role(overrides) := roles_input({"taskRoleArn": arn("app")}, {"taskRoleArn": known("taskRoleArn", "app", overrides)})

# The platform team's config.yaml is pinned to none: the startup self-check runs these tests
# against whatever settings are deployed, and they must not depend on them.
findings_of(doc) := findings_with(doc, {})

findings_with(doc, config) := found if {
	found := roles.findings with input as doc with data.ecs.config as config
}

rule_ids(findings) := {f.rule | some f in findings}

fired(rule_id, d) if rule_id in rule_ids(findings_of(d))

messages(rule_id, d) := {f.message | some f in findings_of(d); f.rule == rule_id}

test_fully_known_role_has_no_findings if {
	count(findings_of(with_task_role({}))) == 0
}

test_no_role_fields_no_findings if {
	count(findings_of(roles_input({}, {}))) == 0
	count(findings_of({})) == 0
}

# ECS-ROLE-001 placeholders

test_placeholder_in_task_role_fires if {
	d := roles_input({"taskRoleArn": "<TASK_ROLE_ARN>"}, {"taskRoleArn": {"field": "taskRoleArn", "reference": "<TASK_ROLE_ARN>", "valid": false, "placeholder": true, "status": "unknown", "source": "none"}})
	some f in findings_of(d)
	f.rule == "ECS-ROLE-001"
	f.path == "/taskRoleArn"
	f.message == "taskRoleArn is the placeholder <TASK_ROLE_ARN>: the role cannot be checked until the pipeline fills it in"
	# the placeholder warning is the only finding: not also invalid (ROLE-002) or unknown (ROLE-007)
	rule_ids(findings_of(d)) == {"ECS-ROLE-001"}
}

test_real_arn_is_not_a_placeholder if not fired("ECS-ROLE-001", with_task_role({}))

# ECS-ROLE-002 invalid reference

test_invalid_role_reference_fires if {
	d := roles_input({"executionRoleArn": "arn:aws:iam::111122223333:user/deployer"}, {"executionRoleArn": {"field": "executionRoleArn", "reference": "arn:aws:iam::111122223333:user/deployer", "valid": false, "placeholder": false, "status": "unknown", "source": "none"}})
	some message in messages("ECS-ROLE-002", d)
	contains(message, "arn:aws:iam::111122223333:user/deployer")
	not fired("ECS-ROLE-007", d)
}

test_role_name_instead_of_arn_is_valid if {
	d := roles_input({"taskRoleArn": "app"}, {"taskRoleArn": known("taskRoleArn", "app", {"reference": "app"})})
	not fired("ECS-ROLE-002", d)
}

# ECS-ROLE-003 cross-account

foreign := known("taskRoleArn", "app", {"account": "999988887777", "arn": "arn:aws:iam::999988887777:role/app", "reference": "arn:aws:iam::999988887777:role/app"})

test_role_in_another_account_fires if {
	d := roles_input({"taskRoleArn": "arn:aws:iam::999988887777:role/app"}, {"taskRoleArn": foreign})
	some message in messages("ECS-ROLE-003", d)
	contains(message, "999988887777")
}

test_role_in_a_trusted_account_does_not_fire if {
	d := roles_input({"taskRoleArn": "arn:aws:iam::999988887777:role/app"}, {"taskRoleArn": foreign})
	not "ECS-ROLE-003" in rule_ids(findings_with(d, {"trusted_accounts": ["999988887777"]}))
}

test_cross_account_needs_a_known_deploy_account if {
	d := {"task_definition": {"taskRoleArn": "arn:aws:iam::999988887777:role/app", "containerDefinitions": []}, "task_roles": {"taskRoleArn": foreign}}
	not fired("ECS-ROLE-003", d)
}

test_same_account_does_not_fire if not fired("ECS-ROLE-003", with_task_role({}))

# ECS-ROLE-004 missing role

test_missing_role_fires if {
	d := with_task_role({"status": "missing", "source": "iam", "reason": "NoSuchEntity", "trust_policy": null, "permissions": null})
	some message in messages("ECS-ROLE-004", d)
	contains(message, "does not exist: NoSuchEntity")
	not fired("ECS-ROLE-007", d)
}

test_known_role_is_not_missing if not fired("ECS-ROLE-004", with_task_role({}))

# ECS-ROLE-005 same role for both jobs

both(task_ref, exec_ref, task_entry, exec_entry) := roles_input(
	{"taskRoleArn": task_ref, "executionRoleArn": exec_ref},
	{"taskRoleArn": task_entry, "executionRoleArn": exec_entry},
)

test_same_role_fires if {
	d := both(arn("app"), arn("app"), known("taskRoleArn", "app", {}), known("executionRoleArn", "app", {}))
	fired("ECS-ROLE-005", d)
}

test_same_role_by_name_and_arn_fires if {
	d := both("App", arn("app"), known("taskRoleArn", "App", {"reference": "App"}), known("executionRoleArn", "app", {}))
	fired("ECS-ROLE-005", d)
}

# A placeholder execution role has no name: the rule compares nothing (it used to stop the
# evaluation with a type error in lower, which failed the whole decision closed).
test_placeholder_execution_role_is_not_compared if {
	placeholder := object.union(
		known("executionRoleArn", "x", {}),
		{"reference": "<EXECUTION_ROLE_ARN>", "arn": null, "name": null, "account": null, "placeholder": true},
	)
	d := both(arn("app"), "<EXECUTION_ROLE_ARN>", known("taskRoleArn", "app", {}), placeholder)
	not fired("ECS-ROLE-005", d)
}

test_different_roles_do_not_fire if {
	d := both(arn("app"), arn("exec"), known("taskRoleArn", "app", {}), known("executionRoleArn", "exec", {}))
	not fired("ECS-ROLE-005", d)
}

test_same_name_in_different_accounts_does_not_fire if {
	d := both(arn("app"), "arn:aws:iam::999988887777:role/app", known("taskRoleArn", "app", {}), object.union(foreign, {"field": "executionRoleArn"}))
	not fired("ECS-ROLE-005", d)
}

# ECS-ROLE-006 lookup failed / ECS-ROLE-007 facts unavailable

test_failed_lookup_fires_role_006 if {
	d := with_task_role({"status": "unknown", "source": "iam", "reason": "AccessDenied calling GetRole", "trust_policy": null, "policies": null, "permissions": null})
	some message in messages("ECS-ROLE-006", d)
	contains(message, "AccessDenied calling GetRole")
	not fired("ECS-ROLE-007", d)
}

test_no_lookup_configured_fires_role_007_not_006 if {
	d := with_task_role({"status": "unknown", "source": "none", "reason": "IAM lookups are not enabled", "trust_policy": null, "policies": null, "permissions": null})
	some message in messages("ECS-ROLE-007", d)
	contains(message, "trust policy, permissions")
	not fired("ECS-ROLE-006", d)
}

test_known_trust_but_unknown_permissions_fires_role_007 if {
	d := with_task_role({"policies": null, "permissions": null})
	messages("ECS-ROLE-007", d) == {"facts about task role app (taskRoleArn) are not available (permissions): the rules that need them were not checked"}
}

test_execution_role_without_access_verdicts_fires_role_007 if {
	d := roles_input({"executionRoleArn": arn("exec")}, {"executionRoleArn": known("executionRoleArn", "exec", {"access": null})})
	some message in messages("ECS-ROLE-007", d)
	contains(message, "what it can read for the task")
}

test_role_field_without_facts_entry_fires_role_007 if {
	d := roles_input({"taskRoleArn": arn("app")}, {})
	fired("ECS-ROLE-007", d)
}

test_fully_known_roles_do_not_fire_role_007 if {
	d := both(arn("app"), arn("exec"), known("taskRoleArn", "app", {}), known("executionRoleArn", "exec", {}))
	not fired("ECS-ROLE-007", d)
	not fired("ECS-ROLE-006", d)
}

test_template_placeholders_warn_instead_of_denying if {
	value := "arn:aws:iam::${AWS_ACCOUNT_ID}:role/ecsTaskRole"
	d := roles_input({"taskRoleArn": value}, {"taskRoleArn": {"field": "taskRoleArn", "reference": value, "valid": false, "placeholder": false, "status": "unknown", "source": "none"}})
	rule_ids(findings_of(d)) == {"ECS-ROLE-001"}
}

test_invalid_account_part_is_explained if {
	value := "arn:aws:iam::XXXXXXXXXXXX:role/ecs_task_iam_role"
	d := roles_input({"taskRoleArn": value}, {"taskRoleArn": {"field": "taskRoleArn", "reference": value, "valid": false, "placeholder": false, "status": "unknown", "source": "none"}})
	some message in messages("ECS-ROLE-002", d)
	contains(message, "the account part XXXXXXXXXXXX is not a 12-digit account id")
}
