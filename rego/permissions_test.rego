package ecs.checks.permissions_test

import rego.v1

import data.ecs.checks.permissions

clean := {
	"admin_equivalent": false, "escalation_paths": [], "passrole_any": false, "assumerole_any": false,
	"wildcard_data_access": [], "beyond_execution_baseline": [],
}

role_with(field, perms) := {
	"field": field, "reference": "arn:aws:iam::111122223333:role/app", "arn": "arn:aws:iam::111122223333:role/app",
	"name": "app", "account": "111122223333", "valid": true, "placeholder": false,
	"status": "known", "source": "iam", "reason": "", "trust_policy": {"Statement": []}, "policies": [],
	"permissions": perms, "access": [],
}

task_perms(changes) := {"task_definition": {"containerDefinitions": []}, "task_roles": {"taskRoleArn": role_with("taskRoleArn", object.union(clean, changes))}}

exec_perms(changes) := {"task_definition": {"containerDefinitions": []}, "task_roles": {"executionRoleArn": role_with("executionRoleArn", object.union(clean, changes))}}

findings_of(doc) := found if {
	found := permissions.findings with input as doc
}

rule_ids(findings) := {f.rule | some f in findings}

fired(rule_id, doc) if rule_id in rule_ids(findings_of(doc))

messages(rule_id, doc) := {f.message | some f in findings_of(doc); f.rule == rule_id}

test_least_privilege_roles_have_no_findings if {
	count(findings_of(task_perms({}))) == 0
	count(findings_of(exec_perms({}))) == 0
	count(findings_of({})) == 0
}

test_unknown_permissions_are_not_guessed if {
	doc := {"task_roles": {"taskRoleArn": role_with("taskRoleArn", null), "executionRoleArn": role_with("executionRoleArn", null)}}
	count(findings_of(doc)) == 0
}

test_admin_task_role_fires if {
	some f in findings_of(task_perms({"admin_equivalent": true}))
	f.rule == "ECS-PERM-001"
	f.path == "/taskRoleArn"
	startswith(f.message, "task role app (taskRoleArn) has administrator-equivalent permissions")
}

test_one_escalation_path_is_named_with_its_description if {
	path := {"id": "PassExistingRoleToNewECSTaskViaRunTask", "actions": ["iam:PassRole", "ecs:RegisterTaskDefinition", "ecs:RunTask"], "description": "pass a role to a new task"}
	messages("ECS-PERM-002", task_perms({"escalation_paths": [path]})) == {concat("", [
		"task role app (taskRoleArn) can escalate its privileges (PassExistingRoleToNewECSTaskViaRunTask: ",
		"iam:PassRole + ecs:RegisterTaskDefinition + ecs:RunTask): pass a role to a new task",
	])}
}

test_escalation_paths_are_one_finding_per_role if {
	paths := [
		{"id": "PassExistingRoleToNewECSTaskViaRunTask", "actions": ["iam:PassRole", "ecs:RegisterTaskDefinition", "ecs:RunTask"], "description": "pass a role to a new task"},
		{"id": "CreateNewPolicyVersion", "actions": ["iam:CreatePolicyVersion"], "description": ""},
	]
	messages("ECS-PERM-002", task_perms({"escalation_paths": paths})) == {concat("", [
		"task role app (taskRoleArn) can escalate its privileges 2 ways: ",
		"CreateNewPolicyVersion: iam:CreatePolicyVersion, ",
		"PassExistingRoleToNewECSTaskViaRunTask: iam:PassRole + ecs:RegisterTaskDefinition + ecs:RunTask",
	])}
}

test_many_escalation_paths_are_listed_up_to_five if {
	paths := [{"id": id, "actions": ["iam:X"]} | some id in ["A", "B", "C", "D", "E", "F", "G"]]
	messages("ECS-PERM-002", task_perms({"escalation_paths": paths})) == {concat("", [
		"task role app (taskRoleArn) can escalate its privileges 7 ways: ",
		"A: iam:X, B: iam:X, C: iam:X, D: iam:X, E: iam:X, and 2 more",
	])}
}

test_no_escalation_path_no_finding if {
	not fired("ECS-PERM-002", task_perms({"escalation_paths": []}))
}

test_passrole_and_assumerole_on_any_warn if {
	fired("ECS-PERM-003", task_perms({"passrole_any": true}))
	fired("ECS-PERM-004", task_perms({"assumerole_any": true}))
	not fired("ECS-PERM-003", task_perms({"passrole_any": false}))
	not fired("ECS-PERM-004", task_perms({}))
}

test_wildcard_data_access_warns_once_listing_grants if {
	grants := [{"action": "secretsmanager:GetSecretValue", "resource": "*"}, {"action": "kms:Decrypt", "resource": "*"}]
	messages("ECS-PERM-005", task_perms({"wildcard_data_access": grants})) == {
		"task role app (taskRoleArn) can read secrets or keys it does not name: kms:Decrypt on *, secretsmanager:GetSecretValue on *",
	}
}

test_execution_role_beyond_baseline_warns if {
	some message in messages("ECS-PERM-006", exec_perms({"beyond_execution_baseline": ["s3:PutObject", "iam:PassRole"]}))
	contains(message, "iam:PassRole, s3:PutObject")
}

test_task_role_rules_ignore_the_execution_role if {
	doc := exec_perms({"admin_equivalent": true, "passrole_any": true})
	not fired("ECS-PERM-001", doc)
	not fired("ECS-PERM-003", doc)
}
