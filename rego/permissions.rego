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

check(doc) := task_role_findings(doc) | execution_beyond_baseline(doc)

# The evaluator's summary for a role, or undefined when its policies are unknown.
permissions(doc, field) := perms if {
	perms := object.get(object.get(object.get(doc, "task_roles", {}), field, {}), "permissions", null)
	is_object(perms)
}

# ECS-PERM-001: every container in the task, and anything that reaches it, is an administrator.
# ECS-PERM-002: a combination of permissions that lets the task grant itself more (Rhino Security
#   Labs / Cloudsplaining methods, including passing a role to a new ECS task); one per role,
#   naming every path (an administrator role has dozens: one finding each would bury the rest).
# ECS-PERM-003: iam:PassRole on "*" lets the task hand any role in the account to a service it
#   can drive (the first half of most escalation paths).
# ECS-PERM-004: sts:AssumeRole on "*" lets the task become any role that trusts its account.
# ECS-PERM-005: reading every secret, parameter or key in the account, rather than its own.
task_role_findings(doc) := {f |
	perms := permissions(doc, "taskRoleArn")
	label := lib.role_label("taskRoleArn", doc.task_roles.taskRoleArn)
	some finding in (({finding |
		perms.admin_equivalent == true
		finding := {"rule": "ECS-PERM-001", "message": concat("", [
			label, " has administrator-equivalent permissions (\"*\" or iam:* on every resource): ",
			"anyone who gets code into this task owns the account",
		])}
	} | {finding |
		paths := object.get(perms, "escalation_paths", [])
		count(paths) > 0
		finding := {"rule": "ECS-PERM-002", "message": escalation_message(label, paths)}
	}) | ({finding |
		perms.passrole_any == true
		finding := {"rule": "ECS-PERM-003", "message": concat("", [
			label, " may pass any role (iam:PassRole on \"*\"): limit Resource to the roles it hands out, ",
			"or add an iam:PassedToService condition",
		])}
	} | {finding |
		perms.assumerole_any == true
		finding := {"rule": "ECS-PERM-004", "message": concat("", [
			label, " may assume any role (sts:AssumeRole on \"*\"): name the roles it needs",
		])}
	})) | {finding |
		grants := object.get(perms, "wildcard_data_access", [])
		count(grants) > 0
		described := sort([concat("", [object.get(g, "action", "?"), " on ", object.get(g, "resource", "?")]) | some g in grants])
		finding := {"rule": "ECS-PERM-005", "message": concat("", [
			label, " can read secrets or keys it does not name: ", lib.join_limited(described, 5),
		])}
	}
	f := object.union(finding, {"path": "/taskRoleArn"})
}

escalation_message(label, paths) := concat("", [label, " can escalate its privileges (", path_words(paths[0]), ")", description_words(paths[0])]) if {
	count(paths) == 1
} else := concat("", [
	label, " can escalate its privileges ", format_int(count(paths), 10), " ways: ",
	lib.join_limited(sort([words | some path in paths; words := path_words(path)]), 5),
])

path_words(path) := concat("", [object.get(path, "id", "?"), ": ", concat(" + ", object.get(path, "actions", []))])

description_words(path) := concat("", [": ", path.description]) if lib.non_empty_string(path.description) else := ""

# ECS-PERM-006: the execution role should hold AmazonECSTaskExecutionRolePolicy plus read access
# to the task's own secrets, parameters and environment files; anything more serves no purpose.
execution_beyond_baseline(doc) := {f |
	perms := permissions(doc, "executionRoleArn")
	extra := object.get(perms, "beyond_execution_baseline", [])
	count(extra) > 0
	f := {"rule": "ECS-PERM-006", "path": "/executionRoleArn", "message": concat("", [
		lib.role_label("executionRoleArn", doc.task_roles.executionRoleArn),
		" grants more than AmazonECSTaskExecutionRolePolicy and the task's own secrets: ",
		lib.join_limited(sort(extra), 8),
	])}
}
