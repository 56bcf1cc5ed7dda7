package ecs.checks.template_test

import rego.v1

import data.ecs.checks.template

from_template(unresolved) := {
	"task_definition": {"containerDefinitions": [{"name": "app"}]},
	"template": {"logical_id": "TaskDefinition", "unresolved": unresolved},
}

test_unresolved_value_fires if {
	some f in template.check(from_template([{
		"path": "/executionRoleArn",
		"template_path": "/Resources/TaskDefinition/Properties/ExecutionRoleArn",
		"expression": "!Ref ExecutionRoleArn",
		"reason": "parameter ExecutionRoleArn has no default",
	}]))
	f.rule == "ECS-TPL-001"
	f.path == "/executionRoleArn"
	startswith(f.message, "!Ref ExecutionRoleArn cannot be resolved from the template (parameter")
}

test_fully_resolved_template_does_not_fire if {
	count(template.check(from_template([]))) == 0
}

test_task_definition_not_from_a_template_does_not_fire if {
	count(template.check({"task_definition": {"containerDefinitions": []}, "template": null})) == 0
	count(template.check({"task_definition": {"containerDefinitions": []}})) == 0
}
