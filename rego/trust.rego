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

# What the functions below report, worked out once; each annotated `findings` rule
# below takes the findings of its own rule id (rego.metadata.rule()).
reported := check_with(input, lib.settings(lib.config))

# METADATA
# title: ECS tasks cannot assume the role
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
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Role can be assumed by principals broader than ECS tasks
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
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: >-
#   Trust statement grants wildcard actions, or uses NotPrincipal or NotAction with Allow
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
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: ECS trust has no confused-deputy condition, or one for another account
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
#     with the account the task is deployed to (a wrong account, or an unrendered ${account_id}, means
#     ECS cannot assume the role). Negated operators, ...IfExists, ForAllValues and wildcard values
#     do not count as a restriction here.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Other principals in the account can also assume the role
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
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

check(doc) := check_with(doc, lib.settings({}))

# The known roles and their grants are worked out once and handed to each rule.
check_with(doc, settings) := evaluate(doc, settings, known_roles(doc))

evaluate(doc, settings, roles) := set() if {
	count(roles) == 0
} else := ((ecs_cannot_assume(roles) | wildcard_grants(roles)) | confused_deputy(doc, roles)) | principal_findings(doc, settings, grants(roles))

role_fields := ["taskRoleArn", "executionRoleArn"]

ecs_tasks := "ecs-tasks.amazonaws.com"

# The STS actions that hand out the role's credentials.
assume_actions := ["sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity"]

# Roles whose trust policy is known, with their field: {field: role}.
known_roles(doc) := {field: role |
	some field in role_fields
	role := doc.task_roles[field]
	is_object(role.trust_policy)
}

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

grants_assume(stmt) if {
	stmt.Effect == "Allow"
	some action in assume_actions
	statement_covers(stmt, action)
}

names_ecs_tasks(principal) if {
	some service in object.get(principal, "Service", [])
	lower(service) == ecs_tasks
}

# An Allow for ecs-tasks.amazonaws.com with sts:AssumeRole, not undone by an unconditional Deny.
ecs_can_assume(role) if {
	some stmt in statements(role)
	stmt.Effect == "Allow"
	names_ecs_tasks(object.get(stmt, "Principal", {}))
	statement_covers(stmt, "sts:assumerole")
	not ecs_denied(role)
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

statement_label(stmt, index) := concat("", ["trust statement ", format_int(index, 10), " (Sid ", stmt.Sid, ")"]) if {
	lib.non_empty_string(stmt.Sid)
} else := concat("", ["trust statement ", format_int(index, 10)])

role_path(field) := concat("", ["/", field])

# ECS-TRUST-001: ECS cannot hand the role to the task: the task fails to start or runs without
# the credentials it was meant to have.
ecs_cannot_assume(roles) := {f |
	some field
	role := roles[field]
	not ecs_can_assume(role)
	f := {"rule": "ECS-TRUST-001", "path": role_path(field), "message": concat("", [
		lib.role_label(field, role), ": its trust policy does not let ", ecs_tasks,
		" assume it with sts:AssumeRole", trust_hint(role),
	])}
}

trust_hint(role) := "; it trusts ecs.amazonaws.com, the ECS service itself, not the tasks' principal ecs-tasks.amazonaws.com" if {
	some stmt in statements(role)
	some service in object.get(stmt, ["Principal", "Service"], [])
	lower(service) == "ecs.amazonaws.com"
} else := "; an unconditional Deny statement blocks it" if {
	ecs_denied(role)
} else := ""

# Statements that hand out the role's credentials, with their principals flattened:
# {field, role, index, stmt, kind, value}.
grants(roles) := {g |
	some field
	role := roles[field]
	stmts := statements(role)
	some index
	stmt := stmts[index]
	grants_assume(stmt)
	principal := object.get(stmt, "Principal", {})
	some kind
	values := principal[kind]
	some value in values
	# ecs-tasks.amazonaws.com itself is what the role is for: no principal finding can come of it.
	[kind, lower(value)] != ["Service", ecs_tasks]
	g := {"field": field, "role": role, "index": index, "stmt": stmt, "kind": kind, "value": value}
}

# ECS-TRUST-002: anything broader than ECS tasks can take the role's credentials.
# ECS-TRUST-005: principals inside the deploy account (or a trusted one) that can also assume it.
principal_findings(doc, settings, gs) := {f |
	some g in gs
	finding := principal_finding(doc, settings, g)
	f := {"rule": finding.rule, "path": role_path(g.field), "message": concat("", [
		lib.role_label(g.field, g.role), ": ", statement_label(g.stmt, g.index), finding.text,
	])}
}

principal_finding(doc, settings, g) := {"rule": "ECS-TRUST-002", "text": concat("", [" lets ", reason, " assume it"])} if {
	reason := deny_reason(doc, settings, g)
} else := {"rule": "ECS-TRUST-005", "text": concat("", [" also lets ", reason, " assume it and act with its permissions outside ECS"])} if {
	reason := warn_reason(doc, settings, g)
}

deny_reason(doc, settings, g) := concat("", ["the service ", g.value]) if {
	g.kind == "Service"
	lower(g.value) != ecs_tasks
} else := concat("", ["federated identities from ", g.value]) if {
	g.kind == "Federated"
} else := concat("", ["the ", g.kind, " principal ", g.value]) if {
	kind := g.kind
	not kind in {"AWS", "Service", "Federated"}
} else := "any AWS principal in any account (\"*\" without a condition that restricts who)" if {
	g.kind == "AWS"
	g.value == "*"
	stmt := g.stmt
	not restricted(stmt)
} else := concat("", [principal_words(g.value, account), ", outside the deploy account and config trusted_accounts,"]) if {
	g.kind == "AWS"
	account := principal_account(g.value)
	home := lib.home_account(doc, g.role)
	account != home
	trusted := settings.trusted_accounts
	not account in trusted
}

warn_reason(doc, settings, g) := "any AWS principal that satisfies its condition" if {
	g.kind == "AWS"
	g.value == "*"
} else := principal_words(g.value, account) if {
	g.kind == "AWS"
	account := principal_account(g.value)
	lib.home_account(doc, g.role)
} else := concat("", [g.value, " (its account could not be compared with the deploy account)"]) if {
	g.kind == "AWS"
}

# A whole account (its root or bare id) delegates to every principal there that IAM lets assume roles.
principal_words(value, account) := concat("", ["every principal in account ", account, " (", value, ")"]) if {
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

# Operators that require the key to be present and to match. Negated operators (StringNotEquals),
# …IfExists (true when the key is absent) and ForAllValues (true for an absent key) do not restrict.
restricting_operators := {
	"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike",
	"foranyvalue:stringequals", "foranyvalue:stringequalsignorecase", "foranyvalue:stringlike",
}

# [{key, values}] for the restricting conditions on `keys`, with specific (non-wildcard) values.
conditions_on(stmt, keys) := [c |
	conditions := object.get(stmt, "Condition", {})
	some operator
	block := conditions[operator]
	lower(operator) in restricting_operators
	some key
	values := block[key]
	lower(key) in keys
	count(values) > 0
	every value in values {
		specific_value(value)
	}
	c := {"key": lower(key), "values": values}
]

restricted(stmt) if count(conditions_on(stmt, identity_keys)) > 0

# "*", "?*" or an ARN whose account is a wildcard matches anyone.
specific_value(value) if {
	is_string(value)
	not regex.match(`^[*?]*$`, value)
	not wildcard_account_arn(value)
}

wildcard_account_arn(value) if {
	startswith(value, "arn:")
	parts := split(value, ":")
	count(parts) > 4
	regex.match(`^[*?]*$`, parts[4])
}

# ECS-TRUST-003: wildcard actions, NotAction or NotPrincipal in an Allow hand out more than the
# one action to the one principal that ECS needs.
wildcard_grants(roles) := {f |
	some field
	role := roles[field]
	stmts := statements(role)
	some index
	stmt := stmts[index]
	stmt.Effect == "Allow"
	some problem in statement_problems(stmt)
	f := {"rule": "ECS-TRUST-003", "path": role_path(field), "message": concat("", [
		lib.role_label(field, role), ": ", statement_label(stmt, index), " ", problem,
	])}
}

statement_problems(stmt) := {p |
	is_object(stmt.NotPrincipal)
	p := "uses NotPrincipal with Allow: every principal not listed can assume the role"
} | {p |
	is_array(stmt.NotAction)
	p := "uses NotAction with Allow: it grants every action not listed"
} | {p |
	some action in object.get(stmt, "Action", [])
	regex.match(`[*?]`, action)
	p := concat("", ["grants the wildcard action ", action, ": name sts:AssumeRole (and sts:TagSession if needed) instead"])
}

# ECS-TRUST-004: without aws:SourceAccount / aws:SourceArn (or aws:SourceOrgID) any account's ECS
# could be tricked into assuming the role (confused deputy); with a different account there, the
# deploy account's ECS cannot assume it at all.
confused_deputy(doc, roles) := {f |
	some field
	role := roles[field]
	stmts := statements(role)
	some index
	stmt := stmts[index]
	stmt.Effect == "Allow"
	names_ecs_tasks(object.get(stmt, "Principal", {}))
	statement_covers(stmt, "sts:assumerole")
	problem := deputy_problem(doc, role, stmt)
	f := {"rule": "ECS-TRUST-004", "path": role_path(field), "message": concat("", [
		lib.role_label(field, role), ": ", statement_label(stmt, index), " ", problem,
	])}
}

deputy_problem(doc, role, stmt) := concat("", [
	"lets ", ecs_tasks, " assume it without an aws:SourceAccount or aws:SourceArn condition ",
	"(confused deputy: ECS acting for another account could assume it)",
]) if {
	count(conditions_on(stmt, confused_deputy_keys)) == 0
} else := concat("", [
	"limits ", ecs_tasks, " to ", concat(", ", sort(foreign)), ", not the deploy account ",
	lib.home_account(doc, role), ": ECS tasks in the deploy account cannot assume it",
]) if {
	home := lib.home_account(doc, role)
	foreign := {account |
		some c in conditions_on(stmt, {"aws:sourceaccount", "aws:sourcearn"})
		some value in c.values
		account := condition_account(c.key, value)
		not regex.match(`[*?]`, account)
		account != home
	}
	count(foreign) > 0
}

condition_account("aws:sourceaccount", value) := value

condition_account("aws:sourcearn", value) := parts[4] if {
	parts := split(value, ":")
	count(parts) > 4
}
