# CloudFormation templates: values the template alone does not decide cannot be judged.

# METADATA
# title: CloudFormation templates
package ecs.checks.template

import rego.v1

# METADATA
# title: Template value cannot be resolved before deploy
# description: >-
#   A parameter without a default, an import, or a generated name is known only at deploy time.
#   input.template is null for a task definition that did not come from a template.
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
	unresolved := input.template.unresolved
	is_array(unresolved)
	some item in unresolved
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": item.path,
		"message": sprintf(
			"%s cannot be resolved from the template (%s), so the rules could not check this value",
			[item.expression, item.reason],
		),
	}
}
