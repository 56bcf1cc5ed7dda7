# Role fields themselves: what the task definition says about its roles before any IAM fact.
package ecs.checks.roles

import rego.v1

import data.ecs.lib

findings := check(input)

check(doc) := placeholders(doc)

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
