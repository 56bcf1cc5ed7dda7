# CloudFormation templates: values the template alone does not decide cannot be judged.

# METADATA
# title: CloudFormation templates
package ecs.checks.template

import rego.v1

# What the functions below report, worked out once; each annotated `findings` rule
# below takes the findings of its own rule id (rego.metadata.rule()).
reported := check(input)

# METADATA
# title: Template value cannot be resolved before deploy
# custom:
#   id: ECS-TPL-001
#   severity: low
#   enforcement: warn
#   remediation: >-
#     Give the parameter a default, pass the deploy context (ECS_ADMISSION_ACCOUNT / ECS_ADMISSION_REGION),
#     or gate the rendered task definition (aws ecs describe-task-definition after a change set, or
#     cdk synth output with concrete values) so the value can be checked.
#   docs: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
#   beyond_anchors: >-
#     No anchor: scanners skip intrinsic functions they cannot evaluate, silently; here an unresolved
#     value is reported so nobody mistakes an unchecked field for a passing one.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

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
