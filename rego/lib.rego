# Helpers shared by the check packages: pure functions of their arguments.
#
# Engine constraints (regopy 1.5.2, proven by tests/test_parity.py): build strings with concat
# and format_int, never sprintf (it quotes string literals); inside comprehensions bind an index
# with `some i` rather than `some i, x in xs`; never `with` (regopy crashes on it). That is why
# every check is a function of the document it judges: tests call it with explicit arguments.
package ecs.lib

import rego.v1

task_definition(doc) := object.get(doc, "task_definition", {})

containers(doc) := object.get(task_definition(doc), "containerDefinitions", [])

# A name a person recognises in a message: the container's name, else its position.
container_label(index, container) := concat(" ", ["container", container.name]) if {
	is_string(container.name)
} else := concat("", ["container #", format_int(index, 10)])

# RFC 6901 pointer into the normalised task definition.
container_path(index, field) := concat("/", ["", "containerDefinitions", format_int(index, 10), field])

# CodeDeploy / pipeline template placeholders such as <TASK_ROLE_ARN>.
is_placeholder(value) if {
	is_string(value)
	regex.match(`<[A-Z][A-Z0-9_]*>`, value)
}

launch_types(doc) := {launch_type |
	some launch_type in object.get(task_definition(doc), "requiresCompatibilities", [])
}

non_empty_string(value) if {
	is_string(value)
	value != ""
}

has_execution_role(doc) if non_empty_string(object.get(task_definition(doc), "executionRoleArn", ""))

has_task_role(doc) if non_empty_string(object.get(task_definition(doc), "taskRoleArn", ""))

finding(rule, path, message) := {"rule": rule, "path": path, "message": message}
