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

# METADATA
# title: Role field holds an unrendered pipeline placeholder
# description: >-
#   A pipeline placeholder left in a role field cannot be judged until it is rendered
#   (lib.placeholder_pattern: <NAME>, ${NAME}, {{name}}, $$$NAME$$$).
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
	some field, value in role_references
	field in placeholder_fields
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/%s", [field]),
		"message": sprintf("%s is the placeholder %s: the role cannot be checked until the pipeline fills it in", [field, value]),
	}
}

# METADATA
# title: Role field is not an IAM role ARN or role name
# description: >-
#   Anything else that is not a role ARN or name: ECS rejects it at best; at worst a typo names
#   a different role than intended.
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
	some field, value in role_references
	not field in placeholder_fields
	input.task_roles[field].valid == false
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/%s", [field]),
		"message": sprintf(
			"%s is %s, which is neither an IAM role ARN (arn:aws:iam::<account>:role/<name>) nor a role name%s",
			[field, value, invalid_hint(value)],
		),
	}
}

# METADATA
# title: Role belongs to another account than the deploy account
# description: >-
#   A role from another account than the deploy account, unless that account is trusted
#   (config.yaml trusted_accounts).
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
	deploy := input.context.account
	lib.non_empty_string(deploy)
	some field in role_fields
	role := input.task_roles[field]
	role_account := object.get(role, "account", "")
	lib.non_empty_string(role_account)
	role_account != deploy
	not role_account in trusted_accounts
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/%s", [field]),
		"message": sprintf(
			"%s is in account %s, not the deploy account %s, and that account is not in config trusted_accounts",
			[lib.role_label(field, role), role_account, deploy],
		),
	}
}

# METADATA
# title: Role does not exist
# description: >-
#   IAM says the role does not exist: tasks would fail to start (or, worse, a role of that name
#   created later by someone else would be used).
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
	some field in role_fields
	role := input.task_roles[field]
	role.status == "missing"
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/%s", [field]),
		"message": sprintf("%s does not exist%s", [lib.role_label(field, role), reason_words(role)]),
	}
}

# METADATA
# title: Task role and execution role are the same role
# description: >-
#   One role for both jobs gives the containers the agent's permissions (every secret, every
#   image) and the agent the application's. IAM role names are unique per account regardless of
#   path and case, so the resolved role is compared, not the strings.
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
	task := input.task_roles.taskRoleArn
	execution := input.task_roles.executionRoleArn
	is_string(task.name)
	# A placeholder or an unresolvable execution role has a null name: nothing to compare.
	execution_name := object.get(execution, "name", "")
	is_string(execution_name)
	lower(task.name) == lower(execution_name)
	same_account(object.get(task, "account", null), object.get(execution, "account", null))
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": "/executionRoleArn",
		"message": sprintf(
			"taskRoleArn and executionRoleArn both name %s: the containers get every permission the agent has (all the task's secrets and images)",
			[task.name],
		),
	}
}

# METADATA
# title: IAM lookup for the role failed
# description: >-
#   An IAM lookup was made and failed (access denied, throttled, timed out): every deny-level
#   rule that needed the facts is unanswered, so by default this denies (fail closed).
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
	some field in role_fields
	role := input.task_roles[field]
	role.status == "unknown"
	role.source == "iam"
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/%s", [field]),
		"message": sprintf(
			"the IAM lookup for %s failed%s; its trust policy and permissions could not be checked",
			[lib.role_label(field, role), reason_words(role)],
		),
	}
}

# METADATA
# title: Facts about the role are not available, so its rules were not checked
# description: >-
#   No facts were available (no lookup configured, none supplied, or only some of them): say
#   which rules went unchecked instead of finding nothing and allowing.
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
	some field, value in role_references
	value != ""
	role := task_role(field)
	object.get(role, "valid", true) != false
	object.get(role, "status", "unknown") != "missing"
	[object.get(role, "status", ""), object.get(role, "source", "")] != ["unknown", "iam"]
	not field in placeholder_fields
	gaps := [label |
		some [key, label] in fact_kinds[field]
		# Neither an object nor an array: not known.
		type_name(object.get(role, key, null)) in {"null", "boolean", "number", "string", "set"}
	]
	count(gaps) > 0
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/%s", [field]),
		"message": sprintf(
			"facts about %s %s (%s) are not available (%s)%s: the rules that need them were not checked",
			[lib.role_kind[field], role_name_or(role, value), field, concat(", ", gaps), reason_words(role)],
		),
	}
}

role_fields := ["taskRoleArn", "executionRoleArn"]

# The role fields the task definition sets, as written: {field: value}.
role_references[field] := value if {
	some field in role_fields
	value := input.task_definition[field]
	is_string(value)
}

# The role fields left as template placeholders, judged once for the three rules that ask.
placeholder_fields := {field | some field, value in role_references; lib.is_placeholder(value)}

# What the gate found out about the role in `field` (input.task_roles), or nothing.
task_role(field) := object.get(object.get(input, "task_roles", {}), field, {})

trusted_accounts := {account | some account in object.get(lib.config, "trusted_accounts", [])}

# The commonest cause in real repositories: an account id left as ACCOUNT_ID or XXXXXXXXXXXX.
invalid_hint(reference) := sprintf(" (the account part %s is not a 12-digit account id)", [account]) if {
	startswith(reference, "arn:")
	parts := split(reference, ":")
	count(parts) > 4
	account := parts[4]
	not regex.match(`^[0-9]{12}$`, account)
} else := ""

same_account(a, b) if a == b

same_account(a, _) if not is_string(a)

same_account(_, b) if not is_string(b)

# What a gap is called in ECS-ROLE-007's message, per role field: [fact key, words].
fact_kinds := {
	"taskRoleArn": [["trust_policy", "trust policy"], ["permissions", "permissions"]],
	"executionRoleArn": [["trust_policy", "trust policy"], ["permissions", "permissions"], ["access", "what it can read for the task"]],
}

role_name_or(role, reference) := role.name if is_string(role.name) else := reference

reason_words(role) := sprintf(": %s", [role.reason]) if lib.non_empty_string(role.reason) else := ""
