package ecs.checks.template_test

import rego.v1

import data.ecs.checks.template

from_template(unresolved) := {
	"task_definition": {"containerDefinitions": [{"name": "app"}]},
	"template": {"logical_id": "TaskDefinition", "unresolved": unresolved},
}

execution_role_parameter := {
	"path": "/executionRoleArn",
	"template_path": "/Resources/TaskDefinition/Properties/ExecutionRoleArn",
	"expression": "!Ref ExecutionRoleArn",
	"reason": "parameter ExecutionRoleArn has no default",
}

test_unresolved_value_fires if {
	findings := template.findings with input as from_template([execution_role_parameter])
	findings == {{
		"rule": "ECS-TPL-001",
		"path": "/executionRoleArn",
		"message": concat("", [
			"!Ref ExecutionRoleArn cannot be resolved from the template (parameter ExecutionRoleArn ",
			"has no default), so the rules could not check this value",
		]),
	}}
}

test_fully_resolved_template_does_not_fire if {
	count(template.findings) == 0 with input as from_template([])
}

test_task_definition_not_from_a_template_does_not_fire if {
	count(template.findings) == 0 with input as {"task_definition": {"containerDefinitions": []}, "template": null}
	count(template.findings) == 0 with input as {"task_definition": {"containerDefinitions": []}}
}
