package ecs.checks.trust_test

import rego.v1

import data.ecs.checks.trust

deploy_account := "111122223333"

ecs_statement := {"Effect": "Allow", "Principal": {"Service": ["ecs-tasks.amazonaws.com"]}, "Action": ["sts:AssumeRole"], "Condition": {"StringEquals": {"aws:SourceAccount": [deploy_account]}, "ArnLike": {"aws:SourceArn": ["arn:aws:ecs:us-east-1:111122223333:*"]}}}

bare_ecs_statement := {"Effect": "Allow", "Principal": {"Service": ["ecs-tasks.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}

role(field, statements) := {
	"field": field, "reference": "arn:aws:iam::111122223333:role/app", "arn": "arn:aws:iam::111122223333:role/app",
	"name": "app", "account": deploy_account, "valid": true, "placeholder": false,
	"status": "known", "source": "caller", "reason": "",
	"trust_policy": {"Statement": statements}, "policies": null, "permissions": null, "access": null,
}

input_for(statements) := {
	"task_definition": {"family": "web", "taskRoleArn": "arn:aws:iam::111122223333:role/app", "containerDefinitions": []},
	"task_roles": {"taskRoleArn": role("taskRoleArn", statements)},
	"context": {"account": deploy_account},
}

exec_input_for(statements) := {
	"task_definition": {"family": "web", "executionRoleArn": "arn:aws:iam::111122223333:role/app", "containerDefinitions": []},
	"task_roles": {"executionRoleArn": role("executionRoleArn", statements)},
	"context": {"account": deploy_account},
}

# The platform team's config.yaml is pinned to none: the startup self-check runs these tests
# against whatever settings are deployed, and they must not depend on them.
findings_of(doc) := findings_with(doc, {})

findings_with(doc, config) := found if {
	found := trust.findings with input as doc with data.ecs.config as config
}

rule_ids(findings) := {f.rule | some f in findings}

fired(rule_id, d) if rule_id in rule_ids(findings_of(d))

messages(rule_id, d) := {f.message | some f in findings_of(d); f.rule == rule_id}

test_recommended_trust_policy_has_no_findings if {
	count(findings_of(input_for([ecs_statement]))) == 0
	count(findings_of(exec_input_for([ecs_statement]))) == 0
}

test_unknown_trust_policy_is_not_judged if {
	d := {"task_definition": {}, "task_roles": {"taskRoleArn": object.union(role("taskRoleArn", []), {"status": "unknown", "trust_policy": null})}}
	count(findings_of(d)) == 0
	count(findings_of({})) == 0
}

# ECS-TRUST-001

test_ecs_service_principal_instead_of_ecs_tasks_fires if {
	d := input_for([{"Effect": "Allow", "Principal": {"Service": ["ecs.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}])
	some message in messages("ECS-TRUST-001", d)
	contains(message, "ecs.amazonaws.com, the ECS service itself")
}

test_empty_trust_policy_fires if fired("ECS-TRUST-001", input_for([]))

test_wrong_action_fires if fired("ECS-TRUST-001", input_for([object.union(bare_ecs_statement, {"Action": ["sts:AssumeRoleWithWebIdentity"]})]))

test_unconditional_deny_blocks_ecs if {
	d := input_for([bare_ecs_statement, {"Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": ["sts:AssumeRole"]}])
	some message in messages("ECS-TRUST-001", d)
	contains(message, "Deny")
}

test_conditional_deny_does_not_block_ecs if {
	deny := {"Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": ["sts:AssumeRole"], "Condition": {"StringNotEquals": {"aws:SourceAccount": [deploy_account]}}}
	not fired("ECS-TRUST-001", input_for([ecs_statement, deny]))
}

test_action_case_and_wildcards_are_iam_semantics if {
	not fired("ECS-TRUST-001", input_for([object.union(bare_ecs_statement, {"Action": ["STS:assumerole"]})]))
	not fired("ECS-TRUST-001", input_for([object.union(bare_ecs_statement, {"Action": ["sts:Assume*"]})]))
}

test_execution_role_trust_is_checked_too if {
	d := exec_input_for([{"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}])
	some f in findings_of(d)
	f.rule == "ECS-TRUST-001"
	f.path == "/executionRoleArn"
	startswith(f.message, "execution role app (executionRoleArn)")
}

# ECS-TRUST-002

test_public_principal_without_condition_fires if {
	d := input_for([ecs_statement, {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["sts:AssumeRole"]}])
	some message in messages("ECS-TRUST-002", d)
	contains(message, "any AWS principal in any account")
}

test_public_principal_with_org_condition_warns_instead if {
	d := input_for([ecs_statement, {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["sts:AssumeRole"], "Condition": {"StringEquals": {"aws:PrincipalOrgID": ["o-abc123"]}}}])
	not fired("ECS-TRUST-002", d)
	fired("ECS-TRUST-005", d)
}

test_public_principal_with_non_restricting_conditions_fires if {
	weak := [
		{"StringLike": {"aws:PrincipalOrgID": ["*"]}},
		{"StringNotEquals": {"aws:PrincipalOrgID": ["o-abc123"]}},
		{"StringEqualsIfExists": {"aws:PrincipalOrgID": ["o-abc123"]}},
		{"ForAllValues:StringEquals": {"aws:PrincipalOrgPaths": ["o-a/r-b/"]}},
		{"ArnLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/admin"]}},
		{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}},
	]
	every condition in weak {
		d := input_for([ecs_statement, {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["sts:AssumeRole"], "Condition": condition}])
		fired("ECS-TRUST-002", d)
	}
}

test_other_account_root_and_roles_fire if {
	d := input_for([ecs_statement, {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::999988887777:root", "444455556666", "arn:aws:iam::777788889999:role/ci"]}, "Action": ["sts:AssumeRole"]}])
	count(messages("ECS-TRUST-002", d)) == 3
}

test_trusted_account_is_not_cross_account if {
	d := input_for([ecs_statement, {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::999988887777:role/ci"]}, "Action": ["sts:AssumeRole"]}])
	findings := findings_with(d, {"trusted_accounts": ["999988887777"]})
	not "ECS-TRUST-002" in rule_ids(findings)
	"ECS-TRUST-005" in rule_ids(findings)
}

test_other_services_and_federated_principals_fire if {
	d := input_for([
		{"Effect": "Allow", "Principal": {"Service": ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com"]}, "Action": ["sts:AssumeRole"], "Condition": ecs_statement.Condition},
		{"Effect": "Allow", "Principal": {"Federated": ["cognito-identity.amazonaws.com"]}, "Action": ["sts:AssumeRoleWithWebIdentity"]},
	])
	count(messages("ECS-TRUST-002", d)) == 2
	not fired("ECS-TRUST-001", d)
}

test_principals_in_non_assume_statements_do_not_fire if {
	d := input_for([ecs_statement, {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": ["sts:TagSession"]}])
	not fired("ECS-TRUST-002", d)
}

test_deny_statements_are_not_grants if {
	d := input_for([ecs_statement, {"Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": ["sts:AssumeRole"], "Condition": {"Bool": {"aws:SecureTransport": ["false"]}}}])
	not fired("ECS-TRUST-002", d)
}

# ECS-TRUST-003

test_wildcard_actions_fire if {
	every action in ["sts:*", "*", "sts:Assume*", "sts:AssumeRol?"] {
		d := input_for([object.union(ecs_statement, {"Action": [action]})])
		fired("ECS-TRUST-003", d)
	}
}

test_not_principal_and_not_action_with_allow_fire if {
	d := input_for([ecs_statement, {"Effect": "Allow", "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:root"]}, "NotAction": ["s3:*"]}])
	count(messages("ECS-TRUST-003", d)) == 2
}

test_exact_actions_and_deny_not_principal_do_not_fire if {
	d := input_for([
		object.union(ecs_statement, {"Action": ["sts:AssumeRole", "sts:TagSession"]}),
		{"Effect": "Deny", "NotPrincipal": {"Service": ["ecs-tasks.amazonaws.com"]}, "Action": ["sts:*"]},
	])
	not fired("ECS-TRUST-003", d)
	not fired("ECS-TRUST-001", d)
}

# ECS-TRUST-004

test_missing_confused_deputy_condition_warns if {
	some message in messages("ECS-TRUST-004", input_for([bare_ecs_statement]))
	contains(message, "without an aws:SourceAccount or aws:SourceArn condition")
}

test_source_account_source_arn_or_org_satisfy_the_rule if {
	every condition in [
		{"StringEquals": {"aws:SourceAccount": [deploy_account]}},
		{"ArnLike": {"aws:SourceArn": ["arn:aws:ecs:us-east-1:111122223333:*"]}},
		{"StringEquals": {"AWS:SourceOrgID": ["o-abc123"]}},
	] {
		d := input_for([object.union(bare_ecs_statement, {"Condition": condition})])
		not fired("ECS-TRUST-004", d)
	}
}

# ECS-TRUST-006: another account in the condition breaks the deploy at run time, so it denies (issue 21).

test_condition_for_another_account_denies if {
	d := input_for([object.union(bare_ecs_statement, {"Condition": {"StringEquals": {"aws:SourceAccount": ["999988887777"]}}})])
	some message in messages("ECS-TRUST-006", d)
	contains(message, "999988887777, not the deploy account 111122223333")
	not fired("ECS-TRUST-004", d)
}

test_source_arn_for_another_account_denies if {
	d := input_for([object.union(bare_ecs_statement, {"Condition": {"ArnLike": {"aws:SourceArn": ["arn:aws:ecs:*:999988887777:*"]}}})])
	fired("ECS-TRUST-006", d)
	not fired("ECS-TRUST-004", d)
}

test_the_deploy_account_or_a_wildcard_account_does_not_deny if {
	every condition in [
		{"StringEquals": {"aws:SourceAccount": [deploy_account]}},
		{"ArnLike": {"aws:SourceArn": ["arn:aws:ecs:us-east-1:111122223333:*"]}},
		{"ArnLike": {"aws:SourceArn": ["arn:aws:ecs:us-east-1:*:*"]}},
	] {
		not fired("ECS-TRUST-006", input_for([object.union(bare_ecs_statement, {"Condition": condition})]))
	}
}

test_unrendered_template_account_warns if {
	d := input_for([object.union(bare_ecs_statement, {"Condition": {"StringEquals": {"aws:SourceAccount": ["${account_id}"]}}})])
	fired("ECS-TRUST-004", d)
	not fired("ECS-TRUST-006", d)
}

test_wildcard_or_negated_condition_is_no_protection if {
	every condition in [
		{"StringLike": {"aws:SourceAccount": ["*"]}},
		{"StringNotEquals": {"aws:SourceAccount": ["999988887777"]}},
		{"StringEqualsIfExists": {"aws:SourceAccount": [deploy_account]}},
	] {
		d := input_for([object.union(bare_ecs_statement, {"Condition": condition})])
		fired("ECS-TRUST-004", d)
	}
}

# ECS-TRUST-005

test_same_account_principals_warn if {
	d := input_for([ecs_statement, {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:role/ci"]}, "Action": ["sts:AssumeRole"]}])
	count(messages("ECS-TRUST-005", d)) == 2
	not fired("ECS-TRUST-002", d)
	some message in messages("ECS-TRUST-005", d)
	contains(message, "every principal in account 111122223333")
}

test_principal_without_an_account_warns if {
	d := input_for([ecs_statement, {"Effect": "Allow", "Principal": {"AWS": ["AROAEXAMPLEID"]}, "Action": ["sts:AssumeRole"]}])
	some message in messages("ECS-TRUST-005", d)
	contains(message, "AROAEXAMPLEID (its account could not be compared with the deploy account)")
}

test_ecs_only_trust_has_no_other_principals if not fired("ECS-TRUST-005", input_for([ecs_statement]))
