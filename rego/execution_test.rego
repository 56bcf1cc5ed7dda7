package ecs.checks.execution_test

import rego.v1

import data.ecs.checks.execution

secret_arn := "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf"

ecr_image := "111122223333.dkr.ecr.us-east-1.amazonaws.com/api:1.4.2"

with_secrets(extra) := {"task_definition": object.union({"family": "api", "containerDefinitions": [
	{"name": "app", "image": "nginx:1"},
	{"name": "api", "image": "api:1", "secrets": [{"name": "DB_PASSWORD", "valueFrom": secret_arn}]},
]}, extra)}

single(container, extra) := {"task_definition": object.union(
	{"family": "api", "containerDefinitions": [object.union({"name": "api", "image": "nginx:1"}, container)]},
	extra,
)}

findings_of(doc) := found if {
	found := execution.findings with input as doc
}

rule_ids(findings) := {f.rule | some f in findings}

fired(rule_id, doc) if rule_id in rule_ids(findings_of(doc))

paths(rule_id, doc) := {f.path | some f in findings_of(doc); f.rule == rule_id}

test_empty_document_is_defined_and_empty if count(findings_of({})) == 0

# ECS-EXEC-001: every trigger, with the container and field named

test_secrets_without_execution_role_fire if {
	some f in findings_of(with_secrets({}))
	f.rule == "ECS-EXEC-001"
	f.path == "/containerDefinitions/1/secrets"
	startswith(f.message, "container api reads 1 secret(s)")
}

test_secrets_with_execution_role_do_not_fire if {
	count(findings_of(with_secrets({"executionRoleArn": "arn:aws:iam::111122223333:role/exec"}))) == 0
}

test_empty_execution_role_still_fires if {
	count(findings_of(with_secrets({"executionRoleArn": ""}))) == 1
}

test_no_secrets_no_finding if {
	count(findings_of({"task_definition": {"containerDefinitions": [{"name": "app"}]}})) == 0
}

test_log_secret_options_fire if {
	doc := single({"logConfiguration": {"logDriver": "splunk", "secretOptions": [{"name": "splunk-token", "valueFrom": secret_arn}]}}, {})
	paths("ECS-EXEC-001", doc) == {"/containerDefinitions/0/logConfiguration/secretOptions"}
}

test_repository_credentials_fire if {
	doc := single({"repositoryCredentials": {"credentialsParameter": secret_arn}}, {})
	paths("ECS-EXEC-001", doc) == {"/containerDefinitions/0/repositoryCredentials"}
}

test_environment_files_fire if {
	doc := single({"environmentFiles": [{"value": "arn:aws:s3:::bucket/app.env", "type": "s3"}]}, {})
	paths("ECS-EXEC-001", doc) == {"/containerDefinitions/0/environmentFiles"}
}

test_fargate_ecr_image_fires if {
	doc := single({"image": ecr_image}, {"requiresCompatibilities": ["FARGATE"]})
	some f in findings_of(doc)
	f.path == "/containerDefinitions/0/image"
	contains(f.message, "pulls a private Amazon ECR image on FARGATE")
}

test_external_awslogs_fires if {
	doc := single({"logConfiguration": {"logDriver": "awslogs"}}, {"requiresCompatibilities": ["EXTERNAL"]})
	paths("ECS-EXEC-001", doc) == {"/containerDefinitions/0/logConfiguration/logDriver"}
}

test_ec2_ecr_image_and_awslogs_do_not_need_it if {
	# On EC2 the agent falls back to the instance role for pulls and logs.
	doc := single({"image": ecr_image, "logConfiguration": {"logDriver": "awslogs"}}, {"requiresCompatibilities": ["EC2"]})
	not fired("ECS-EXEC-001", doc)
	doc2 := single({"image": ecr_image}, {})
	not fired("ECS-EXEC-001", doc2)
}

test_fargate_public_or_placeholder_image_does_not_fire if {
	not fired("ECS-EXEC-001", single({"image": "public.ecr.aws/nginx/nginx:1.27"}, {"requiresCompatibilities": ["FARGATE"]}))
	not fired("ECS-EXEC-001", single({"image": "<IMAGE1_NAME>"}, {"requiresCompatibilities": ["FARGATE"]}))
	not fired("ECS-EXEC-001", single({"logConfiguration": {"logDriver": "awsfirelens"}}, {"requiresCompatibilities": ["FARGATE"]}))
}

test_one_finding_per_container_and_field if {
	doc := {"task_definition": {"requiresCompatibilities": ["FARGATE"], "containerDefinitions": [
		{"name": "a", "image": ecr_image, "secrets": [{"name": "X", "valueFrom": secret_arn}, {"name": "Y", "valueFrom": secret_arn}]},
		{"name": "b", "image": ecr_image, "logConfiguration": {"logDriver": "awslogs"}},
	]}}
	paths("ECS-EXEC-001", doc) == {
		"/containerDefinitions/0/image", "/containerDefinitions/0/secrets",
		"/containerDefinitions/1/image", "/containerDefinitions/1/logConfiguration/logDriver",
	}
}

# ECS-EXEC-002 / ECS-EXEC-003: the evaluator's verdicts on the execution role

exec_role(access) := {
	"field": "executionRoleArn", "reference": "arn:aws:iam::111122223333:role/exec", "arn": "arn:aws:iam::111122223333:role/exec",
	"name": "exec", "account": "111122223333", "valid": true, "placeholder": false,
	"status": "known", "source": "iam", "reason": "", "trust_policy": {"Statement": []}, "policies": [],
	"permissions": {}, "access": access,
}

with_access(access) := object.union(
	with_secrets({"executionRoleArn": "arn:aws:iam::111122223333:role/exec"}),
	{"task_roles": {"executionRoleArn": exec_role(access)}},
)

verdict(decision) := {
	"purpose": "secret", "action": "secretsmanager:GetSecretValue", "resource": secret_arn,
	"path": "/containerDefinitions/1/secrets/0/valueFrom", "decision": decision,
}

test_denied_access_fires_at_the_field if {
	some f in findings_of(with_access([verdict("denied")]))
	f.rule == "ECS-EXEC-002"
	f.path == "/containerDefinitions/1/secrets/0/valueFrom"
	contains(f.message, "execution role exec (executionRoleArn) cannot secretsmanager:GetSecretValue on arn:aws:secretsmanager")
	contains(f.message, "the secret at /containerDefinitions/1/secrets/0/valueFrom")
}

test_allowed_access_does_not_fire if {
	count(findings_of(with_access([verdict("allowed")]))) == 0
}

test_conditional_access_warns if {
	rule_ids(findings_of(with_access([verdict("conditional")]))) == {"ECS-EXEC-003"}
}

test_need_without_a_verdict_warns if {
	paths("ECS-EXEC-003", with_access([])) == {"/containerDefinitions/1/secrets/0"}
	not fired("ECS-EXEC-002", with_access([]))
}

test_verdict_at_coarser_or_finer_pointer_counts if {
	coarse := object.union(verdict("allowed"), {"path": "/containerDefinitions/1/secrets"})
	count(findings_of(with_access([coarse]))) == 0
}

test_unknown_access_is_left_to_the_facts_rule if {
	# access null (policies unknown): no guess here; ECS-ROLE-007 reports the gap.
	count(findings_of(with_access(null))) == 0
}

test_a_verdict_covers_its_pointer_what_lies_under_it_and_what_it_lies_under if {
	execution.has_verdict({"/containerDefinitions/0/secrets/1"}, "/containerDefinitions/0/secrets/1")
	execution.has_verdict({"/containerDefinitions/0/secrets/1/valueFrom"}, "/containerDefinitions/0/secrets/1")
	execution.has_verdict({"/containerDefinitions/0/secrets"}, "/containerDefinitions/0/secrets/1")
	execution.has_verdict({""}, "/containerDefinitions/0/secrets/1")
	not execution.has_verdict({"/containerDefinitions/0/secrets/10"}, "/containerDefinitions/0/secrets/1")
	not execution.has_verdict({"/containerDefinitions/0/secret"}, "/containerDefinitions/0/secrets/1")
	not execution.has_verdict({"/containerDefinitions/1"}, "/containerDefinitions/0/secrets/1")
}
