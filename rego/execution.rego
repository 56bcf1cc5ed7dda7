# Execution-role requirements: the ECS/Fargate agent acts for the task only through this role.

# METADATA
# title: Execution role
package ecs.checks.execution

import rego.v1

import data.ecs.lib

# What the functions below report, worked out once; each annotated `findings` rule
# below takes the findings of its own rule id (rego.metadata.rule()).
reported := check(input)

# METADATA
# title: Execution role missing where the ECS agent must act for the task
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
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Execution role cannot read what the task needs
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
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Execution role permission for the task could not be confirmed
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
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

check(doc) := (missing_role(doc) | denied_access(doc)) | unconfirmed_access(doc)

# Launch types where the agent pulls ECR images and ships awslogs with the execution role only
# (no instance role to fall back on): ECS task_execution_IAM_role, "when required".
agent_launch_types := {"FARGATE", "EXTERNAL", "MANAGED_INSTANCES"}

private_ecr_pattern := `^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/`

private_ecr(image) := false if not contains(image, ".dkr.ecr") else := regex.match(private_ecr_pattern, image)

# What the agent must do with the execution role before the containers start, one entry per
# container and field (not per secret): {index, name, path, what}.
needs(doc) := (((secret_needs(doc) | log_secret_needs(doc)) | registry_needs(doc)) | env_file_needs(doc)) | agent_needs(doc)

secret_needs(doc) := {need |
	some i
	c := doc.task_definition.containerDefinitions[i]
	n := count(object.get(c, "secrets", []))
	n > 0
	need := {"index": i, "name": object.get(c, "name", concat("", ["#", format_int(i, 10)])), "field": "secrets", "what": concat("", [" reads ", format_int(n, 10), " secret(s) through `secrets`"])}
}

log_secret_needs(doc) := {need |
	some i
	c := doc.task_definition.containerDefinitions[i]
	n := count(object.get(object.get(c, "logConfiguration", {}), "secretOptions", []))
	n > 0
	need := {"index": i, "name": object.get(c, "name", concat("", ["#", format_int(i, 10)])), "field": "logConfiguration/secretOptions", "what": concat("", [" passes ", format_int(n, 10), " secret(s) to its log driver through `logConfiguration.secretOptions`"])}
}

registry_needs(doc) := {need |
	some i
	c := doc.task_definition.containerDefinitions[i]
	is_object(c.repositoryCredentials)
	need := {"index": i, "name": object.get(c, "name", concat("", ["#", format_int(i, 10)])), "field": "repositoryCredentials", "what": " pulls from a private registry with `repositoryCredentials` (a Secrets Manager secret)"}
}

env_file_needs(doc) := {need |
	some i
	c := doc.task_definition.containerDefinitions[i]
	n := count(object.get(c, "environmentFiles", []))
	n > 0
	need := {"index": i, "name": object.get(c, "name", concat("", ["#", format_int(i, 10)])), "field": "environmentFiles", "what": concat("", [" loads ", format_int(n, 10), " environment file(s) from S3 through `environmentFiles`"])}
}

# Private ECR pulls and awslogs on Fargate, external instances and managed instances.
agent_needs(doc) := {need |
	launch_types := {t | some t in object.get(doc.task_definition, "requiresCompatibilities", [])} & agent_launch_types
	count(launch_types) > 0
	on := concat("/", sort(launch_types))
	some i
	c := doc.task_definition.containerDefinitions[i]
	some need in [
		{"index": i, "name": object.get(c, "name", concat("", ["#", format_int(i, 10)])), "field": "image", "what": concat("", [" pulls a private Amazon ECR image on ", on]), "applies": private_ecr(object.get(c, "image", ""))},
		{"index": i, "name": object.get(c, "name", concat("", ["#", format_int(i, 10)])), "field": "logConfiguration/logDriver", "what": concat("", [" sends logs with the awslogs driver on ", on]), "applies": object.get(object.get(c, "logConfiguration", {}), "logDriver", "") == "awslogs"},
	]
	need.applies
}

# ECS-EXEC-001: the agent has nothing to act with; registration or task start fails, or (on EC2)
# the agent silently borrows the instance role.
missing_role(doc) := {f |
	object.get(doc.task_definition, "executionRoleArn", "") == ""
	some need in needs(doc)
	f := {
		"rule": "ECS-EXEC-001",
		"path": concat("", ["/containerDefinitions/", format_int(need.index, 10), "/", need.field]),
		"message": concat("", [
			"container ", need.name, need.what,
			", but the task has no executionRoleArn to fetch them with",
		]),
	}
}

# The evaluator's verdicts (input.task_roles.executionRoleArn.access), present only when the
# role's policies are known; ECS-ROLE-006/007 say so when they are not.
access_entries(doc) := entries if {
	entries := doc.task_roles.executionRoleArn.access
	is_array(entries)
} else := []

# ECS-EXEC-002: the execution role is known and cannot do what the task needs.
denied_access(doc) := {f |
	some entry in access_entries(doc)
	entry.decision == "denied"
	f := {
		"rule": "ECS-EXEC-002",
		"path": object.get(entry, "path", "/executionRoleArn"),
		"message": concat("", [
			lib.role_label("executionRoleArn", doc.task_roles.executionRoleArn), " cannot ", object.get(entry, "action", "?"),
			" on ", object.get(entry, "resource", "?"), ", which ", purpose_words(entry), " needs",
		]),
	}
}

# ECS-EXEC-003: the permission depends on a condition the gate cannot evaluate, or the evaluator
# gave no verdict for something the task needs: not provably denied, not provably allowed.
unconfirmed_access(doc) := conditional_access(doc) | unjudged_needs(doc)

conditional_access(doc) := {f |
	some entry in access_entries(doc)
	# A missing or unknown decision is reported, never read as allowed.
	decision := object.get(entry, "decision", "")
	not decision in {"allowed", "denied"}
	f := {
		"rule": "ECS-EXEC-003",
		"path": object.get(entry, "path", "/executionRoleArn"),
		"message": concat("", [
			lib.role_label("executionRoleArn", doc.task_roles.executionRoleArn), " may not be able to ",
			object.get(entry, "action", "?"), " on ", object.get(entry, "resource", "?"), " (", purpose_words(entry),
			"): the permission depends on a condition that is only known at run time",
		]),
	}
}

# Every secret, log secret, registry credential and environment file should have a verdict once
# the role's permissions are known; one without is reported rather than assumed readable.
unjudged_needs(doc) := {f |
	entries := doc.task_roles.executionRoleArn.access
	is_array(entries)
	pointers := [object.get(entry, "path", "") | some entry in entries]
	some item in judged_items(doc)
	path := item.path
	not has_verdict(pointers, path)
	f := {
		"rule": "ECS-EXEC-003",
		"path": path,
		"message": concat("", [
			lib.role_label("executionRoleArn", doc.task_roles.executionRoleArn), ": no permission verdict for ",
			item.what, "; it could not be confirmed that the role can read it",
		]),
	}
}

judged_items(doc) := {item |
	some i
	c := doc.task_definition.containerDefinitions[i]
	some field in ["secrets", "environmentFiles", "logConfiguration/secretOptions"]
	values := object.get(c, split(field, "/"), [])
	some k
	values[k]
	item := {
		"path": concat("", ["/containerDefinitions/", format_int(i, 10), "/", field, "/", format_int(k, 10)]),
		"what": concat("", ["container ", object.get(c, "name", concat("", ["#", format_int(i, 10)])), "'s ", field, " entry ", format_int(k, 10)]),
	}
} | {item |
	some i
	c := doc.task_definition.containerDefinitions[i]
	is_object(c.repositoryCredentials)
	item := {
		"path": concat("", ["/containerDefinitions/", format_int(i, 10), "/repositoryCredentials"]),
		"what": concat("", ["container ", object.get(c, "name", concat("", ["#", format_int(i, 10)])), "'s repositoryCredentials"]),
	}
}

# A verdict covers an item when one pointer is the other or lies under it, so the evaluator may
# point at the entry (/secrets/0), its field (/secrets/0/valueFrom) or the list (/secrets).
has_verdict(pointers, path) if path in pointers

has_verdict(pointers, path) if {
	some pointer in pointers
	startswith(pointer, concat("", [path, "/"]))
}

has_verdict(pointers, path) if {
	some pointer in pointers
	startswith(path, concat("", [pointer, "/"]))
}

purpose_words(entry) := concat("", [object.get(purpose_names, entry.purpose, entry.purpose), " at ", entry.path]) if {
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
