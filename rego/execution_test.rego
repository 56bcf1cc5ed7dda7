package ecs.checks.execution_test

import rego.v1

import data.ecs.checks.execution

with_secrets(extra) := {"task_definition": object.union({"family": "api", "containerDefinitions": [
	{"name": "app", "image": "nginx"},
	{"name": "api", "image": "api:1", "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf"}]},
]}, extra)}

test_secrets_without_execution_role_fire if {
	some f in execution.check(with_secrets({}))
	f.rule == "ECS-EXEC-001"
	f.path == "/containerDefinitions/1/secrets"
	startswith(f.message, "container api reads 1 secret(s)")
}

test_secrets_with_execution_role_do_not_fire if {
	count(execution.check(with_secrets({"executionRoleArn": "arn:aws:iam::111122223333:role/exec"}))) == 0
}

test_empty_execution_role_still_fires if {
	count(execution.check(with_secrets({"executionRoleArn": ""}))) == 1
}

test_no_secrets_no_finding if {
	count(execution.check({"task_definition": {"containerDefinitions": [{"name": "app"}]}})) == 0
}
