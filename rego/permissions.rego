# What the roles' permission policies let the task do, as judged by the IAM policy evaluator.
#
# input.task_roles.<field>.permissions is computed in Python from the role's policies and its
# permissions boundary (README "The policy input"):
#   {admin_equivalent, escalation_paths: [{id, actions, description}], passrole_any,
#    assumerole_any, wildcard_data_access: [{action, resource}], beyond_execution_baseline: [action]}
# It is null when the policies are unknown; these rules then stay silent and ECS-ROLE-006/007
# report the gap instead of guessing.

# METADATA
# title: Permissions
package ecs.checks.permissions

import rego.v1

import data.ecs.lib

# What the functions below report, worked out once; each annotated `findings` rule
# below takes the findings of its own rule id (rego.metadata.rule()).
reported := check(input)

# METADATA
# title: Task role has administrator-equivalent permissions
# custom:
#   id: ECS-PERM-001
#   severity: critical
#   enforcement: deny
#   remediation: >-
#     Replace the broad grants with the actions and resources the application calls; never attach AdministratorAccess
#     or "*"/"iam:*" on "*" to a task role.
#   docs: https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege
#   anchors:
#   - Security Hub IAM.1
#   - Checkov CKV_AWS_274
#   - Checkov CKV_AWS_1 / CKV_AWS_62
#   - Prowler iam_role_administratoraccess_policy
#   beyond_anchors: >-
#     Those judge one policy document or one attachment at a time; here the task role's effective permissions
#     (all its policies, explicit denies, its permissions boundary) are judged at the moment the role
#     is handed to containers.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Task role has a privilege-escalation path
# custom:
#   id: ECS-PERM-002
#   severity: critical
#   enforcement: deny
#   remediation: >-
#     Remove one action of the listed combination (usually iam:PassRole on "*", iam:Put*/Attach*, iam:CreatePolicyVersion)
#     or scope it to specific resources.
#   docs: https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege
#   anchors:
#   - Checkov CKV_AWS_286 / CKV_AWS_110 (Cloudsplaining)
#   - Prowler iam_policy_allows_privilege_escalation
#   - Prowler iam_inline_policy_allows_privilege_escalation
#   - Parliament PRIVILEGE_ESCALATION
#   beyond_anchors: >-
#     Per-policy checks miss a path whose actions are split across two policies of the same role; the
#     ECS paths (iam:PassRole + ecs:RegisterTaskDefinition + ecs:RunTask/CreateService/StartTask) are
#     included.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Task role may pass any role (iam:PassRole on *)
# custom:
#   id: ECS-PERM-003
#   severity: medium
#   enforcement: warn
#   remediation: >-
#     Limit iam:PassRole to the roles it hands out, or add an iam:PassedToService condition.
#   docs: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
#   anchors:
#   - Trivy AWS-0342
#   - KICS e39bee8c-fe54-4a3f-824d-e5e2d1cca40a
#   - IAM Access Analyzer PASS_ROLE_WITH_STAR_IN_RESOURCE
#   beyond_anchors: Judged on the role's effective permissions rather than one statement.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Task role may assume any role (sts:AssumeRole on *)
# custom:
#   id: ECS-PERM-004
#   severity: medium
#   enforcement: warn
#   remediation: Name the roles the task assumes in the Resource element.
#   docs: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_permissions-to-switch.html
#   anchors:
#   - Prowler iam_no_custom_policy_permissive_role_assumption
#   beyond_anchors: >-
#     Prowler checks customer-managed policies only; inline and AWS-managed grants count here.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Task role can read secrets or keys it does not name
# custom:
#   id: ECS-PERM-005
#   severity: medium
#   enforcement: warn
#   remediation: >-
#     Scope secretsmanager:GetSecretValue, ssm:GetParameter*, kms:Decrypt and similar to the ARNs the
#     application reads.
#   docs: https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege
#   anchors:
#   - Checkov CKV_AWS_288 / CKV_AWS_108 (Cloudsplaining data exfiltration)
#   - Checkov CKV_AWS_355 / CKV_AWS_356
#   beyond_anchors: >-
#     Judged on the role's effective permissions rather than one policy document.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Execution role grants more than the agent needs
# custom:
#   id: ECS-PERM-006
#   severity: medium
#   enforcement: warn
#   remediation: >-
#     Keep the execution role to AmazonECSTaskExecutionRolePolicy plus read access to this task's secrets,
#     parameters and environment files; move anything else to the task role (or drop it).
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html
#   beyond_anchors: No anchor compares an execution role with the AWS managed baseline.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

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
