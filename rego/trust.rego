# Role trust: who can assume the task role and the execution role.
#
# Read from input.task_roles.<field>.trust_policy, normalised by the gate (README "The policy
# input"): Statement is a list; Action, NotAction and every principal and condition value are
# lists; "Principal": "*" is {"AWS": ["*"]}. These rules run only when the trust policy is known;
# when it is not, ECS-ROLE-006/007 say so (never a guess).

# METADATA
# title: Role trust
package ecs.checks.trust

import rego.v1

import data.ecs.lib

# METADATA
# title: ECS tasks cannot assume the role
# description: >-
#   ECS cannot hand the role to the task: the task fails to start or runs without the
#   credentials it was meant to have.
# custom:
#   id: ECS-TRUST-001
#   severity: high
#   enforcement: deny
#   remediation: >-
#     Add a trust statement {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
#     "Action": "sts:AssumeRole"} (ecs-tasks, not ecs.amazonaws.com) and remove any unconditional Deny
#     that covers it.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
#   beyond_anchors: >-
#     No scanner checks that a task or execution role trusts ecs-tasks.amazonaws.com; roles trusting
#     ecs.amazonaws.com (the ECS service) instead are common in real repositories and fail only when
#     a task starts.
findings contains finding if {
	some field, role in known_roles
	not field in ecs_assumable
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": role_path(field),
		"message": sprintf(
			"%s: its trust policy does not let %s assume it with sts:AssumeRole%s",
			[lib.role_label(field, role), ecs_tasks, trust_hint(role)],
		),
	}
}

# METADATA
# title: Role can be assumed by principals broader than ECS tasks
# description: >-
#   Anything broader than ECS tasks can take the role's credentials.
# custom:
#   id: ECS-TRUST-002
#   severity: critical
#   enforcement: deny
#   remediation: >-
#     Trust only ecs-tasks.amazonaws.com. Remove "*" principals (or restrict them with aws:PrincipalOrgID
#     / aws:PrincipalArn), other accounts' principals (or add the account to config trusted_accounts),
#     other service principals and federated identities; give them their own roles.
#   docs: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
#   anchors:
#   - Checkov CKV_AWS_60
#   - Checkov CKV_AWS_61
#   - >-
#     KICS bcdcbdc6-a350-4855-ae7c-d1e6436f7c97 (IAM Role Allows Public Assume)
#   - >-
#     KICS 12b7e704-37f0-4d1e-911a-44bf60c48c21 (IAM Role Allows All Principals To Assume)
#   - >-
#     Cloudsplaining AssumableByAnyPrincipal / AssumableByCrossAccountPrincipal
#   - >-
#     IAM Access Analyzer CheckNoPublicAccess (AWS::IAM::AssumeRolePolicyDocument)
#   beyond_anchors: >-
#     CKV_AWS_60 matches only Principal.AWS == "*" (the `"Principal": "*"` shorthand is normalised here)
#     and ignores conditions; CKV_AWS_61 flags any whole-account principal, your own account included,
#     and misses specific roles of other accounts. Neither looks at extra service principals (ec2, lambda,
#     ecs.amazonaws.com) or federated identities, nor knows the deploy account or a list of trusted
#     accounts.
findings contains finding if {
	some grant, reason in grant_denials
	finding := grant_finding(rego.metadata.rule().custom.id, grant, sprintf(" lets %s assume it", [reason]))
}

# METADATA
# title: >-
#   Trust statement grants wildcard actions, or uses NotPrincipal or NotAction with Allow
# description: >-
#   Wildcard actions, NotAction or NotPrincipal in an Allow hand out more than the one action to
#   the one principal that ECS needs.
# custom:
#   id: ECS-TRUST-003
#   severity: high
#   enforcement: deny
#   remediation: >-
#     Use "Action": "sts:AssumeRole" (plus sts:TagSession if sessions are tagged) with a Principal element;
#     never NotPrincipal or NotAction in an Allow statement of a trust policy.
#   docs: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
#   anchors:
#   - Parliament NOTPRINCIPAL_WITH_ALLOW
#   beyond_anchors: >-
#     Parliament flags NotPrincipal with Allow; no scanner we found flags sts:*, "*" or NotAction in
#     a role's trust policy, which let the trusted principal call every STS action on the role.
findings contains finding if {
	some [key, problem] in statement_problems
	[field, index] := key
	stmt := allow_statements[key]
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": role_path(field),
		"message": sprintf("%s: %s %s", [lib.role_label(field, known_roles[field]), statement_label(stmt, index), problem]),
	}
}

# METADATA
# title: ECS trust has no confused-deputy condition, or one that cannot be judged
# description: >-
#   Without aws:SourceAccount / aws:SourceArn (or aws:SourceOrgID) any account's ECS could be
#   tricked into assuming the role (confused deputy). An account left as a template variable
#   (${account_id}) cannot be compared yet; one that names another account is ECS-TRUST-006.
# custom:
#   id: ECS-TRUST-004
#   severity: medium
#   enforcement: warn
#   remediation: >-
#     Add "Condition": {"StringEquals": {"aws:SourceAccount": "<deploy account>"}, "ArnLike": {"aws:SourceArn":
#     "arn:aws:ecs:<region>:<deploy account>:*"}} to the ecs-tasks statement, with the account the task
#     is deployed to.
#   docs: https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
#   anchors:
#   - Prowler iam_role_cross_service_confused_deputy_prevention
#   beyond_anchors: >-
#     Prowler asks whether any restrictive condition exists (its helper also accepts keys such as aws:PrincipalOrgID
#     and aws:ResourceAccount); it does not compare the account in aws:SourceAccount / aws:SourceArn
#     with the account the task is deployed to (an unrendered ${account_id} here, another account in
#     ECS-TRUST-006). Negated operators, ...IfExists, ForAllValues and wildcard values do not count as a
#     restriction here.
findings contains finding if {
	some key, stmt in ecs_statements
	problem := deputy_problem(key)
	[field, index] := key
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": role_path(field),
		"message": sprintf("%s: %s %s", [lib.role_label(field, known_roles[field]), statement_label(stmt, index), problem]),
	}
}

# METADATA
# title: Other principals in the account can also assume the role
# description: >-
#   Principals inside the deploy account (or a trusted one) that can also assume the role.
# custom:
#   id: ECS-TRUST-005
#   severity: low
#   enforcement: warn
#   remediation: >-
#     Keep the task's role for the task: give people and pipelines their own roles, and remove the account
#     root or specific users/roles from the trust policy.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
#   anchors:
#   - Checkov CKV_AWS_61
#   - Cloudsplaining AssumableByAnyPrincipalWithConditions
#   beyond_anchors: >-
#     CKV_AWS_61 flags whole-account principals only; a specific user or role of the same account that
#     can assume the task role (and act with its permissions outside ECS) is flagged by none.
findings contains finding if {
	some grant in grants
	not grant_denials[grant]
	reason := warn_reason(grant)
	finding := grant_finding(
		rego.metadata.rule().custom.id,
		grant,
		sprintf(" also lets %s assume it and act with its permissions outside ECS", [reason]),
	)
}

# METADATA
# title: ECS trust is limited to another account, so the deploy account's tasks cannot assume the role
# description: >-
#   An aws:SourceAccount or aws:SourceArn condition naming an account other than the deploy
#   account: ECS acting for the deploy account can never assume the role, so the task fails to
#   start (or runs without its credentials) at run time. Denied before the deploy, not found after.
# custom:
#   id: ECS-TRUST-006
#   severity: high
#   enforcement: deny
#   remediation: >-
#     Put the account the task is deployed to in the ecs-tasks statement's aws:SourceAccount (and in the
#     account field of aws:SourceArn), or deploy the task to the account the role trusts.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html#create_task_iam_policy_and_role
#   anchors:
#   - Prowler iam_role_cross_service_confused_deputy_prevention
#   beyond_anchors: >-
#     Prowler passes any restrictive condition; none of the scanners compares the account in
#     aws:SourceAccount / aws:SourceArn with the account the task is deployed to, which decides whether
#     ECS can assume the role at all.
findings contains finding if {
	some key, accounts in source_accounts
	count(accounts.rendered) > 0
	[field, index] := key
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": role_path(field),
		"message": sprintf(
			"%s: %s limits %s to %s, not the deploy account %s: ECS tasks in the deploy account cannot assume it",
			[
				lib.role_label(field, known_roles[field]), statement_label(ecs_statements[key], index), ecs_tasks,
				concat(", ", sort(accounts.rendered)), accounts.home,
			],
		),
	}
}

role_fields := ["taskRoleArn", "executionRoleArn"]

ecs_tasks := "ecs-tasks.amazonaws.com"

# The STS actions that hand out the role's credentials.
assume_actions := ["sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity"]

# Roles whose trust policy is known, with their field: {field: role}.
known_roles[field] := role if {
	some field in role_fields
	role := input.task_roles[field]
	is_object(role.trust_policy)
}

trusted_accounts := {account | some account in object.get(lib.config, "trusted_accounts", [])}

statements(role) := object.get(role.trust_policy, "Statement", [])

# IAM action names are case-insensitive and take * and ? wildcards.
action_matches(patterns, action) if {
	some pattern in patterns
	glob.match(lower(pattern), [], action)
}

statement_covers(stmt, action) if action_matches(object.get(stmt, "Action", []), action)

statement_covers(stmt, action) if {
	not_actions := object.get(stmt, "NotAction", null)
	is_array(not_actions)
	not action_matches(not_actions, action)
}

# Asked of Allow statements only (assume_statements).
grants_assume(stmt) if {
	some action in assume_actions
	statement_covers(stmt, action)
}

names_ecs_tasks(principal) if {
	some service in object.get(principal, "Service", [])
	lower(service) == ecs_tasks
}

# The rules read the statements through the documents below, each worked out once per decision
# (OPA keeps a complete rule's value for the rest of the query, where a function runs again at each
# call and a partial rule looked up by key runs again per key), keyed by [field, index] so a
# finding looks its role and statement up instead of scanning the policies again.

# The Allow statements of the known trust policies: {[field, index]: statement}.
allow_statements := {[field, index]: stmt |
	some field, role in known_roles
	some index, stmt in statements(role)
	stmt.Effect == "Allow"
}

# Those that let ECS tasks assume the role: ecs-tasks.amazonaws.com with sts:AssumeRole.
ecs_statements := {key: stmt |
	some key, stmt in allow_statements
	names_ecs_tasks(object.get(stmt, "Principal", {}))
	statement_covers(stmt, "sts:assumerole")
}

# Those that hand out the role's credentials (any of the assume actions): {[field, index]}.
assume_statements := {key |
	some key, stmt in allow_statements
	grants_assume(stmt)
}

# The roles ECS tasks can assume: an Allow for ecs-tasks.amazonaws.com with sts:AssumeRole, not
# undone by an unconditional Deny. {field}
ecs_assumable := {field |
	some key, _ in ecs_statements
	field := key[0]
	not ecs_denied(known_roles[field])
}

# The restricting conditions on who may assume, per Allow statement: {[field, index]: [{key, values}]}.
# The narrower key sets (confused deputy, source account) are filtered from these.
identity_conditions := {key: conditions_on(stmt, identity_keys) | some key, stmt in allow_statements}

# The ECS statements with an aws:SourceAccount / aws:SourceArn (or aws:SourceOrgID) condition.
deputy_conditioned := {key |
	some key, _ in ecs_statements
	some c in identity_conditions[key]
	c.key in confused_deputy_keys
}

# The accounts other than the deploy account that each ECS statement's aws:SourceAccount /
# aws:SourceArn names, split into written accounts and unrendered ones (${account_id}):
# {[field, index]: {home, rendered, unrendered}}, only where the deploy account is known.
source_accounts := {key: {"home": home, "rendered": rendered, "unrendered": unrendered} |
	some key, _ in ecs_statements
	home := lib.home_account(known_roles[key[0]])
	foreign := {account |
		some c in identity_conditions[key]
		c.key in source_keys
		some value in c.values
		account := condition_account(c.key, value)
		account != home
		not regex.match(`[*?]`, account)
	}
	unrendered := {account | some account in foreign; lib.is_placeholder(account)}
	rendered := foreign - unrendered
}

ecs_denied(role) if {
	some stmt in statements(role)
	stmt.Effect == "Deny"
	not stmt.Condition
	deny_reaches_ecs(stmt)
	statement_covers(stmt, "sts:assumerole")
}

deny_reaches_ecs(stmt) if names_ecs_tasks(object.get(stmt, "Principal", {}))

deny_reaches_ecs(stmt) if "*" in object.get(stmt, ["Principal", "AWS"], [])

deny_reaches_ecs(stmt) if {
	not_principal := object.get(stmt, "NotPrincipal", null)
	is_object(not_principal)
	not names_ecs_tasks(not_principal)
}

statement_label(stmt, index) := sprintf("trust statement %d (Sid %s)", [index, stmt.Sid]) if {
	lib.non_empty_string(stmt.Sid)
} else := sprintf("trust statement %d", [index])

role_path(field) := sprintf("/%s", [field])

trust_hint(role) := "; it trusts ecs.amazonaws.com, the ECS service itself, not the tasks' principal ecs-tasks.amazonaws.com" if {
	some stmt in statements(role)
	some service in object.get(stmt, ["Principal", "Service"], [])
	lower(service) == "ecs.amazonaws.com"
} else := "; an unconditional Deny statement blocks it" if {
	ecs_denied(role)
} else := ""

# Statements that hand out the role's credentials, one per principal: {field, index, kind, value}.
grants := {grant |
	some key, stmt in allow_statements
	some kind, values in object.get(stmt, "Principal", {})
	some value in values
	# ecs-tasks.amazonaws.com itself is what the role is for: no principal finding can come of it.
	[kind, lower(value)] != ["Service", ecs_tasks]
	key in assume_statements
	grant := {"field": key[0], "index": key[1], "kind": kind, "value": value}
}

# The grants that deny, with the reason (ECS-TRUST-002); the rest may warn (ECS-TRUST-005).
grant_denials := {grant: reason |
	some grant in grants
	reason := deny_reason(grant)
}

grant_finding(rule, grant, text) := {
	"rule": rule,
	"path": role_path(grant.field),
	"message": sprintf("%s: %s%s", [
		lib.role_label(grant.field, known_roles[grant.field]),
		statement_label(allow_statements[[grant.field, grant.index]], grant.index),
		text,
	]),
}

deny_reason(grant) := sprintf("the service %s", [grant.value]) if {
	grant.kind == "Service"
	lower(grant.value) != ecs_tasks
} else := sprintf("federated identities from %s", [grant.value]) if {
	grant.kind == "Federated"
} else := sprintf("the %s principal %s", [grant.kind, grant.value]) if {
	not grant.kind in {"AWS", "Service", "Federated"}
} else := "any AWS principal in any account (\"*\" without a condition that restricts who)" if {
	grant.kind == "AWS"
	grant.value == "*"
	count(identity_conditions[[grant.field, grant.index]]) == 0
} else := sprintf("%s, outside the deploy account and config trusted_accounts,", [principal_words(grant.value, account)]) if {
	grant.kind == "AWS"
	account := principal_account(grant.value)
	account != lib.home_account(known_roles[grant.field])
	not account in trusted_accounts
}

warn_reason(grant) := "any AWS principal that satisfies its condition" if {
	grant.kind == "AWS"
	grant.value == "*"
} else := principal_words(grant.value, account) if {
	grant.kind == "AWS"
	account := principal_account(grant.value)
	lib.home_account(known_roles[grant.field])
} else := sprintf("%s (its account could not be compared with the deploy account)", [grant.value]) if {
	grant.kind == "AWS"
}

# A whole account (its root or bare id) delegates to every principal there that IAM lets assume roles.
principal_words(value, account) := sprintf("every principal in account %s (%s)", [account, value]) if {
	regex.match(`^(arn:[a-z-]+:iam::[0-9]{12}:root|[0-9]{12})$`, value)
} else := value

principal_account(value) := value if regex.match(`^[0-9]{12}$`, value)

principal_account(value) := parts[4] if {
	startswith(value, "arn:")
	parts := split(value, ":")
	count(parts) > 5
}
# Condition keys that pin who may assume a role, read case-insensitively as IAM does.
identity_keys := {
	"aws:principalorgid", "aws:principalorgpaths", "aws:principalaccount", "aws:principalarn", "aws:userid",
	"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths",
}

confused_deputy_keys := {"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"}

source_keys := {"aws:sourceaccount", "aws:sourcearn"}

# Operators that require the key to be present and to match. Negated operators (StringNotEquals),
# …IfExists (true when the key is absent) and ForAllValues (true for an absent key) do not restrict.
restricting_operators := {
	"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike",
	"foranyvalue:stringequals", "foranyvalue:stringequalsignorecase", "foranyvalue:stringlike",
}

# [{key, values}] for the restricting conditions on `keys`, with specific (non-wildcard) values.
conditions_on(stmt, keys) := [c |
	some operator, block in object.get(stmt, "Condition", {})
	lower(operator) in restricting_operators
	some key, values in block
	lowered := lower(key)
	lowered in keys
	count(values) > 0
	every value in values {
		# A string that is not "*", "?*" or an ARN whose account (its fifth field) is a wildcard
		# or empty: those match anyone.
		is_string(value)
		not regex.match(wildcard_value_pattern, value)
	}
	c := {"key": lowered, "values": values}
]

wildcard_value_pattern := `^[*?]*$|^arn:[^:]*:[^:]*:[^:]*:[*?]*(:|$)`

# What an Allow statement hands out beyond sts:AssumeRole to its principal: {[[field, index], problem]}.
statement_problems contains [key, "uses NotPrincipal with Allow: every principal not listed can assume the role"] if {
	some key, stmt in allow_statements
	is_object(stmt.NotPrincipal)
}

statement_problems contains [key, "uses NotAction with Allow: it grants every action not listed"] if {
	some key, stmt in allow_statements
	is_array(stmt.NotAction)
}

statement_problems contains [key, problem] if {
	some key, stmt in allow_statements
	some action in object.get(stmt, "Action", [])
	regex.match(`[*?]`, action)
	problem := sprintf("grants the wildcard action %s: name sts:AssumeRole (and sts:TagSession if needed) instead", [action])
}

deputy_problem(key) := sprintf(
	"lets %s assume it without an aws:SourceAccount or aws:SourceArn condition (confused deputy: ECS acting for another account could assume it)",
	[ecs_tasks],
) if {
	not key in deputy_conditioned
} else := sprintf(
	"limits %s to %s, not the deploy account %s: an unrendered account cannot be compared, and ECS tasks in the deploy account cannot assume it as written",
	[ecs_tasks, concat(", ", sort(accounts.unrendered)), accounts.home],
) if {
	accounts := source_accounts[key]
	count(accounts.unrendered) > 0
}

condition_account("aws:sourceaccount", value) := value

condition_account("aws:sourcearn", value) := parts[4] if {
	parts := split(value, ":")
	count(parts) > 4
}
