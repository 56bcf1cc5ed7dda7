# Execution-role requirements: the ECS/Fargate agent acts for the task only through this role.
package ecs.checks.execution

import rego.v1

import data.ecs.lib

findings := check(input)

check(doc) := (missing_role(doc) | denied_access(doc)) | unconfirmed_access(doc)

# What the agent must do with the execution role before the containers start, per container
# and field: {index, container, field, path, what}. One entry per field, not per secret, so a
# message reads "container api reads 3 secret(s) through `secrets`".
needs(doc) := ((((secret_needs(doc) | log_secret_needs(doc)) | registry_needs(doc)) | env_file_needs(doc)) | ecr_needs(doc)) | awslogs_needs(doc)

secret_needs(doc) := {need |
	containers := lib.containers(doc)
	some index
	container := containers[index]
	secrets := object.get(container, "secrets", [])
	count(secrets) > 0
	need := {
		"index": index, "path": lib.container_path(index, "secrets"),
		"what": concat("", [" reads ", format_int(count(secrets), 10), " secret(s) through `secrets`"]),
	}
}

log_secret_needs(doc) := {need |
	containers := lib.containers(doc)
	some index
	container := containers[index]
	options := object.get(container, ["logConfiguration", "secretOptions"], [])
	count(options) > 0
	need := {
		"index": index, "path": concat("/", [lib.container_path(index, "logConfiguration"), "secretOptions"]),
		"what": concat("", [" passes ", format_int(count(options), 10), " secret(s) to its log driver through `logConfiguration.secretOptions`"]),
	}
}

registry_needs(doc) := {need |
	containers := lib.containers(doc)
	some index
	container := containers[index]
	is_object(container.repositoryCredentials)
	need := {
		"index": index, "path": lib.container_path(index, "repositoryCredentials"),
		"what": " pulls from a private registry with `repositoryCredentials` (a Secrets Manager secret)",
	}
}

env_file_needs(doc) := {need |
	containers := lib.containers(doc)
	some index
	container := containers[index]
	files := object.get(container, "environmentFiles", [])
	count(files) > 0
	need := {
		"index": index, "path": lib.container_path(index, "environmentFiles"),
		"what": concat("", [" loads ", format_int(count(files), 10), " environment file(s) from S3 through `environmentFiles`"]),
	}
}

ecr_needs(doc) := {need |
	lib.needs_execution_role_for_pull(doc)
	containers := lib.containers(doc)
	some index
	container := containers[index]
	lib.is_private_ecr_image(container.image)
	need := {
		"index": index, "path": lib.container_path(index, "image"),
		"what": concat("", [" pulls a private Amazon ECR image on ", launch_words(doc)]),
	}
}

awslogs_needs(doc) := {need |
	lib.needs_execution_role_for_pull(doc)
	containers := lib.containers(doc)
	some index
	container := containers[index]
	container.logConfiguration.logDriver == "awslogs"
	need := {
		"index": index, "path": concat("/", [lib.container_path(index, "logConfiguration"), "logDriver"]),
		"what": concat("", [" sends logs with the awslogs driver on ", launch_words(doc)]),
	}
}

launch_words(doc) := concat("/", sort([t |
	some t in lib.launch_types(doc)
	t in lib.agent_needs_execution_role_launch_types
]))

# ECS-EXEC-001: the agent has nothing to act with; registration or task start fails, or (on EC2)
# the agent silently borrows the instance role.
missing_role(doc) := {f |
	not lib.has_execution_role(doc)
	some need in needs(doc)
	container := lib.containers(doc)[need.index]
	f := lib.finding("ECS-EXEC-001", need.path, concat("", [
		lib.container_label(need.index, container), need.what,
		", but the task has no executionRoleArn to fetch them with",
	]))
}

execution_role(doc) := lib.task_roles(doc).executionRoleArn

# The evaluator's verdicts (input.task_roles.executionRoleArn.access), present only when the
# role's policies are known; ROLE-006/007 say so when they are not.
access_entries(doc) := entries if {
	entries := execution_role(doc).access
	is_array(entries)
} else := []

# ECS-EXEC-002: the execution role is known and cannot do what the task needs.
denied_access(doc) := {f |
	role := execution_role(doc)
	some entry in access_entries(doc)
	entry.decision == "denied"
	f := lib.finding("ECS-EXEC-002", object.get(entry, "path", "/executionRoleArn"), concat("", [
		lib.role_label("executionRoleArn", role), " cannot ", object.get(entry, "action", "?"),
		" on ", object.get(entry, "resource", "?"), ", which ", purpose_words(entry), " needs",
	]))
}

# ECS-EXEC-003: the permission depends on a condition the gate cannot evaluate, or the evaluator
# gave no verdict for something the task needs: not provably denied, not provably allowed.
unconfirmed_access(doc) := conditional_access(doc) | unjudged_needs(doc)

conditional_access(doc) := {f |
	role := execution_role(doc)
	some entry in access_entries(doc)
	# A missing or unknown decision is reported, never read as allowed.
	decision := object.get(entry, "decision", "")
	not decision in {"allowed", "denied"}
	f := lib.finding("ECS-EXEC-003", object.get(entry, "path", "/executionRoleArn"), concat("", [
		lib.role_label("executionRoleArn", role), " may not be able to ", object.get(entry, "action", "?"),
		" on ", object.get(entry, "resource", "?"), " (", purpose_words(entry),
		"): the permission depends on a condition that is only known at run time",
	]))
}

# Every secret, log secret, registry credential and environment file should have a verdict once
# the role's permissions are known; one without is reported rather than assumed readable.
unjudged_needs(doc) := {f |
	role := execution_role(doc)
	entries := role.access
	is_array(entries)
	some item in judged_items(doc)
	path := item.path
	not has_verdict(entries, path)
	f := lib.finding("ECS-EXEC-003", item.path, concat("", [
		lib.role_label("executionRoleArn", role), ": no permission verdict for ", item.what,
		"; it could not be confirmed that the role can read it",
	]))
}

judged_items(doc) := {item |
	containers := lib.containers(doc)
	some index
	container := containers[index]
	some kind in ["secrets", "environmentFiles"]
	values := object.get(container, kind, [])
	some value_index
	values[value_index]
	item := {
		"path": concat("/", [lib.container_path(index, kind), format_int(value_index, 10)]),
		"what": concat("", [lib.container_label(index, container), "'s ", kind, " entry ", format_int(value_index, 10)]),
	}
} | {item |
	containers := lib.containers(doc)
	some index
	container := containers[index]
	options := object.get(container, ["logConfiguration", "secretOptions"], [])
	some option_index
	options[option_index]
	item := {
		"path": concat("/", [lib.container_path(index, "logConfiguration"), "secretOptions", format_int(option_index, 10)]),
		"what": concat("", [lib.container_label(index, container), "'s log secretOptions entry ", format_int(option_index, 10)]),
	}
} | {item |
	containers := lib.containers(doc)
	some index
	container := containers[index]
	is_object(container.repositoryCredentials)
	item := {
		"path": lib.container_path(index, "repositoryCredentials"),
		"what": concat("", [lib.container_label(index, container), "'s repositoryCredentials"]),
	}
}

# A verdict covers an item when one pointer is the other or lies under it, so the evaluator may
# point at the entry (/secrets/0), its field (/secrets/0/valueFrom) or the list (/secrets).
has_verdict(entries, path) if {
	some entry in entries
	pointer_related(object.get(entry, "path", ""), path)
}

pointer_related(a, b) if a == b

pointer_related(a, b) if startswith(a, concat("", [b, "/"]))

pointer_related(a, b) if startswith(b, concat("", [a, "/"]))

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
