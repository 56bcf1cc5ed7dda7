# What the roles' permission policies let the task do, as judged by the IAM policy evaluator.
#
# input.task_roles.<field>.permissions is computed in Python from the role's policies and its
# permissions boundary (README "The policy input"):
#   {admin_equivalent, escalation_paths: [{id, actions, description}], passrole_any,
#    assumerole_any, wildcard_data_access: [{action, resource}], beyond_execution_baseline: [action]}
# It is null when the policies are unknown; these rules then stay silent and ECS-ROLE-006/007
# report the gap instead of guessing.
package ecs.checks.permissions

import rego.v1

import data.ecs.lib

findings := check(input)

check(doc) := (((admin(doc) | escalation(doc)) | passrole_any(doc)) | assumerole_any(doc)) | (wildcard_data(doc) | execution_beyond_baseline(doc))

permissions(doc, field) := perms if {
	perms := object.get(lib.task_roles(doc), [field, "permissions"], null)
	is_object(perms)
}

task_role(doc) := lib.task_roles(doc).taskRoleArn

# ECS-PERM-001: every container in the task, and anything that reaches it, is an administrator.
admin(doc) := {f |
	permissions(doc, "taskRoleArn").admin_equivalent == true
	f := lib.finding("ECS-PERM-001", "/taskRoleArn", concat("", [
		lib.role_label("taskRoleArn", task_role(doc)),
		" has administrator-equivalent permissions (\"*\" or iam:* on every resource): ",
		"anyone who gets code into this task owns the account",
	]))
}

# ECS-PERM-002: a combination of permissions that lets the task grant itself more (Rhino Security
# Labs / Cloudsplaining methods, including passing a role to a new ECS task).
escalation(doc) := {f |
	paths := object.get(permissions(doc, "taskRoleArn"), "escalation_paths", [])
	some path in paths
	f := lib.finding("ECS-PERM-002", "/taskRoleArn", concat("", [
		lib.role_label("taskRoleArn", task_role(doc)), " can escalate its privileges (", object.get(path, "id", "?"),
		": ", concat(" + ", object.get(path, "actions", [])), ")", description_words(path),
	]))
}

description_words(path) := concat("", [": ", path.description]) if lib.non_empty_string(path.description) else := ""

# ECS-PERM-003: iam:PassRole on "*" lets the task hand any role in the account to a service it
# can drive (the first half of most escalation paths).
passrole_any(doc) := {f |
	permissions(doc, "taskRoleArn").passrole_any == true
	f := lib.finding("ECS-PERM-003", "/taskRoleArn", concat("", [
		lib.role_label("taskRoleArn", task_role(doc)),
		" may pass any role (iam:PassRole on \"*\"): limit Resource to the roles it hands out, ",
		"or add an iam:PassedToService condition",
	]))
}

# ECS-PERM-004: sts:AssumeRole on "*" lets the task become any role that trusts its account.
assumerole_any(doc) := {f |
	permissions(doc, "taskRoleArn").assumerole_any == true
	f := lib.finding("ECS-PERM-004", "/taskRoleArn", concat("", [
		lib.role_label("taskRoleArn", task_role(doc)),
		" may assume any role (sts:AssumeRole on \"*\"): name the roles it needs",
	]))
}

# ECS-PERM-005: reading every secret, parameter or key in the account, rather than its own.
wildcard_data(doc) := {f |
	grants := object.get(permissions(doc, "taskRoleArn"), "wildcard_data_access", [])
	count(grants) > 0
	described := sort([concat("", [object.get(g, "action", "?"), " on ", object.get(g, "resource", "?")]) | some g in grants])
	f := lib.finding("ECS-PERM-005", "/taskRoleArn", concat("", [
		lib.role_label("taskRoleArn", task_role(doc)), " can read secrets or keys it does not name: ",
		lib.join_limited(described, 5),
	]))
}

# ECS-PERM-006: the execution role should hold AmazonECSTaskExecutionRolePolicy plus read access
# to the task's own secrets, parameters and environment files; anything more serves no purpose.
execution_beyond_baseline(doc) := {f |
	extra := object.get(permissions(doc, "executionRoleArn"), "beyond_execution_baseline", [])
	count(extra) > 0
	f := lib.finding("ECS-PERM-006", "/executionRoleArn", concat("", [
		lib.role_label("executionRoleArn", lib.task_roles(doc).executionRoleArn),
		" grants more than AmazonECSTaskExecutionRolePolicy and the task's own secrets: ",
		lib.join_limited(sort(extra), 8),
	]))
}
