# Hardening: settings that limit what a compromised container can do. Warnings by default
# (catalog.yaml); the image-registry allowlist denies once the platform team configures it.
#
# Written for the embedded engine's cost model (see isolation.rego). Every rule treats an absent
# field as the unsafe default ECS applies: writable root, the image's user, no log driver,
# essential, transit encryption DISABLED.

# METADATA
# title: Hardening
package ecs.checks.hardening

import rego.v1

import data.ecs.lib

# What the functions below report, worked out once; each annotated `findings` rule
# below takes the findings of its own rule id (rego.metadata.rule()).
reported := check_with(input, lib.settings(lib.config))

# METADATA
# title: Container root filesystem is writable
# custom:
#   id: ECS-HARD-001
#   severity: medium
#   enforcement: warn
#   remediation: >-
#     Set "readonlyRootFilesystem": true and mount a volume (or tmpfs) for the paths the application
#     writes.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/bestpracticesguide/security-tasks-containers.html
#   anchors:
#   - Security Hub ECS.5
#   - AWS Config ecs-containers-readonly-access
#   - Checkov CKV_AWS_336
#   - Prowler ecs_task_definitions_containers_readonly_access
#   beyond_anchors: >-
#     The Config rule's wording fails only an explicit false; an absent field (Docker's writable default)
#     fails here, as in Security Hub ECS.5. Windows tasks are not applicable.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Container runs as root
# custom:
#   id: ECS-HARD-002
#   severity: medium
#   enforcement: warn
#   remediation: >-
#     Set "user" to a non-root uid:gid (for example "1000:1000") that owns what the process needs; on
#     Windows, a user other than ContainerAdministrator.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/bestpracticesguide/security-tasks-containers.html
#   anchors:
#   - Security Hub ECS.20
#   - Security Hub ECS.21
#   - AWS Config ecs-task-definition-nonroot-user
#   - AWS Config ecs-task-definition-linux-user-non-root
#   - AWS Config ecs-task-definition-windows-user-non-admin
#   - Prowler ecs_task_definitions_host_networking_mode_users
#   beyond_anchors: >-
#     The nonroot-user Config rule knows only "root", ECS.20 documents "root" and "0", and Prowler does
#     not treat "0" as root; every spelling of uid 0 ("0:0", "root:root", "0:1000", "00") is root here.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Container has no log configuration
# custom:
#   id: ECS-HARD-003
#   severity: low
#   enforcement: warn
#   remediation: Add a logConfiguration with a logDriver (awslogs, or awsfirelens).
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html
#   anchors:
#   - Security Hub ECS.9
#   - AWS Config ecs-task-definition-log-configuration
#   - Prowler ecs_task_definitions_logging_enabled
#   beyond_anchors: >-
#     Parity (every container needs a log driver); the message names the container.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Container has no hard memory limit
# custom:
#   id: ECS-HARD-004
#   severity: low
#   enforcement: warn
#   remediation: Set the container's "memory" (hard limit), or the task-level "memory".
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#container_definition_memory
#   anchors:
#   - AWS Config ecs-task-definition-memory-hard-limit
#   beyond_anchors: >-
#     The Config rule flags every container without its own memory even when the task-level memory (required
#     on Fargate) is the hard limit; either is accepted here, so Fargate tasks are not false positives.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Image is not pinned (no tag, or :latest)
# custom:
#   id: ECS-HARD-005
#   severity: low
#   enforcement: warn
#   remediation: >-
#     Reference the image by digest (repo@sha256:...) or at least by an immutable version tag, and turn
#     on tag immutability in ECR.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/bestpracticesguide/security-tasks-containers.html
#   beyond_anchors: >-
#     No task-definition anchor; AWS's best-practice guide recommends immutable tags. Registry ports
#     (host:5000/repo) are not mistaken for tags, and unrendered placeholders are skipped.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: EFS volume without encryption in transit
# custom:
#   id: ECS-HARD-006
#   severity: medium
#   enforcement: warn
#   remediation: Set efsVolumeConfiguration.transitEncryption to "ENABLED".
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/efs-volumes.html
#   anchors:
#   - Security Hub ECS.18
#   - AWS Config ecs-task-definition-efs-encryption-enabled
#   - Checkov CKV_AWS_97
#   - Trivy AWS-0035
#   - >-
#     KICS 4d46ff3b-7160-41d1-a310-71d6d370b08f / c1282e03-b285-4637-aee7-eefe3a7bb658
#   beyond_anchors: >-
#     Checkov CKV_AWS_97 returns on the first EFS volume, so a second unencrypted one passes; every
#     EFS volume is checked here and an absent transitEncryption counts as DISABLED.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Essential container has no health check
# custom:
#   id: ECS-HARD-007
#   severity: low
#   enforcement: warn
#   remediation: >-
#     Add a healthCheck with a command that fails when the container cannot serve.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#container_definition_healthcheck
#   anchors:
#   - >-
#     KICS d24389b4-b209-4ff0-8345-dc7a4569dcdd (CloudFormation HealthCheck missing)
#   beyond_anchors: >-
#     KICS asks every container for a HealthCheck; here only essential ones, reading an absent `essential`
#     as true (ECS's default) so a missing field does not pass.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

# METADATA
# title: Image from a registry outside the allowlist
# custom:
#   id: ECS-HARD-008
#   severity: high
#   enforcement: deny
#   remediation: >-
#     Pull the image from an allowed registry (config.yaml allowed_registries), for example by mirroring
#     it into your ECR.
#   docs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#container_definition_image
#   beyond_anchors: >-
#     No anchor; inactive until allowed_registries lists at least one pattern.
findings contains finding if {
	some finding in reported
	finding.rule == rego.metadata.rule().custom.id
}

check(doc) := check_with(doc, lib.settings({}))

check_with(doc, settings) := (((writable_root(doc) | root_user(doc)) | (no_logging(doc) | no_memory_limit(doc))) | ((unpinned_image(doc) | efs_plaintext(doc)) | no_health_check(doc))) | registry_not_allowed(doc, settings)

windows(td) := startswith(upper(object.get(object.get(td, "runtimePlatform", {}), "operatingSystemFamily", "LINUX")), "WINDOWS")

# ECS-HARD-001: a writable root filesystem lets an intruder change binaries and persist.
# Not applicable to Windows containers.
writable_root(doc) := {f |
	td := doc.task_definition
	not windows(td)
	some i
	c := td.containerDefinitions[i]
	readonly := object.get(c, "readonlyRootFilesystem", "not set")
	readonly != true
	f := {
		"rule": "ECS-HARD-001",
		"path": concat("", ["/containerDefinitions/", format_int(i, 10), "/readonlyRootFilesystem"]),
		"message": concat("", [
			"container ", object.get(c, "name", concat("", ["#", format_int(i, 10)])),
			" has a writable root filesystem (readonlyRootFilesystem is ", format_value(readonly), ")",
		]),
	}
}

format_value(value) := "false" if value == false else := "not set"

# ECS-HARD-002: root in the container is root on the host the moment anything else is loosened.
# Every spelling of uid 0 counts (root, 0, 0:0, root:root, 0:1000, 00); on Windows the
# administrator account (also what an empty user means there) is the equivalent.
root_user_pattern := `^\s*(root|0+)\s*(:.*)?$`

root_user(doc) := {f |
	td := doc.task_definition
	is_windows := windows(td)
	some i
	c := td.containerDefinitions[i]
	user := object.get(c, "user", "")
	problem := user_problem(user, is_windows)
	f := {
		"rule": "ECS-HARD-002",
		"path": concat("", ["/containerDefinitions/", format_int(i, 10), "/user"]),
		"message": concat("", ["container ", object.get(c, "name", concat("", ["#", format_int(i, 10)])), " ", problem]),
	}
}

user_problem(user, false) := "sets no user, so it runs as the image's user (root unless the image says otherwise)" if {
	user == ""
} else := concat("", ["runs as root (user \"", user, "\")"]) if {
	strings.any_prefix_match(trim_space(user), ["root", "0"])
	regex.match(root_user_pattern, user)
}

user_problem(user, true) := "sets no user, so it runs as ContainerAdministrator" if {
	user == ""
} else := concat("", ["runs as the administrator (user \"", user, "\")"]) if {
	lower(trim_space(user)) in {"containeradministrator", "administrator"}
}

# ECS-HARD-003: without a log driver there is no record of what the container did.
no_logging(doc) := {f |
	some i
	c := doc.task_definition.containerDefinitions[i]
	object.get(object.get(c, "logConfiguration", {}), "logDriver", "") == ""
	f := {
		"rule": "ECS-HARD-003",
		"path": concat("", ["/containerDefinitions/", format_int(i, 10), "/logConfiguration"]),
		"message": concat("", ["container ", object.get(c, "name", concat("", ["#", format_int(i, 10)])), " has no logConfiguration (log driver)"]),
	}
}

# ECS-HARD-004: no hard memory limit for the container nor for the task: one container can starve
# the instance. A task-level memory is a hard limit (and required on Fargate), so it suffices.
no_memory_limit(doc) := {f |
	td := doc.task_definition
	object.get(td, "memory", "") == ""
	some i
	c := td.containerDefinitions[i]
	memory := object.get(c, "memory", null)
	not is_number(memory)
	f := {
		"rule": "ECS-HARD-004",
		"path": concat("", ["/containerDefinitions/", format_int(i, 10), "/memory"]),
		"message": concat("", [
			"container ", object.get(c, "name", concat("", ["#", format_int(i, 10)])),
			" has no hard memory limit (neither the container's memory nor the task's memory is set)",
		]),
	}
}

# ECS-HARD-005: an untagged or :latest image changes under the task without a new revision; a
# digest (@sha256:...) pins exactly what was reviewed. Unrendered placeholders are skipped. The
# tag follows the last ":" after the last "/", so a registry port (host:5000/app) is not a tag.

unpinned_image(doc) := {f |
	some i
	c := doc.task_definition.containerDefinitions[i]
	image := c.image
	is_string(image)
	not contains(image, "@")
	problem := image_problem(image)
	not lib.is_placeholder(image)
	f := {
		"rule": "ECS-HARD-005",
		"path": concat("", ["/containerDefinitions/", format_int(i, 10), "/image"]),
		"message": concat("", [
			"container ", object.get(c, "name", concat("", ["#", format_int(i, 10)])), " uses image ", image, " ", problem,
			": pin a version tag, or better a digest (@sha256:...)",
		]),
	}
}

image_problem(image) := "with the mutable tag :latest" if {
	endswith(image, ":latest")
} else := "without a tag (Docker pulls :latest)" if {
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	not contains(last, ":")
}

# ECS-HARD-006: EFS traffic without TLS can be read on the network. Every EFS volume is checked,
# not just the first; an absent transitEncryption means DISABLED.
efs_plaintext(doc) := {f |
	some v
	volume := doc.task_definition.volumes[v]
	efs := volume.efsVolumeConfiguration
	setting := object.get(efs, "transitEncryption", "not set")
	upper(setting) != "ENABLED"
	f := {
		"rule": "ECS-HARD-006",
		"path": concat("", ["/volumes/", format_int(v, 10), "/efsVolumeConfiguration/transitEncryption"]),
		"message": concat("", [
			"EFS volume ", object.get(volume, "name", "?"), " (", object.get(efs, "fileSystemId", "?"),
			") does not encrypt data in transit (transitEncryption is ", setting, ")",
		]),
	}
}

# ECS-HARD-007: an essential container without a health check is "healthy" while it hangs.
# `essential` defaults to true: only an explicit false exempts a container.
no_health_check(doc) := {f |
	some i
	c := doc.task_definition.containerDefinitions[i]
	object.get(c, "essential", true) != false
	count(object.get(object.get(c, "healthCheck", {}), "command", [])) == 0
	f := {
		"rule": "ECS-HARD-007",
		"path": concat("", ["/containerDefinitions/", format_int(i, 10), "/healthCheck"]),
		"message": concat("", ["container ", object.get(c, "name", concat("", ["#", format_int(i, 10)])), " is essential but has no healthCheck"]),
	}
}

# ECS-HARD-008: images only from the registries the platform team allows (config.yaml
# allowed_registries: glob patterns over the registry host; empty means any registry).
registry_not_allowed(doc, settings) := {f |
	patterns := settings.allowed_registries
	count(patterns) > 0
	some i
	c := doc.task_definition.containerDefinitions[i]
	image := c.image
	is_string(image)
	not lib.is_placeholder(image)
	registry := lib.image_registry(image)
	not registry_allowed(registry, patterns)
	f := {
		"rule": "ECS-HARD-008",
		"path": concat("", ["/containerDefinitions/", format_int(i, 10), "/image"]),
		"message": concat("", [
			"container ", object.get(c, "name", concat("", ["#", format_int(i, 10)])), " pulls ", image,
			" from ", registry, ", which is not in config allowed_registries",
		]),
	}
}

registry_allowed(registry, patterns) if {
	some pattern in patterns
	glob.match(lower(pattern), ["."], registry)
}
