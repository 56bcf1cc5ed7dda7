# Role fields themselves, and whether the facts the other role rules need could be had.
#
# input.task_roles has an entry for every role field that is set (README "The policy input"):
# `valid` says whether the value is a role ARN or name, `status` whether IAM facts are known,
# unknown (`reason` says why) or missing (the role does not exist).

# METADATA
# title: Role fields and facts
package ecs.checks.roles

import rego.v1

import data.ecs.lib

# What the functions below report, worked out once; each annotated `findings` rule
# below takes the findings of its own rule id (rego.metadata.rule()).
reported := check_with(input, lib.settings(lib.config))

# METADATA
# title: Role field holds an unrendered pipeline placeholder
# custom:
#   id: ECS-ROLE-001
#   severity: medium
#   enforcement: warn
#   remediation: >-
#     Render the task definition (substitute the placeholder with the role ARN) before gating it, so
#     the role can be checked.
#   docs: https://docs.aws.amazon.com/codepipeline/latest/userguide/file-reference.html
#   beyond_anchors: No anchor; scanners read templates as if they were final.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Role field is not an IAM role ARN or role name
# custom:
#   id: ECS-ROLE-002
#   severity: high
#   enforcement: deny
#   remediation: >-
#     Use the role's ARN (arn:aws:iam::<account>:role/<path/><name>) or its name; a user, instance profile
#     or policy ARN is not a role.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html
#   beyond_anchors: No anchor validates the role reference itself.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Role belongs to another account than the deploy account
# custom:
#   id: ECS-ROLE-003
#   severity: high
#   enforcement: deny
#   remediation: >-
#     Use a role in the account the task is deployed to, or add the role's account to config trusted_accounts
#     if it is meant to be shared.
#   docs: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
#   beyond_anchors: No anchor knows the account a task definition is deployed to.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Role does not exist
# custom:
#   id: ECS-ROLE-004
#   severity: high
#   enforcement: deny
#   remediation: >-
#     Create the role first (with its trust and permission policies), or fix the name.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
#   beyond_anchors: >-
#     No anchor looks the role up; a missing role fails only when a task starts.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Task role and execution role are the same role
# custom:
#   id: ECS-ROLE-005
#   severity: medium
#   enforcement: warn
#   remediation: >-
#     Use two roles: the execution role for the agent (image pull, logs, secrets) and a task role with
#     only what the application calls.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/security-iam-roles.html
#   anchors:
#   - Checkov CKV_AWS_249
#   beyond_anchors: >-
#     CKV_AWS_249 compares the two strings, so a role name and its ARN (or ARNs differing in case or
#     path) pass; the resolved role is compared here (account and case-insensitive name).
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: IAM lookup for the role failed
# custom:
#   id: ECS-ROLE-006
#   severity: high
#   enforcement: deny
#   remediation: >-
#     Fix the gate's IAM access (see the reason: access denied, throttling, timeout) or supply the role's
#     facts in the request envelope's roles; set ECS-ROLE-006 to warn in config.yaml to fail open on
#     lookup errors deliberately.
#   docs: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
#   beyond_anchors: >-
#     Fail closed: the trust and permission rules could not run. Scanners that cannot read a resource
#     report nothing.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Facts about the role are not available, so its rules were not checked
# custom:
#   id: ECS-ROLE-007
#   severity: low
#   enforcement: warn
#   remediation: >-
#     Enable IAM lookups (ECS_ADMISSION_IAM_LOOKUP) or supply the role's trustPolicy and policies in
#     the request envelope's roles, so the trust and permission rules can run.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
#   beyond_anchors: Says what was not checked rather than passing silently.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

check(doc) := check_with(doc, lib.settings({}))

check_with(doc, settings) := (reference_problems(doc) | cross_account(doc, settings)) | ((same_role(doc) | fact_problems(doc)) | facts_unavailable(doc))

role_fields := ["taskRoleArn", "executionRoleArn"]

# ECS-ROLE-001: a pipeline placeholder left in a role field cannot be judged until it is rendered
# (lib.placeholder_pattern: <NAME>, ${NAME}, {{name}}, $$$NAME$$$).
# ECS-ROLE-002: anything else that is not a role ARN or name: ECS rejects it at best; at worst a
# typo names a different role than intended.
reference_problems(doc) := {f |
	some field in role_fields
	value := doc.task_definition[field]
	is_string(value)
	problem := reference_problem(field, value, object.get(object.get(doc, "task_roles", {}), field, {}))
	f := {"rule": problem.rule, "path": concat("", ["/", field]), "message": problem.message}
}

reference_problem(field, value, role) := {"rule": "ECS-ROLE-001", "message": concat("", [
	field, " is the placeholder ", value,
	": the role cannot be checked until the pipeline fills it in",
])} if {
	lib.is_placeholder(value)
} else := {"rule": "ECS-ROLE-002", "message": concat("", [
	field, " is ", value,
	", which is neither an IAM role ARN (arn:aws:iam::<account>:role/<name>) nor a role name",
	invalid_hint(value),
])} if {
	role.valid == false
}

# The commonest cause in real repositories: an account id left as ACCOUNT_ID or XXXXXXXXXXXX.
invalid_hint(reference) := concat("", [" (the account part ", account, " is not a 12-digit account id)"]) if {
	startswith(reference, "arn:")
	parts := split(reference, ":")
	count(parts) > 4
	account := parts[4]
	not regex.match(`^[0-9]{12}$`, account)
} else := ""

# ECS-ROLE-003: a role from another account than the deploy account, unless that account is trusted.
cross_account(doc, settings) := {f |
	deploy := doc.context.account
	lib.non_empty_string(deploy)
	some field in role_fields
	role := doc.task_roles[field]
	role_account := object.get(role, "account", "")
	is_string(role_account)
	role_account != ""
	role_account != deploy
	trusted := settings.trusted_accounts
	not role_account in trusted
	f := {"rule": "ECS-ROLE-003", "path": concat("", ["/", field]), "message": concat("", [
		lib.role_label(field, role), " is in account ", role_account, ", not the deploy account ", deploy,
		", and that account is not in config trusted_accounts",
	])}
}

# ECS-ROLE-004: IAM says the role does not exist: tasks would fail to start (or, worse, a role of
# that name created later by someone else would be used).
# ECS-ROLE-006: an IAM lookup was made and failed (access denied, throttled, timed out): every
# deny-level rule that needed the facts is unanswered, so by default this denies (fail closed).
fact_problems(doc) := {f |
	some field in role_fields
	role := doc.task_roles[field]
	problem := fact_problem(field, role)
	f := {"rule": problem.rule, "path": concat("", ["/", field]), "message": problem.message}
}

fact_problem(field, role) := {"rule": "ECS-ROLE-004", "message": concat("", [
	lib.role_label(field, role), " does not exist", reason_words(role),
])} if {
	role.status == "missing"
} else := {"rule": "ECS-ROLE-006", "message": concat("", [
	"the IAM lookup for ", lib.role_label(field, role), " failed", reason_words(role),
	"; its trust policy and permissions could not be checked",
])} if {
	role.status == "unknown"
	role.source == "iam"
}

# ECS-ROLE-005: one role for both jobs gives the containers the agent's permissions (every
# secret, every image) and the agent the application's. IAM role names are unique per account
# regardless of path and case, so the resolved role is compared, not the strings.
same_role(doc) := {f |
	task := doc.task_roles.taskRoleArn
	execution := doc.task_roles.executionRoleArn
	is_string(task.name)
	lower(task.name) == lower(object.get(execution, "name", ""))
	same_account(object.get(task, "account", null), object.get(execution, "account", null))
	f := {"rule": "ECS-ROLE-005", "path": "/executionRoleArn", "message": concat("", [
		"taskRoleArn and executionRoleArn both name ", task.name,
		": the containers get every permission the agent has (all the task's secrets and images)",
	])}
}

same_account(a, b) if a == b

same_account(a, b) if not is_string(a)

same_account(a, b) if not is_string(b)

# ECS-ROLE-007: no facts were available (no lookup configured, none supplied, or only some of
# them): say which rules went unchecked instead of finding nothing and allowing.
fact_kinds := {
	"taskRoleArn": [["trust_policy", "trust policy"], ["permissions", "permissions"]],
	"executionRoleArn": [["trust_policy", "trust policy"], ["permissions", "permissions"], ["access", "what it can read for the task"]],
}

facts_unavailable(doc) := {f |
	some field in role_fields
	value := doc.task_definition[field]
	is_string(value)
	value != ""
	role := object.get(object.get(doc, "task_roles", {}), field, {})
	object.get(role, "valid", true) != false
	object.get(role, "status", "unknown") != "missing"
	[object.get(role, "status", ""), object.get(role, "source", "")] != ["unknown", "iam"]
	not lib.is_placeholder(value)
	# Builtins only from here: this rule fires on most requests while lookups are off.
	gaps := [label |
		some kind in fact_kinds[field]
		key := kind[0]
		fact := object.get(role, key, null)
		[is_object(fact), is_array(fact)] == [false, false]
		label := kind[1]
	]
	count(gaps) > 0
	names := [name | name := object.get(role, "name", null); is_string(name)]
	reasons := [concat("", [": ", reason]) | reason := object.get(role, "reason", ""); is_string(reason); reason != ""]
	f := {"rule": "ECS-ROLE-007", "path": concat("", ["/", field]), "message": concat("", [
		"facts about ", lib.role_kind[field], " ", array.concat(names, [value])[0], " (", field, ") are not available (",
		concat(", ", gaps), ")", array.concat(reasons, [""])[0], ": the rules that need them were not checked",
	])}
}

reason_words(role) := concat("", [": ", role.reason]) if lib.non_empty_string(role.reason) else := ""
