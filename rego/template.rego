# CloudFormation templates: values the template alone does not decide cannot be judged.
package ecs.checks.template

import rego.v1

findings := check(input)

check(doc) := unresolved_values(doc)

# input.template is null for a task definition that did not come from a template.
unresolved(doc) := doc.template.unresolved if is_array(doc.template.unresolved) else := []

# ECS-TPL-001: a parameter without a default, an import, or a generated name: known only at deploy time.
unresolved_values(doc) := {f |
	items := unresolved(doc)
	some i
	item := items[i]
	f := {"rule": "ECS-TPL-001", "path": item.path, "message": concat("", [
		item.expression, " cannot be resolved from the template (", item.reason,
		"), so the rules could not check this value",
	])}
}
