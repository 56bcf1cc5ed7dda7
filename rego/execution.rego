# Execution-role requirements: the ECS/Fargate agent acts for the task only through this role.
package ecs.checks.execution

import rego.v1

import data.ecs.lib

findings := check(input)

check(doc) := secrets_without_role(doc)

# ECS-EXEC-001: the agent must fetch `secrets` with the execution role before the container starts.
secrets_without_role(doc) := {f |
	not lib.has_execution_role(doc)
	containers := lib.containers(doc)
	some index
	container := containers[index]
	secrets := object.get(container, "secrets", [])
	count(secrets) > 0
	f := lib.finding("ECS-EXEC-001", lib.container_path(index, "secrets"), concat("", [
		lib.container_label(index, container), " reads ", format_int(count(secrets), 10),
		" secret(s) through `secrets`, but the task has no executionRoleArn to fetch them with",
	]))
}
