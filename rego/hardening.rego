# Hardening: settings that limit what a compromised container can do. Warnings by default; the
# image-registry allowlist denies once the platform team configures it. Every rule treats an absent
# field as the unsafe default ECS applies: writable root, the image's user, no log driver,
# essential, transit encryption DISABLED.

# METADATA
# title: Hardening
package ecs.checks.hardening

import rego.v1

import data.ecs.lib

# METADATA
# title: Container root filesystem is writable
# description: >-
#   A writable root filesystem lets an intruder change binaries and persist. Not applicable to
#   Windows containers.
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
	not windows
	some i, container in input.task_definition.containerDefinitions
	readonly := object.get(container, "readonlyRootFilesystem", "not set")
	readonly != true
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/containerDefinitions/%d/readonlyRootFilesystem", [i]),
		"message": sprintf(
			"container %s has a writable root filesystem (readonlyRootFilesystem is %s)",
			[lib.container_name(i, container), setting_words(readonly)],
		),
	}
}

# METADATA
# title: Container runs as root
# description: >-
#   Root in the container is root on the host the moment anything else is loosened. Every
#   spelling of uid 0 counts (root, 0, 0:0, root:root, 0:1000, 00); on Windows the administrator
#   account (also what an empty user means there) is the equivalent.
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
	some i, container in input.task_definition.containerDefinitions
	problem := user_problem(object.get(container, "user", ""))
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/containerDefinitions/%d/user", [i]),
		"message": sprintf("container %s %s", [lib.container_name(i, container), problem]),
	}
}

# METADATA
# title: Container has no log configuration
# description: >-
#   Without a log driver there is no record of what the container did.
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
	some i, container in input.task_definition.containerDefinitions
	object.get(object.get(container, "logConfiguration", {}), "logDriver", "") == ""
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/containerDefinitions/%d/logConfiguration", [i]),
		"message": sprintf("container %s has no logConfiguration (log driver)", [lib.container_name(i, container)]),
	}
}

# METADATA
# title: Container has no hard memory limit
# description: >-
#   No hard memory limit for the container nor for the task: one container can starve the
#   instance. A task-level memory is a hard limit (and required on Fargate), so it suffices.
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
	not task_memory
	some i, container in input.task_definition.containerDefinitions
	not is_number(object.get(container, "memory", null))
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/containerDefinitions/%d/memory", [i]),
		"message": sprintf(
			"container %s has no hard memory limit (neither the container's memory nor the task's memory is set)",
			[lib.container_name(i, container)],
		),
	}
}

# METADATA
# title: Image is not pinned (no tag, or :latest)
# description: >-
#   An untagged or :latest image changes under the task without a new revision; a digest
#   (@sha256:...) pins exactly what was reviewed. Unrendered placeholders are skipped. The tag
#   follows the last ":" after the last "/", so a registry port (host:5000/app) is not a tag.
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
	some i, container in input.task_definition.containerDefinitions
	image := container.image
	is_string(image)
	not contains(image, "@")
	problem := image_problem(image)
	not lib.is_placeholder(image)
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/containerDefinitions/%d/image", [i]),
		"message": sprintf(
			"container %s uses image %s %s: pin a version tag, or better a digest (@sha256:...)",
			[lib.container_name(i, container), image, problem],
		),
	}
}

# METADATA
# title: EFS volume without encryption in transit
# description: >-
#   EFS traffic without TLS can be read on the network. Every EFS volume is checked, not just
#   the first; an absent transitEncryption means DISABLED.
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
	some v, volume in input.task_definition.volumes
	efs := volume.efsVolumeConfiguration
	setting := object.get(efs, "transitEncryption", "not set")
	upper(setting) != "ENABLED"
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/volumes/%d/efsVolumeConfiguration/transitEncryption", [v]),
		"message": sprintf(
			"EFS volume %s (%s) does not encrypt data in transit (transitEncryption is %s)",
			[object.get(volume, "name", "?"), object.get(efs, "fileSystemId", "?"), setting],
		),
	}
}

# METADATA
# title: Essential container has no health check
# description: >-
#   An essential container without a health check is "healthy" while it hangs. `essential`
#   defaults to true: only an explicit false exempts a container.
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
	some i, container in input.task_definition.containerDefinitions
	object.get(container, "essential", true) != false
	count(object.get(object.get(container, "healthCheck", {}), "command", [])) == 0
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/containerDefinitions/%d/healthCheck", [i]),
		"message": sprintf("container %s is essential but has no healthCheck", [lib.container_name(i, container)]),
	}
}

# METADATA
# title: Image from a registry outside the allowlist
# description: >-
#   Images only from the registries the platform team allows (config.yaml allowed_registries:
#   glob patterns over the registry host; empty means any registry).
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
	count(allowed_registries) > 0
	some i, container in input.task_definition.containerDefinitions
	image := container.image
	is_string(image)
	not lib.is_placeholder(image)
	registry := lib.image_registry(image)
	not registry_allowed(registry)
	finding := {
		"rule": rego.metadata.rule().custom.id,
		"path": sprintf("/containerDefinitions/%d/image", [i]),
		"message": sprintf(
			"container %s pulls %s from %s, which is not in config allowed_registries",
			[lib.container_name(i, container), image, registry],
		),
	}
}

windows if startswith(upper(input.task_definition.runtimePlatform.operatingSystemFamily), "WINDOWS")

# A task-level memory (any value but "") is a hard limit for every container.
task_memory if input.task_definition.memory != ""

setting_words(false) := "false"

setting_words(value) := "not set" if value != false

# Every spelling of uid 0: root, 0, 0:0, root:root, 0:1000, 00.
root_user_pattern := `^\s*(root|0+)\s*(:.*)?$`

user_problem(user) := linux_user_problem(user) if not windows

user_problem(user) := windows_user_problem(user) if windows

linux_user_problem("") := "sets no user, so it runs as the image's user (root unless the image says otherwise)"

linux_user_problem(user) := sprintf("runs as root (user \"%s\")", [user]) if {
	user != ""
	regex.match(root_user_pattern, user)
}

windows_user_problem("") := "sets no user, so it runs as ContainerAdministrator"

windows_user_problem(user) := sprintf("runs as the administrator (user \"%s\")", [user]) if {
	lower(trim_space(user)) in {"containeradministrator", "administrator"}
}

image_problem(image) := "with the mutable tag :latest" if {
	endswith(image, ":latest")
} else := "without a tag (Docker pulls :latest)" if {
	# No ":" in the last path component, where the tag is (a registry port sits in the first):
	# one regex, not a split of the reference.
	not regex.match(`:[^/]*$`, image)
}

allowed_registries := object.get(lib.config, "allowed_registries", [])

registry_allowed(registry) if {
	some pattern in allowed_registries
	glob.match(lower(pattern), ["."], registry)
}
