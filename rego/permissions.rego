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

# METADATA
# title: Task role has administrator-equivalent permissions
# description: >-
#   Every container in the task, and anything that reaches it, is an administrator.
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
	task_permissions.admin_equivalent == true
	finding := task_role_finding(rego.metadata.rule().custom.id, sprintf(
		"%s has administrator-equivalent permissions (\"*\" or iam:* on every resource): anyone who gets code into this task owns the account",
		[task_role_label],
	))
}

# METADATA
# title: Task role has a privilege-escalation path
# description: >-
#   A combination of permissions that lets the task grant itself more (Rhino Security Labs /
#   Cloudsplaining methods, including passing a role to a new ECS task); one finding per role,
#   naming every path (an administrator role has dozens: one finding each would bury the rest).
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
	paths := object.get(task_permissions, "escalation_paths", [])
	count(paths) > 0
	finding := task_role_finding(rego.metadata.rule().custom.id, escalation_message(paths))
}

# METADATA
# title: Task role may pass any role (iam:PassRole on *)
# description: >-
#   iam:PassRole on "*" lets the task hand any role in the account to a service it can drive
#   (the first half of most escalation paths).
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
	task_permissions.passrole_any == true
	finding := task_role_finding(rego.metadata.rule().custom.id, sprintf(
		"%s may pass any role (iam:PassRole on \"*\"): limit Resource to the roles it hands out, or add an iam:PassedToService condition",
		[task_role_label],
	))
}

# METADATA
# title: Task role may assume any role (sts:AssumeRole on *)
# description: >-
#   sts:AssumeRole on "*" lets the task become any role that trusts its account.
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
	task_permissions.assumerole_any == true
	finding := task_role_finding(rego.metadata.rule().custom.id, sprintf(
		"%s may assume any role (sts:AssumeRole on \"*\"): name the roles it needs",
		[task_role_label],
	))
}

# METADATA
# title: Task role can read secrets or keys it does not name
# description: >-
#   Reading every secret, parameter or key in the account, rather than its own.
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
	grants := object.get(task_permissions, "wildcard_data_access", [])
	count(grants) > 0
	described := sort([sprintf("%s on %s", [object.get(g, "action", "?"), object.get(g, "resource", "?")]) | some g in grants])
	finding := task_role_finding(rego.metadata.rule().custom.id, sprintf(
		"%s can read secrets or keys it does not name: %s",
		[task_role_label, lib.join_limited(described, 5)],
	))
}

# METADATA
# title: Execution role grants more than the agent needs
# description: >-
#   The execution role should hold AmazonECSTaskExecutionRolePolicy plus read access to the
#   task's own secrets, parameters and environment files; anything more serves no purpose.
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
	extra := object.get(role_permissions("executionRoleArn"), "beyond_execution_baseline", [])
	count(extra) > 0
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": "/executionRoleArn",
		"message": sprintf(
			"%s grants more than AmazonECSTaskExecutionRolePolicy and the task's own secrets: %s",
			[lib.role_label("executionRoleArn", input.task_roles.executionRoleArn), lib.join_limited(sort(extra), 8)],
		),
	}
}

# A role's permissions as the IAM evaluator judged them; undefined when they are unknown.
role_permissions(field) := permissions if {
	permissions := input.task_roles[field].permissions
	is_object(permissions)
}

task_permissions := role_permissions("taskRoleArn")

task_role_label := lib.role_label("taskRoleArn", input.task_roles.taskRoleArn)

task_role_finding(rule, message) := {"rule": rule, "path": "/taskRoleArn", "message": message}

escalation_message(paths) := sprintf("%s can escalate its privileges (%s)%s", [
	task_role_label,
	path_words(paths[0]),
	description_words(paths[0]),
]) if {
	count(paths) == 1
} else := sprintf("%s can escalate its privileges %d ways: %s", [
	task_role_label,
	count(paths),
	lib.join_limited(sort([path_words(path) | some path in paths]), 5),
])

path_words(path) := sprintf("%s: %s", [object.get(path, "id", "?"), concat(" + ", object.get(path, "actions", []))])

description_words(path) := sprintf(": %s", [path.description]) if lib.non_empty_string(path.description) else := ""
