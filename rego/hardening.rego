# Hardening: settings that limit what a compromised container can do. Warnings by default
# (catalog.yaml); the image-registry allowlist denies once the platform team configures it.
package ecs.checks.hardening

import rego.v1

import data.ecs.lib

findings := check_with(input, lib.settings(lib.config))

check(doc) := check_with(doc, lib.settings({}))

check_with(doc, settings) := ((((writable_root(doc) | root_user(doc)) | no_logging(doc)) | no_memory_limit(doc)) | (unpinned_image(doc) | efs_plaintext(doc))) | (no_health_check(doc) | registry_not_allowed(doc, settings))

# Per container: {index, container} for the container definitions of the task.
container_entries(doc) := [{"index": index, "container": container} |
	containers := lib.containers(doc)
	some index
	container := containers[index]
]

# ECS-HARD-001: a writable root filesystem lets an intruder change binaries and persist.
# Absent counts as writable (Docker's default). Not applicable to Windows containers.
writable_root(doc) := {f |
	not lib.is_windows(doc)
	some entry in container_entries(doc)
	not entry.container.readonlyRootFilesystem == true
	f := lib.finding("ECS-HARD-001", lib.container_path(entry.index, "readonlyRootFilesystem"), concat("", [
		lib.container_label(entry.index, entry.container), " has a writable root filesystem (",
		present_or_absent(entry.container, "readonlyRootFilesystem"), ")",
	]))
}

present_or_absent(container, field) := concat("", [field, " is false"]) if {
	object.get(container, field, null) == false
} else := concat("", [field, " is not set"])

# ECS-HARD-002: root in the container is root on the host the moment anything else is loosened.
# Every spelling of uid 0 counts (root, 0, 0:0, root:root, 0:1000, 00). On Windows the
# administrator account is the equivalent.
root_user(doc) := {f |
	not lib.is_windows(doc)
	some entry in container_entries(doc)
	problem := linux_user_problem(entry.container)
	f := lib.finding("ECS-HARD-002", lib.container_path(entry.index, "user"), concat("", [
		lib.container_label(entry.index, entry.container), " ", problem,
	]))
} | {f |
	lib.is_windows(doc)
	some entry in container_entries(doc)
	problem := windows_user_problem(entry.container)
	f := lib.finding("ECS-HARD-002", lib.container_path(entry.index, "user"), concat("", [
		lib.container_label(entry.index, entry.container), " ", problem,
	]))
}

linux_user_problem(container) := "sets no user, so it runs as the image's user (root unless the image says otherwise)" if {
	user := object.get(container, "user", "")
	not lib.non_empty_string(user)
} else := concat("", ["runs as root (user \"", container.user, "\")"]) if {
	regex.match(`^\s*(root|0+)\s*(:.*)?$`, container.user)
}

windows_user_problem(container) := "sets no user, so it runs as ContainerAdministrator" if {
	user := object.get(container, "user", "")
	not lib.non_empty_string(user)
} else := concat("", ["runs as the administrator (user \"", container.user, "\")"]) if {
	lower(trim_space(container.user)) in {"containeradministrator", "administrator"}
}

# ECS-HARD-003: without a log driver there is no record of what the container did.
no_logging(doc) := {f |
	some entry in container_entries(doc)
	container := entry.container
	driver := object.get(container, ["logConfiguration", "logDriver"], "")
	not lib.non_empty_string(driver)
	f := lib.finding("ECS-HARD-003", lib.container_path(entry.index, "logConfiguration"), concat("", [
		lib.container_label(entry.index, entry.container), " has no logConfiguration (log driver)",
	]))
}

# ECS-HARD-004: no hard memory limit for the container nor for the task: one container can starve
# the instance. A task-level memory is a hard limit (and required on Fargate), so it suffices.
no_memory_limit(doc) := {f |
	not task_memory_limit(doc)
	some entry in container_entries(doc)
	memory := object.get(entry.container, "memory", null)
	not is_number(memory)
	f := lib.finding("ECS-HARD-004", lib.container_path(entry.index, "memory"), concat("", [
		lib.container_label(entry.index, entry.container),
		" has no hard memory limit (neither the container's memory nor the task's memory is set)",
	]))
}

task_memory_limit(doc) if is_number(lib.task_definition(doc).memory)

task_memory_limit(doc) if lib.non_empty_string(lib.task_definition(doc).memory)

# ECS-HARD-005: an untagged or :latest image changes under the task without a new revision;
# a digest (@sha256:…) pins exactly what was reviewed. Unrendered placeholders are skipped.
unpinned_image(doc) := {f |
	some entry in container_entries(doc)
	image := entry.container.image
	is_string(image)
	not templated(image)
	problem := image_problem(image)
	f := lib.finding("ECS-HARD-005", lib.container_path(entry.index, "image"), concat("", [
		lib.container_label(entry.index, entry.container), " uses image ", image, " ", problem,
		": pin a version tag, or better a digest (@sha256:…)",
	]))
}

templated(image) if lib.is_placeholder(image)

templated(image) if contains(image, "${")

templated(image) if contains(image, "{{")

image_problem(image) := "without a tag (Docker pulls :latest)" if {
	not contains(image, "@")
	not image_tag(image)
} else := "with the mutable tag :latest" if {
	not contains(image, "@")
	image_tag(image) == "latest"
}

# The tag is what follows the last ":" of the last path component (a registry port is earlier).
image_tag(image) := tag if {
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	pieces := split(last, ":")
	tag := pieces[count(pieces) - 1]
}

# ECS-HARD-006: EFS traffic without TLS can be read on the network. Every EFS volume is checked,
# not just the first; absent transitEncryption means DISABLED.
efs_plaintext(doc) := {f |
	vols := lib.volumes(doc)
	some vol_index
	volume := vols[vol_index]
	efs := volume.efsVolumeConfiguration
	is_object(efs)
	not upper(object.get(efs, "transitEncryption", "DISABLED")) == "ENABLED"
	f := lib.finding(
		"ECS-HARD-006",
		concat("/", ["", "volumes", format_int(vol_index, 10), "efsVolumeConfiguration", "transitEncryption"]),
		concat("", [
			"EFS volume ", object.get(volume, "name", "?"), " (", object.get(efs, "fileSystemId", "?"),
			") does not encrypt data in transit (transitEncryption is ", object.get(efs, "transitEncryption", "not set"), ")",
		]),
	)
}

# ECS-HARD-007: an essential container without a health check is "healthy" while it hangs.
# `essential` defaults to true: only an explicit false exempts a container.
no_health_check(doc) := {f |
	some entry in container_entries(doc)
	not entry.container.essential == false
	count(object.get(entry.container, ["healthCheck", "command"], [])) == 0
	f := lib.finding("ECS-HARD-007", lib.container_path(entry.index, "healthCheck"), concat("", [
		lib.container_label(entry.index, entry.container), " is essential but has no healthCheck",
	]))
}

# ECS-HARD-008: images only from the registries the platform team allows (config.yaml
# allowed_registries: glob patterns over the registry host; empty means any registry).
registry_not_allowed(doc, settings) := {f |
	count(settings.allowed_registries) > 0
	some entry in container_entries(doc)
	image := entry.container.image
	is_string(image)
	not templated(image)
	registry := lib.image_registry(image)
	patterns := settings.allowed_registries
	not registry_allowed(registry, patterns)
	f := lib.finding("ECS-HARD-008", lib.container_path(entry.index, "image"), concat("", [
		lib.container_label(entry.index, entry.container), " pulls ", image, " from ", registry,
		", which is not in config allowed_registries",
	]))
}

registry_allowed(registry, patterns) if {
	some pattern in patterns
	glob.match(lower(pattern), ["."], registry)
}
