# Execution-role requirements: the ECS/Fargate agent acts for the task only through this role.

# METADATA
# title: Execution role
package ecs.checks.execution

import rego.v1

import data.ecs.lib

# METADATA
# title: Execution role missing where the ECS agent must act for the task
# description: >-
#   The agent has nothing to act with: registration or task start fails, or (on EC2) the agent
#   silently borrows the instance role.
# custom:
#   id: ECS-EXEC-001
#   severity: high
#   enforcement: deny
#   remediation: >-
#     Set executionRoleArn to a role trusted by ecs-tasks.amazonaws.com with AmazonECSTaskExecutionRolePolicy
#     and read access to the task's secrets, parameters, registry credentials and environment files.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html
#   beyond_anchors: >-
#     No scanner checks it. ECS itself rejects only Fargate with awslogs or an ECR image at registration;
#     secrets, log secretOptions, repositoryCredentials and environmentFiles without an execution role
#     fail later, when a task starts.
findings contains finding if {
	object.get(input.task_definition, "executionRoleArn", "") == ""
	some need in needs
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/containerDefinitions/%d/%s", [need.index, need.field]),
		"message": sprintf("container %s%s, but the task has no executionRoleArn to fetch them with", [need.name, need.what]),
	}
}

# METADATA
# title: Execution role cannot read what the task needs
# description: >-
#   The execution role is known and cannot do what the task needs.
# custom:
#   id: ECS-EXEC-002
#   severity: high
#   enforcement: deny
#   remediation: >-
#     Grant the execution role the action on the resource named in the message (secretsmanager:GetSecretValue
#     on the secret, ssm:GetParameters on the parameter, s3:GetObject on the environment file, ECR pull
#     and logs:CreateLogStream/PutLogEvents), plus kms:Decrypt for a customer managed key.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html
#   beyond_anchors: >-
#     No scanner relates a task definition's secrets, parameters, environment files, images and log
#     driver to the execution role's effective permissions; the task otherwise fails at start.
findings contains finding if {
	some entry in unsettled_entries
	entry.decision == "denied"
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": object.get(entry, "path", "/executionRoleArn"),
		"message": sprintf("%s cannot %s on %s, which %s needs", [
			execution_role_label,
			object.get(entry, "action", "?"),
			object.get(entry, "resource", "?"),
			purpose_words(entry),
		]),
	}
}

# METADATA
# title: Execution role permission for the task could not be confirmed
# description: >-
#   The permission depends on a condition the gate cannot evaluate, or the evaluator gave no
#   verdict for something the task needs: not provably denied, not provably allowed.
# custom:
#   id: ECS-EXEC-003
#   severity: medium
#   enforcement: warn
#   remediation: >-
#     Make the grant unconditional for the resource the task needs, or check that the condition holds
#     for ECS (for example aws:SourceVpce only on the ECR layer actions).
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html
#   beyond_anchors: >-
#     No anchor; reported instead of assuming a conditional grant (or one the evaluator gave no verdict
#     on) works.
findings contains finding if {
	some problem in unconfirmed_access
	finding := object.union(problem, {"rule": rego.metadata.rule().custom.id})
}

# Launch types where the agent pulls ECR images and ships awslogs with the execution role only
# (no instance role to fall back on): ECS task_execution_IAM_role, "when required".
agent_launch_types := {"FARGATE", "EXTERNAL", "MANAGED_INSTANCES"}

private_ecr_pattern := `^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/`

private_ecr(image) if {
	contains(image, ".dkr.ecr")
	regex.match(private_ecr_pattern, image)
}

# What the agent must do with the execution role before the containers start, one entry per
# container and field (not per secret): {index, name, field, what}.
needs contains need if {
	some i, container in input.task_definition.containerDefinitions
	n := count(object.get(container, "secrets", []))
	n > 0
	need := {
		"index": i, "name": lib.container_name(i, container), "field": "secrets",
		"what": sprintf(" reads %d secret(s) through `secrets`", [n]),
	}
}

needs contains need if {
	some i, container in input.task_definition.containerDefinitions
	n := count(object.get(object.get(container, "logConfiguration", {}), "secretOptions", []))
	n > 0
	need := {
		"index": i, "name": lib.container_name(i, container), "field": "logConfiguration/secretOptions",
		"what": sprintf(" passes %d secret(s) to its log driver through `logConfiguration.secretOptions`", [n]),
	}
}

needs contains need if {
	some i, container in input.task_definition.containerDefinitions
	is_object(container.repositoryCredentials)
	need := {
		"index": i, "name": lib.container_name(i, container), "field": "repositoryCredentials",
		"what": " pulls from a private registry with `repositoryCredentials` (a Secrets Manager secret)",
	}
}

needs contains need if {
	some i, container in input.task_definition.containerDefinitions
	n := count(object.get(container, "environmentFiles", []))
	n > 0
	need := {
		"index": i, "name": lib.container_name(i, container), "field": "environmentFiles",
		"what": sprintf(" loads %d environment file(s) from S3 through `environmentFiles`", [n]),
	}
}

# Private ECR pulls and awslogs on Fargate, external instances and managed instances.
needs contains need if {
	some i, container in input.task_definition.containerDefinitions
	private_ecr(object.get(container, "image", ""))
	need := {
		"index": i, "name": lib.container_name(i, container), "field": "image",
		"what": sprintf(" pulls a private Amazon ECR image on %s", [agent_launch_words]),
	}
}

needs contains need if {
	some i, container in input.task_definition.containerDefinitions
	object.get(object.get(container, "logConfiguration", {}), "logDriver", "") == "awslogs"
	need := {
		"index": i, "name": lib.container_name(i, container), "field": "logConfiguration/logDriver",
		"what": sprintf(" sends logs with the awslogs driver on %s", [agent_launch_words]),
	}
}

# "FARGATE" or "EXTERNAL/FARGATE": the launch types without an instance role; undefined for none.
agent_launch_words := concat("/", sort(launch_types)) if {
	launch_types := {t | some t in object.get(input.task_definition, "requiresCompatibilities", [])} & agent_launch_types
	count(launch_types) > 0
}

# The evaluator's verdicts (input.task_roles.executionRoleArn.access), present only when the
# role's policies are known; ECS-ROLE-006/007 say so when they are not.
access_entries := entries if {
	entries := input.task_roles.executionRoleArn.access
	is_array(entries)
} else := []

# The entries not plainly allowed, picked out once for the two rules that read them (denied, and
# neither allowed nor denied): usually none.
unsettled_entries := [entry | some entry in access_entries; object.get(entry, "decision", "") != "allowed"]

execution_role_label := lib.role_label("executionRoleArn", input.task_roles.executionRoleArn)

# A missing or unknown decision is reported, never read as allowed.
unconfirmed_access contains problem if {
	some entry in unsettled_entries
	object.get(entry, "decision", "") != "denied"
	problem := {
		"path": object.get(entry, "path", "/executionRoleArn"),
		"message": sprintf(
			"%s may not be able to %s on %s (%s): the permission depends on a condition that is only known at run time",
			[execution_role_label, object.get(entry, "action", "?"), object.get(entry, "resource", "?"), purpose_words(entry)],
		),
	}
}

# Every secret, log secret, registry credential and environment file should have a verdict once
# the role's permissions are known; one without is reported rather than assumed readable.
unconfirmed_access contains problem if {
	entries := input.task_roles.executionRoleArn.access
	is_array(entries)
	pointers := {object.get(entry, "path", "") | some entry in entries}
	# Most items have a verdict at their own pointer: only the others are compared by prefix.
	some path in object.keys(judged_items) - pointers
	not has_verdict(pointers, path)
	problem := {
		"path": path,
		"message": sprintf(
			"%s: no permission verdict for %s; it could not be confirmed that the role can read it",
			[execution_role_label, item_words(judged_items[path])],
		),
	}
}

# What the execution role reads for the task, by JSON pointer: {path: {index, field[, entry]}}.
# Described in words only for an item reported (item_words).
judged_items[sprintf("/containerDefinitions/%d/%s/%d", [i, field, k])] := {"index": i, "field": field, "entry": k} if {
	some i, container in input.task_definition.containerDefinitions
	some field, path in judged_fields
	values := object.get(container, path, [])
	some k
	values[k]
}

judged_items[sprintf("/containerDefinitions/%d/repositoryCredentials", [i])] := {"index": i, "field": "repositoryCredentials"} if {
	some i, container in input.task_definition.containerDefinitions
	is_object(container.repositoryCredentials)
}

judged_fields := {
	"secrets": ["secrets"],
	"environmentFiles": ["environmentFiles"],
	"logConfiguration/secretOptions": ["logConfiguration", "secretOptions"],
}

item_words(item) := sprintf("container %s's %s entry %d", [item_container(item), item.field, item.entry]) if {
	"entry" in object.keys(item)
} else := sprintf("container %s's repositoryCredentials", [item_container(item)])

item_container(item) := lib.container_name(item.index, input.task_definition.containerDefinitions[item.index])

# A verdict covers an item when one pointer is the other or lies under it, so the evaluator may
# point at the entry (/secrets/0), its field (/secrets/0/valueFrom) or the list (/secrets).
has_verdict(pointers, path) if path in pointers

has_verdict(pointers, path) if strings.any_prefix_match(pointers, sprintf("%s/", [path]))

# A pointer the path lies under is one of the path's ancestors ("/a/b/c": "", "/a", "/a/b").
has_verdict(pointers, path) if {
	parts := split(path, "/")
	ancestors := {concat("/", array.slice(parts, 0, n)) | some n in numbers.range(1, count(parts) - 1)}
	count(ancestors & pointers) > 0
}

purpose_words(entry) := sprintf("%s at %s", [object.get(purpose_names, entry.purpose, entry.purpose), entry.path]) if {
	is_string(entry.purpose)
	is_string(entry.path)
} else := "the task"

purpose_names := {
	"secret": "the secret",
	"parameter": "the parameter",
	"ecr-pull": "the image pull",
	"logs": "the awslogs driver",
	"environment-file": "the environment file",
	"private-registry": "the private registry credentials",
}
