package ecs.checks.roles_test

import rego.v1

import data.ecs.checks.roles

test_placeholder_in_task_role_fires if {
	some f in roles.check({"task_definition": {"taskRoleArn": "<TASK_ROLE_ARN>", "containerDefinitions": []}})
	f.rule == "ECS-ROLE-001"
	f.path == "/taskRoleArn"
	f.message == "taskRoleArn is the placeholder <TASK_ROLE_ARN>: the role cannot be checked until the pipeline fills it in"
}

test_real_arn_does_not_fire if {
	count(roles.check({"task_definition": {"taskRoleArn": "arn:aws:iam::111122223333:role/app", "containerDefinitions": []}})) == 0
}
