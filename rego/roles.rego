# Role fields themselves, and whether the facts the other role rules need could be had.
#
# input.task_roles has an entry for every role field that is set (README "The policy input"):
# `valid` says whether the value is a role ARN or name, `status` whether IAM facts are known,
# unknown (`reason` says why) or missing (the role does not exist).
package ecs.checks.roles

import rego.v1

import data.ecs.lib

findings := check_with(input, lib.settings(lib.config))

check(doc) := check_with(doc, lib.settings({}))

check_with(doc, settings) := ((((placeholders(doc) | invalid(doc)) | cross_account(doc, settings)) | missing(doc)) | same_role(doc)) | (lookup_failed(doc) | facts_unavailable(doc))

role_fields := ["taskRoleArn", "executionRoleArn"]

# ECS-ROLE-001: a pipeline placeholder left in a role field cannot be judged until it is rendered.
placeholders(doc) := {f |
	some field in role_fields
	value := lib.task_definition(doc)[field]
	lib.is_placeholder(value)
	f := lib.finding("ECS-ROLE-001", concat("", ["/", field]), concat("", [
		field, " is the placeholder ", value,
		": the role cannot be checked until the pipeline fills it in",
	]))
}

# ECS-ROLE-002: ECS rejects it at best; at worst a typo names a different role than intended.
invalid(doc) := {f |
	some field in role_fields
	role := lib.task_roles(doc)[field]
	role.valid == false
	value := object.get(lib.task_definition(doc), field, "")
	not lib.is_placeholder(value)
	f := lib.finding("ECS-ROLE-002", concat("", ["/", field]), concat("", [
		field, " is ", object.get(role, "reference", "?"),
		", which is neither an IAM role ARN (arn:aws:iam::<account>:role/<name>) nor a role name",
	]))
}

# ECS-ROLE-003: a role from another account than the deploy account, unless that account is trusted.
cross_account(doc, settings) := {f |
	deploy := lib.deploy_account(doc)
	some field in role_fields
	role := lib.task_roles(doc)[field]
	role_account := object.get(role, "account", "")
	lib.non_empty_string(role_account)
	role_account != deploy
	trusted := settings.trusted_accounts
	not role_account in trusted
	f := lib.finding("ECS-ROLE-003", concat("", ["/", field]), concat("", [
		lib.role_label(field, role), " is in account ", role.account, ", not the deploy account ", deploy,
		", and that account is not in config trusted_accounts",
	]))
}

# ECS-ROLE-004: IAM says the role does not exist: tasks would fail to start (or, worse, a role of
# that name created later by someone else would be used).
missing(doc) := {f |
	some field in role_fields
	role := lib.task_roles(doc)[field]
	role.status == "missing"
	f := lib.finding("ECS-ROLE-004", concat("", ["/", field]), concat("", [
		lib.role_label(field, role), " does not exist", reason_words(role),
	]))
}

# ECS-ROLE-005: one role for both jobs gives the containers the agent's permissions (every
# secret, every image) and the agent the application's.
same_role(doc) := {f |
	task := lib.task_roles(doc).taskRoleArn
	execution := lib.task_roles(doc).executionRoleArn
	same_identity(task, execution)
	f := lib.finding("ECS-ROLE-005", "/executionRoleArn", concat("", [
		"taskRoleArn and executionRoleArn both name ", lib.role_display(task),
		": the containers get every permission the agent has (all the task's secrets and images)",
	]))
}

# IAM role names are unique per account regardless of path and case.
same_identity(a, b) if {
	lib.non_empty_string(a.name)
	lower(a.name) == lower(b.name)
	same_account(a.account, b.account)
}

same_account(a, b) if a == b

same_account(a, b) if not lib.non_empty_string(a)

same_account(a, b) if not lib.non_empty_string(b)

# ECS-ROLE-006: an IAM lookup was made and failed (access denied, throttled, timed out): every
# deny-level rule that needed the facts is unanswered, so by default this denies (fail closed).
lookup_failed(doc) := {f |
	some field in role_fields
	role := lib.task_roles(doc)[field]
	role.status == "unknown"
	role.source == "iam"
	f := lib.finding("ECS-ROLE-006", concat("", ["/", field]), concat("", [
		"the IAM lookup for ", lib.role_label(field, role), " failed", reason_words(role),
		"; its trust policy and permissions could not be checked",
	]))
}

# ECS-ROLE-007: no facts were available (no lookup configured, none supplied, or only some of
# them): say which rules went unchecked instead of finding nothing and allowing.
facts_unavailable(doc) := {f |
	some field in role_fields
	value := lib.task_definition(doc)[field]
	lib.non_empty_string(value)
	not lib.is_placeholder(value)
	role := object.get(lib.task_roles(doc), field, {})
	not role.valid == false
	not role.status == "missing"
	not lookup_failure(role)
	gaps := unknown_facts(field, role)
	count(gaps) > 0
	f := lib.finding("ECS-ROLE-007", concat("", ["/", field]), concat("", [
		"facts about ", lib.role_label(field, object.union({"reference": value}, role)), " are not available (",
		concat(", ", gaps), ")", reason_words(role), ": the rules that need them were not checked",
	]))
}

lookup_failure(role) if {
	role.status == "unknown"
	role.source == "iam"
}

unknown_facts(field, role) := [gap |
	some gap in [
		trust_gap(role),
		permissions_gap(role),
		access_gap(field, role),
	]
	gap != ""
]

trust_gap(role) := "" if is_object(role.trust_policy) else := "trust policy"

permissions_gap(role) := "" if is_object(role.permissions) else := "permissions"

access_gap("executionRoleArn", role) := "" if is_array(role.access) else := "what it can read for the task"

access_gap("taskRoleArn", role) := ""

reason_words(role) := concat("", [": ", role.reason]) if lib.non_empty_string(role.reason) else := ""
